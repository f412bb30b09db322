"""`python -m benchmarks` runs the benchmark scripts end to end (--quick: no timing is checked)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

# The tables each of this suite's scripts prints, by their header rows.
EXPECTED_HEADERS = {
    "training": (
        "| step | batch | s per step (median) |",
        "| option | s per step (median) |",
        "| styles N | s per step (median) |",
        "| source | batches per s |",
    ),
    "scaling": (
        "| side px | megapixels | repetitions | ms (median) |",
        "| styles N | parameters | file bytes |",
    ),
    "fidelity": (
        "| style | photo unchanged: style | 4-style: style |",
        "| w | style loss vs",
        "| network | iterations to 95% training accuracy",
    ),
    "video": (
        "| method | warping error | vs frame by frame | deviation | deviation, fixed grid |",
    ),
    "video_speed": (
        "| stage | ms per frame (wall) | CPU ms per frame |",
        "| candidate | fps (median) | of the network alone |",
    ),
    "web": (
        "| from process start to first answer |",
        "| request | ms (median) | q1 - q3 | min | repetitions |",
        "| frame size | frames | seconds | fps | latency ms (median) |",
    ),
}


def run_suite(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        capture_output=True, text=True, timeout=1800, cwd=REPOSITORY,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    results_dir = tmp_path_factory.mktemp("results")
    completed = run_suite("--quick", "--only", ",".join(EXPECTED_HEADERS),
                          "--results-dir", str(results_dir))
    return completed, results_dir


def test_quick_suite_exits_cleanly_and_reports_every_section(quick_run):
    completed, _ = quick_run
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    for section in EXPECTED_HEADERS:
        assert f"| {section} | ok |" in completed.stdout, completed.stdout[-3000:]


@pytest.mark.parametrize("section", sorted(EXPECTED_HEADERS))
def test_quick_suite_prints_and_saves_each_sections_tables(quick_run, section):
    completed, results_dir = quick_run
    saved = (results_dir / f"{section}.md").read_text()
    for header in EXPECTED_HEADERS[section]:
        assert header in completed.stdout, (header, completed.stdout[-3000:])
        assert header in saved, (header, saved[-3000:])
    assert "load average" in saved


def test_quick_suite_draws_the_plots(quick_run):
    _, results_dir = quick_run
    for name in ("scaling_latency.png", "scaling_model_size.png", "fidelity_blend.png",
                 "fidelity_bn_digits.png"):
        assert (results_dir / name).stat().st_size > 0, name
