"""The benchmarks' command line: sections listed and checked, a machine refused as too loaded, a
--data-dir without the test images refused (the benchmarks' quick runs themselves are
benchmarks/tests: `python -m pytest benchmarks/tests`, about ten minutes)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def run_suite(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY,
    )


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
    ("bench_training", True), ("bench_fidelity", True), ("bench_add_style", True),
    ("bench_arbitrary", False), ("bench_video", True), ("bench_video_speed", True)])
def test_a_data_dir_without_the_test_images_is_refused_in_one_line(script, writes_results,
                                                                   tmp_path, capsys):
    # The script's own main, in this process (a fresh one per script would spend seconds
    # importing TensorFlow); the environment it sets for its runs is put back afterwards.
    results = ["--results-dir", str(tmp_path / "results")] if writes_results else []
    with mock.patch.dict(os.environ), pytest.raises(SystemExit) as exit_info:
        importlib.import_module(f"benchmarks.{script}").main(
            ["--quick", "--data-dir", str(tmp_path), *results])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"--data-dir {tmp_path} has no folder content/" in error
    assert not (tmp_path / "results").exists()


def test_bench_runtimes_refuses_ratios_from_a_loaded_machine(monkeypatch):
    from benchmarks import bench_runtimes

    quiet_rows = [{"foreign_cores": 0.05}, {"foreign_cores": None}]
    monkeypatch.setattr(bench_runtimes, "LOAD_AT_START", (0.4, 0.5, 0.6))
    assert bench_runtimes.refusal_reason(quiet_rows) is None
    assert "other processes used 0.80 cores" in bench_runtimes.refusal_reason(
        [{"foreign_cores": 0.8}])
    monkeypatch.setattr(bench_runtimes, "LOAD_AT_START", (1.7, 0.5, 0.6))
    assert "load average was 1.70" in bench_runtimes.refusal_reason(quiet_rows)
