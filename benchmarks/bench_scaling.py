"""How stylizing scales with the image side, and how the model file scales with the number of styles.

    python benchmarks/bench_scaling.py            # the full run (about 5 minutes on 2 busy cores)
    python benchmarks/bench_scaling.py --quick    # small sizes, 1 repetition: a smoke test

1. Latency and peak memory against the image side (256, 512, 1024, 2048 px square,
   batch 1, alpha 1.0, one style): each size runs in its own subprocess, which
   stylizes with `style_transfer.painting.stylize.run_network` (1 warm-up call, then timed
   calls) and reports its peak resident memory (`VmHWM`). A subprocess that
   stylizes a 16 px image gives the memory of the process itself. The log-log
   slope of time against pixels is fitted by least squares: 1 means linear in
   pixels.
2. Model size against the number of styles (1, 10, 100, 1000): parameters
   (`count_params`) and `.keras` file bytes of a `StyleTransferNetwork`, the
   per-style cost (least-squares slope, bytes per style), against one
   single-style network per style (N x the 1-style file).

Prints markdown tables and writes RESULTS_DIR/scaling.json and
RESULTS_DIR/scaling_latency.png, RESULTS_DIR/scaling_model_size.png.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from benchmarks import preamble  # noqa: E402

RESULT_PREFIX = "RESULT "
BASELINE_SIDE_PX = 16

FULL = {"sides_px": (256, 512, 1024, 2048), "repetitions": {256: 5, 512: 3, 1024: 2, 2048: 1},
        "style_counts": (1, 10, 100, 1000)}
QUICK = {"sides_px": (32, 64), "repetitions": {32: 1, 64: 1}, "style_counts": (1, 10)}


def run_worker(side_px, repetitions):
    """Stylizes one random side x side photo; prints the times and this process's peak RSS."""
    from benchmarks.bench_stylize import random_model
    from style_transfer.painting.stylize import run_network

    model = random_model(1)
    photo = np.random.default_rng(0).random((1, side_px, side_px, 3), dtype=np.float32)
    weights = np.ones((1, 1), np.float32)
    run_network(model, photo, weights)  # warm-up: traces and compiles
    times_ms = []
    for _ in range(repetitions):
        start = time.perf_counter()
        run_network(model, photo, weights)
        times_ms.append((time.perf_counter() - start) * 1e3)
    from benchmarks.machine import peak_rss_mib

    peak_mib = peak_rss_mib()
    print(RESULT_PREFIX + json.dumps({"side_px": side_px, "times_ms": times_ms,
                                      "peak_rss_mib": peak_mib}), flush=True)


def measure_side(side_px, repetitions):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-side", str(side_px),
               "--repetitions", str(repetitions)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=preamble.REPOSITORY)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise RuntimeError(f"the {side_px} px worker exited with code {completed.returncode}.")
    line = next(line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX))
    return json.loads(line[len(RESULT_PREFIX):])


def log_log_slope(x, y):
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def run_latency(config, results, results_dir):
    from benchmarks.timing import summarize

    baseline = measure_side(BASELINE_SIDE_PX, 1)
    rows = []
    for side in config["sides_px"]:
        record = measure_side(side, config["repetitions"][side])
        stats = summarize(record["times_ms"])
        rows.append({"side_px": side, "pixels": side * side, **stats,
                     "peak_rss_mib": record["peak_rss_mib"]})
        print(f"(measured {side} px: {stats['median_ms']:.0f} ms, load average "
              f"{os.getloadavg()[0]:.2f})", flush=True)
    pixels = [row["pixels"] for row in rows]
    slope, intercept = log_log_slope(pixels, [row["median_ms"] for row in rows])
    memory_slope, _ = log_log_slope(
        pixels, [max(row["peak_rss_mib"] - baseline["peak_rss_mib"], 1e-3) for row in rows])
    print("\n### Stylize latency and peak memory against image side (batch 1, alpha 1.0)\n")
    print(f"1 warm-up call, then the repetitions shown, each size in its own subprocess; "
          f"peak RSS is the subprocess's `VmHWM`. A subprocess stylizing a "
          f"{BASELINE_SIDE_PX} px image peaks at {baseline['peak_rss_mib']:.0f} MiB "
          f"(the process and the network alone).\n")
    print("| side px | megapixels | repetitions | ms (median) | min-max ms | ns per pixel | "
          "peak RSS MiB | above baseline MiB |")
    print("| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['side_px']} | {row['pixels'] / 1e6:.3f} | {row['repetitions']} | "
              f"{row['median_ms']:.0f} | {row['min_ms']:.0f}-{row['max_ms']:.0f} | "
              f"{row['median_ms'] * 1e6 / row['pixels']:.0f} | {row['peak_rss_mib']:.0f} | "
              f"{row['peak_rss_mib'] - baseline['peak_rss_mib']:.0f} |")
    print(f"\nLog-log slope of time against pixels: **{slope:.3f}** (1 = linear in pixels); "
          f"of memory above baseline against pixels: **{memory_slope:.3f}**.")
    results["latency"] = {"rows": rows, "baseline_peak_rss_mib": baseline["peak_rss_mib"],
                          "slope": slope, "memory_slope": memory_slope}
    plot_latency(rows, baseline["peak_rss_mib"], slope, intercept,
                 results_dir / "scaling_latency.png")


