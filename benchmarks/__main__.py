"""Reproduce every figure in BENCHMARKS.md with one command.

    python -m benchmarks                      # every section (a few hours on 2 CPU cores)
    python -m benchmarks --quick              # every section's smoke test (a few minutes)
    python -m benchmarks --only training,scaling
    python -m benchmarks --list

Each section is one benchmark script, run as a subprocess with its own flags
(`--quick` and `--data-dir` passed through). Its printed tables go to the terminal and to
RESULTS_DIR/SECTION.md; the scripts that draw plots write them to RESULTS_DIR
too. The default RESULTS_DIR is benchmarks/results/ for a full run (the files
BENCHMARKS.md refers to) and a fresh temporary folder with --quick, so a smoke
test never overwrites the figures. A final table gives each section's exit
status, run time and the load average around it: compare figures only between
runs on an otherwise idle machine.
"""

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCHMARKS_DIR.parent

from style_transfer.base.files import atomic_write  # noqa: E402  (run from the checkout)


@dataclasses.dataclass(frozen=True)
class Section:
    """One section of BENCHMARKS.md and the script that reproduces it."""

    name: str
    script: str
    description: str
    takes_results_dir: bool = False
    takes_data_dir: bool = False


SECTIONS = (
    Section("layers", "bench_layers.py",
            "cbn layers against Keras BN / GN / LN / RMS, TF, JAX and PyTorch", True),
    Section("peers", "bench_peers.py",
            "cbn adaptive norms against diffusers' (PyTorch) and keras-hub's (TF, JAX)", True),
    Section("stylize", "bench_stylize.py", "stylize latency and memory against PyTorch"),
    Section("training", "bench_training.py",
            "training step against PyTorch, options, conditioning, input pipeline", True, True),
    Section("scaling", "bench_scaling.py",
            "latency and memory against image side, model size against styles", True),
    Section("fidelity", "bench_fidelity.py",
            "N-style against single-style networks, blends, BN on digits", True, True),
    Section("add_style", "bench_add_style.py", "appending a style against training anew", True,
            True),
    Section("arbitrary", "bench_arbitrary.py", "arbitrary-style model on unseen styles",
            takes_data_dir=True),
    Section("pretrained", "bench_pretrained.py",
            "imported android-26 network against onnxruntime: agreement and latency", True),
    Section("runtimes", "bench_runtimes.py",
            "the default stylize path, TensorFlow, onnxruntime and LiteRT exports against "
            "onnxruntime on the source ONNX file; sizes, PSNR, roofline (a quiet machine)",
            True),
    Section("cli", "bench_cli.py", "command-line start-up against the eager one", True),
    Section("video", "bench_video.py",
            "video flicker, deviation and frames per second of the stabilization candidates",
            True, True),
    Section("web", "bench_web.py", "the web page: server start-up and preview latency", True),
    Section("web_libraries", "bench_web_libraries.py",
            "Gradio against Starlette: what each installs, how fast each starts (pip installs "
            "both into temporary environments)", True),
    Section("distribute", "bench_distribute.py",
            "2 logical CPUs and mixed precision against one device in float32", True, True),
)


def run_section(section, quick, results_dir, data_dir):
    """Runs one script, echoing and saving its standard output; returns (exit code, seconds)."""
    command = [sys.executable, str(BENCHMARKS_DIR / section.script)]
    if quick:
        command.append("--quick")
    if section.takes_results_dir:
        command += ["--results-dir", str(results_dir)]
    if section.takes_data_dir and data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    print(f"\n# {section.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    with atomic_write(results_dir / f"{section.name}.md", "w") as record:
        record.write(f"<!-- {' '.join(['python'] + [_shown(part) for part in command[1:]])} -->\n")
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, text=True,
                                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            record.write(line)
        process.wait()
    return process.returncode, time.perf_counter() - started


def _shown(argument):
    """A path inside the checkout as the reader's checkout has it (relative); else as given."""
    try:
        return str(Path(argument).resolve().relative_to(REPOSITORY))
    except ValueError:
        return argument


def parse_sections(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {section.name: section for section in SECTIONS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section {unknown[0]!r}; choose from {', '.join(known)}.")
    return [known[name] for name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="every script's smoke test (tiny sizes, 1 repetition)")
    parser.add_argument("--only", type=parse_sections, default=None, metavar="SECTION[,...]",
                        help="run these sections only (see --list)")
    parser.add_argument("--results-dir", default=None,
                        help="where tables and plots go (default: benchmarks/results, or a "
                             "temporary folder with --quick)")
    parser.add_argument("--data-dir", default=None,
                        help="folder of the test images, with content/ and styles/ (default: "
                        "../shared/data beside the checkout)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    args = parser.parse_args(argv)
    if args.list:
        for section in SECTIONS:
            print(f"{section.name:10} benchmarks/{section.script:22} {section.description}")
        return 0
    if args.results_dir:
        results_dir = Path(args.results_dir)
    elif args.quick:
        results_dir = Path(tempfile.mkdtemp(prefix="benchmarks-quick-"))
    else:
        results_dir = BENCHMARKS_DIR / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    sections = args.only or list(SECTIONS)

    rows = []
    for section in sections:
        if not (BENCHMARKS_DIR / section.script).is_file():
            print(f"\n# {section.name}: benchmarks/{section.script} is missing", file=sys.stderr)
            rows.append((section.name, "missing", 0.0, "", ""))
            continue
        load_before = os.getloadavg()[0]
        code, seconds = run_section(section, args.quick, results_dir, args.data_dir)
        rows.append((section.name, "ok" if code == 0 else f"exit {code}", seconds,
                     f"{load_before:.2f}", f"{os.getloadavg()[0]:.2f}"))

    print(f"\n# Summary ({'--quick, ' if args.quick else ''}results in {results_dir})\n")
    print("| section | status | minutes | load average before | after |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, status, seconds, before, after in rows:
        print(f"| {name} | {status} | {seconds / 60:.1f} | {before} | {after} |")
    print(f"| all | | {sum(row[2] for row in rows) / 60:.1f} | | |")
    return 0 if all(row[1] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
