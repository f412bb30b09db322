"""Command-line start-up: time, peak memory and log lines of --help and an argument error.

Each command line runs in a fresh process, for this checkout and for an earlier
one (`--before GIT_REF`, default `3f512a7`: the command line before it was made
lazy), interleaved round by round so that both see the same machine state. A
process reports whether it imported TensorFlow; its peak resident memory comes
from `os.wait4`, its time is the wall-clock time of the whole process (Python's
start included). Prints a table; writes the raw numbers to RESULTS_DIR/cli.json.

    python benchmarks/bench_cli.py [--rounds 7] [--before REF]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import preamble  # noqa: E402

DEFAULT_BEFORE = "3f512a7"
COMMAND_LINES = (
    ("--help",),
    ("stylize", "--help"),
    ("export", "--help"),
    ("stylize", "--max-size", "x"),  # an argument error
)
# Runs `style-transfer ARGS` from the checkout on sys.path[0]; writes to the file named by
# $CLI_REPORT whether TensorFlow was imported.
_RUN = """
import json, os, sys
sys.path.insert(0, os.environ["CLI_CHECKOUT"])
from style_transfer.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
with open(os.environ["CLI_REPORT"], "w") as report:
    json.dump({"tensorflow": "tensorflow" in sys.modules}, report)
"""


def run_once(checkout, argv, report):
    """(seconds, peak RSS MiB, lines on the standard error, imported TensorFlow)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TF_CPP", "KERAS_BACKEND"))}
    env.update(CLI_CHECKOUT=str(checkout), CLI_REPORT=str(report))
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", _RUN, *argv], env=env, cwd=checkout,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    _, _, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = 0  # Reaped by wait4 already.
    lines = len([line for line in stderr.splitlines() if line.strip()])
    return seconds, usage.ru_maxrss / 1024, lines, json.loads(report.read_text())["tensorflow"]


def export_checkout(ref, folder):
    """The files of git commit `ref` in `folder` (git archive; the working tree is untouched)."""
    archive = subprocess.run(["git", "archive", ref], cwd=preamble.REPOSITORY,
                             capture_output=True, check=True).stdout
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each command line")
    parser.add_argument("--before", default=DEFAULT_BEFORE, metavar="GIT_REF",
                        help="the earlier checkout to compare with")
    preamble.add_results_dir_argument(parser, "cli.json")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds

    from benchmarks.machine import print_machine

    print_machine("machine (command-line start-up)")
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as work:
        work = Path(work)
        checkouts = {f"before ({args.before})": export_checkout(args.before, work / "before"),
                     "after (this checkout)": preamble.REPOSITORY}
        samples = {(name, argv): [] for name in checkouts for argv in COMMAND_LINES}
        for _ in range(rounds):
            for argv in COMMAND_LINES:
                for name, checkout in checkouts.items():
                    samples[name, argv].append(run_once(checkout, argv, work / "report.json"))

    print(f"\n### `style-transfer ...` in a fresh process (median of {rounds} runs)\n")
    print("| command line | checkout | seconds | peak RSS MiB | stderr lines | "
          "imports TensorFlow |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for (name, argv), runs in samples.items():
        seconds, memory, lines, tensorflow = zip(*runs)
        print(f"| `{' '.join(argv)}` | {name} | {statistics.median(seconds):.2f} | "
              f"{statistics.median(memory):.0f} | {max(lines)} | "
              f"{'yes' if any(tensorflow) else 'no'} |")
    preamble.write_json(preamble.results_folder(args) / "cli.json",
                        {f"{name}: {' '.join(argv)}": runs
                         for (name, argv), runs in samples.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