def plot_latency(rows, baseline_mib, slope, intercept, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pixels = np.array([row["pixels"] for row in rows], float)
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    time_axis.errorbar(
        pixels, [row["median_ms"] for row in rows],
        yerr=[[row["median_ms"] - row["min_ms"] for row in rows],
              [row["max_ms"] - row["median_ms"] for row in rows]],
        fmt="o", capsize=3, label="median (min-max)")
    time_axis.plot(pixels, np.exp(intercept) * pixels ** slope, "--",
                   label=f"fit: time ~ pixels^{slope:.2f}")
    time_axis.set(xscale="log", yscale="log", xlabel="pixels (side^2)", ylabel="ms per image",
                  title="stylize latency, batch 1, alpha 1.0")
    time_axis.legend()
    memory_axis.plot(pixels, [row["peak_rss_mib"] for row in rows], "o-", label="peak RSS")
    memory_axis.axhline(baseline_mib, color="grey", linestyle=":",
                        label=f"{BASELINE_SIDE_PX} px process")
    memory_axis.set(xscale="log", yscale="log", xlabel="pixels (side^2)", ylabel="MiB",
                    title="peak resident memory (one subprocess per size)")
    memory_axis.legend()
    for axis in (time_axis, memory_axis):
        axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    preamble.save_figure(figure, path)


def run_model_size(config, results, results_dir):
    from style_transfer.models.network import StyleTransferNetwork
    from style_transfer.models.saving import save_model

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for num_styles in config["style_counts"]:
            model = StyleTransferNetwork(num_styles, alpha=1.0)
            model.build()
            path = Path(folder) / f"styles_{num_styles}.keras"
            save_model(model, path)
            rows.append({"num_styles": num_styles, "parameters": model.count_params(),
                         "file_bytes": path.stat().st_size})
    counts = np.array([row["num_styles"] for row in rows], float)
    bytes_per_style, fixed_bytes = np.polyfit(counts, [row["file_bytes"] for row in rows], 1)
    params_per_style, fixed_params = np.polyfit(counts, [row["parameters"] for row in rows], 1)
    single = rows[0]["file_bytes"] if rows[0]["num_styles"] == 1 else None
    print("\n### Model size against the number of styles (alpha 1.0)\n")
    print("`.keras` files written by `style_transfer.models.saving.save_model`; the alternative is "
          "one single-style network per style (N x the 1-style file).\n")
    print("| styles N | parameters | file bytes | N single-style files, bytes | "
          "multi / N singles |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        separate = row["num_styles"] * single if single else float("nan")
        print(f"| {row['num_styles']} | {row['parameters']:,} | {row['file_bytes']:,} | "
              f"{separate:,.0f} | {row['file_bytes'] / separate:.4f} |")
    print(f"\nPer style (least-squares slope): **{params_per_style:,.1f} parameters**, "
          f"**{bytes_per_style:,.0f} bytes** ({bytes_per_style / 1024:.1f} KiB); shared: "
          f"{fixed_params:,.0f} parameters, {fixed_bytes / 2**20:.2f} MiB. "
          + (f"One single-style file: {single / 2**20:.2f} MiB, so a style costs "
             f"{bytes_per_style / single:.2%} of a network of its own." if single else ""))
    results["model_size"] = {"rows": rows, "bytes_per_style": bytes_per_style,
                             "parameters_per_style": params_per_style}
    plot_model_size(rows, single, results_dir / "scaling_model_size.png")


def plot_model_size(rows, single_bytes, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array([row["num_styles"] for row in rows], float)
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    axis.plot(counts, [row["file_bytes"] / 2**20 for row in rows], "o-",
              label="one network, N styles")
    axis.plot(counts, counts * single_bytes / 2**20, "s--", label="N single-style networks")
    axis.set(xscale="log", yscale="log", xlabel="number of styles N", ylabel="MiB on disk",
             title=".keras file size, alpha 1.0")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    preamble.save_figure(figure, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repetition")
    preamble.add_results_dir_argument(parser, "scaling.json and the plots")
    parser.add_argument("--worker-side", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repetitions", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_side:
        run_worker(args.worker_side, args.repetitions)
        return 0
    from benchmarks.machine import print_machine

    config = QUICK if args.quick else FULL
    results_dir = preamble.results_folder(args)
    print_machine("machine (scaling benchmark)")
    print("- weights: random (the speed and size do not depend on them)")
    results = {}
    run_latency(config, results, results_dir)
    run_model_size(config, results, results_dir)
    preamble.write_json(results_dir / "scaling.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
