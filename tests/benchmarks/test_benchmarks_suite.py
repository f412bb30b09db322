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


def test_list_names_every_section_and_its_script():
    completed = run_suite("--list")
    assert completed.returncode == 0, completed.stderr
    for section, script in (("layers", "bench_layers.py"), ("stylize", "bench_stylize.py"),
                            ("training", "bench_training.py"), ("scaling", "bench_scaling.py"),
                            ("fidelity", "bench_fidelity.py"),
                            ("add_style", "bench_add_style.py"),
                            ("arbitrary", "bench_arbitrary.py"),
                            ("pretrained", "bench_pretrained.py"), ("cli", "bench_cli.py"),
                            ("video", "bench_video.py"),
                            ("video_speed", "bench_video_speed.py"), ("web", "bench_web.py"),
                            ("web_libraries", "bench_web_libraries.py"),
                            ("distribute", "bench_distribute.py")):
        assert any(line.split()[:2] == [section, f"benchmarks/{script}"]
                   for line in completed.stdout.splitlines()), (section, completed.stdout)


def test_an_unknown_section_is_refused_with_the_known_ones():
    completed = run_suite("--only", "nonsense")
    assert completed.returncode == 2
    assert "unknown section 'nonsense'" in completed.stderr
    assert "training" in completed.stderr


@pytest.mark.parametrize("script, writes_results", [
    ("bench_training.py", True), ("bench_fidelity.py", True), ("bench_add_style.py", True),
    ("bench_arbitrary.py", False), ("bench_video.py", True), ("bench_video_speed.py", True)])
def test_a_data_dir_without_the_test_images_is_refused_in_one_line(script, writes_results,
                                                                   tmp_path):
    results = ["--results-dir", str(tmp_path / "results")] if writes_results else []
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / script), "--quick",
         "--data-dir", str(tmp_path), *results],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert f"--data-dir {tmp_path} has no folder content/" in completed.stderr
