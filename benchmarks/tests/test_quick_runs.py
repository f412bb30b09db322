"""The layer and pretrained-network benchmarks run end to end (`--quick`: tiny shapes; no timing
is checked)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def test_bench_layers_quick_prints_a_table_with_every_pair_on_every_backend():
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_layers.py"), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| backend | shape | layer | median ms")
    for backend in ("tensorflow", "jax", "torch"):
        for layer in ("ConditionalBatchNormalization", "BatchNormalization",
                      "ConditionalInstanceNormalization", "GroupNormalization(groups=-1)",
                      "ConditionalGroupNormalization(groups=32)", "GroupNormalization(groups=32)",
                      "ConditionalLayerNormalization", "LayerNormalization",
                      "ConditionalRMSNormalization", "RMSNormalization"):
            assert any(f"| {backend} |" in row and f"| {layer} |" in row for row in rows), (
                backend, layer, completed.stdout)


def test_bench_peers_quick_prints_the_diffusers_pairs_forward_and_backward():
    # PyTorch only: the keras-hub pairs share the TF/JAX steps of bench_layers, and each
    # backend's worker costs seconds of imports (the test suite's budget).
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_peers.py"), "--quick",
         "--backends", "torch"],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| backend | pair (ours / peer) | shape | mode |")
    for peer in ("AdaLayerNormContinuous", "AdaLayerNormContinuous(rms_norm)", "AdaGroupNorm"):
        for mode in ("forward", "forward+backward"):
            assert any("| torch |" in row and f"diffusers {peer} |" in row
                       and f"| {mode} |" in row for row in rows), (peer, mode, completed.stdout)


def test_bench_pretrained_quick_prints_agreement_and_latency_against_onnxruntime(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_pretrained.py"), "--quick",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "| size px | photos | styles | random blends | max abs difference |" in completed.stdout
    latency = [line for line in completed.stdout.splitlines() if line.startswith("| 32 |")]
    assert len(latency) == 2 and "onnxruntime" in completed.stdout
    assert (tmp_path / "pretrained.json").is_file()



@pytest.mark.slow
def test_bench_large_photos_quick_paints_in_tiles_and_agrees_with_one_pass(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_large_photos.py"), "--quick",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "| code | model | photo | tiles (all layers) | seconds | peak MiB |" in completed.stdout
    results = json.loads((tmp_path / "large_photos.json").read_text())
    assert results["paint"][0]["finite"] and results["paint"][0]["tiles"] > 16
    assert results["agreement"][0]["max_grey"] < 0.5  # within the rounding to 8 bits
    assert (tmp_path / "large_photos.md").is_file()


@pytest.mark.slow
def test_bench_stylize_quick_prints_its_table():
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_stylize.py"), "--quick"],
        capture_output=True, text=True, timeout=600, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "| size (px) | GFLOP (ours executes) | ours ms" in completed.stdout


@pytest.mark.slow
def test_bench_add_style_quick_draws_its_curves(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "bench_add_style.py"), "--quick",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert (tmp_path / "add_style_curves.png").is_file()

