"""The layer and pretrained-network benchmarks run end to end (`--quick`: tiny shapes; no timing
is checked)."""

import subprocess
import sys
from pathlib import Path

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
            assert any(f"| torch |" in row and f"diffusers {peer} |" in row
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


def test_bench_runtimes_refuses_ratios_from_a_loaded_machine(monkeypatch):
    from benchmarks import bench_runtimes

    quiet_rows = [{"foreign_cores": 0.05}, {"foreign_cores": None}]
    monkeypatch.setattr(bench_runtimes, "LOAD_AT_START", (0.4, 0.5, 0.6))
    assert bench_runtimes.refusal_reason(quiet_rows) is None
    assert "other processes used 0.80 cores" in bench_runtimes.refusal_reason(
        [{"foreign_cores": 0.8}])
    monkeypatch.setattr(bench_runtimes, "LOAD_AT_START", (1.7, 0.5, 0.6))
    assert "load average was 1.70" in bench_runtimes.refusal_reason(quiet_rows)
