"""The arbitrary-styles benchmark runs end to end (`--quick`: tiny sizes; no figure is checked)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_arbitrary_quick_prints_every_row():
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_arbitrary.py"), "--quick"],
        capture_output=True, text=True, timeout=600, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| model, styles | style loss")
    for name in ("arbitrary, held-out styles", "N-style, its own styles",
                 "arbitrary, its training styles", "photo unchanged"):
        assert any(row.startswith(f"| {name}") for row in rows), completed.stdout
