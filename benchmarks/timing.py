"""Timing helpers shared by the benchmarks: warm up, time in interleaved rounds, summarize."""

import time

import numpy as np


def time_interleaved(steps, repetitions, warmup):
    """Wall-clock milliseconds of each step, `repetitions` samples per step.

    The steps run in rounds (one call of each per round) rather than one after
    the other, so that a slow phase of the machine (another process, clock
    throttling) is shared by every step instead of falling on one of them.

    Args:
        steps: Dict of name -> callable that runs one step and returns only
            once the result is computed (blocks on asynchronous backends).
        repetitions: Timed calls of each step.
        warmup: Untimed calls of each step first (compilation, caches).

    Returns:
        Dict of name -> list of `repetitions` times in milliseconds.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples_ms = {name: [] for name in steps}
    for _ in range(repetitions):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            samples_ms[name].append((time.perf_counter() - start) * 1e3)
    return samples_ms


def summarize(samples_ms):
    """Median, quartiles and extremes of a list of times (milliseconds)."""
    q1, median, q3 = np.percentile(samples_ms, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "min_ms": float(np.min(samples_ms)),
        "max_ms": float(np.max(samples_ms)),
        "repetitions": len(samples_ms),
    }


def add_timing_arguments(parser, backends, repetitions, warmup, quick_repetitions,
                         quick_warmup, results_file):
    """The options every interleaved-timing benchmark of layers takes: --quick, --backends,
    --repetitions, --warmup and --results-dir (writing RESULTS_DIR/`results_file`)."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes and few repetitions (a smoke test, not a measurement)")
    parser.add_argument("--backends", default=",".join(backends),
                        help=f"comma-separated Keras backends (default {','.join(backends)})")
    parser.add_argument("--repetitions", type=int, default=None,
                        help=f"timed steps per layer (default {repetitions}; --quick: "
                             f"{quick_repetitions})")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"untimed steps first (default {warmup}; --quick: {quick_warmup})")
    parser.add_argument("--results-dir", default=None,
                        help=f"also write every timed sample to RESULTS_DIR/{results_file}")
