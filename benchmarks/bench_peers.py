"""The cbn adaptive norms against the peers' on the same shapes: diffusers on PyTorch,
keras-hub on TensorFlow and JAX; forward, and forward+backward.

    python benchmarks/bench_peers.py            # the full run (a few minutes on 2 CPU cores)
    python benchmarks/bench_peers.py --quick    # tiny shapes, 2 repetitions: a smoke test
    python benchmarks/bench_peers.py --results-dir benchmarks/results  # also peers.json
    python benchmarks/bench_peers.py --backends torch --torch-threads 1  # steadier when shared

Pairs (ours with the weights and epsilon of the peer's function, see docs/layers.md):

- PyTorch backend against diffusers (PyTorch modules):
  `ConditionalLayerNormalization(mlp_units=(), epsilon=1e-6, condition_activation="silu")`
  against `AdaLayerNormContinuous(384, 384, elementwise_affine=False, eps=1e-6)` and the
  RMS pair (`ConditionalRMSNormalization(center=True, ...)`, `norm_type="rms_norm"`) on
  DiT-S/2 tokens (8, 256, 384) with an (8, 384) condition;
  `ConditionalGroupNormalization(groups=32, mlp_units=(), epsilon=1e-5,
  condition_activation="silu")` against `AdaGroupNorm(512, 128, 32, act_fn="silu")` on a
  U-Net's 64x64x128 feature map at batch 8 (ours channels last, diffusers' channels
  first: each in its own layout) with an (8, 512) time embedding.
- TensorFlow and JAX backends against keras-hub's `AdaptiveLayerNormalization(384)`
  (Stable Diffusion 3's MMDiT, 2 modulations) on the same DiT-S/2 tokens.

A forward step is one call (PyTorch: under `torch.no_grad()`); a forward+backward step
is the gradient of `sum(y * upstream)` with respect to the input and every weight.
PyTorch runs eagerly, as diffusers does; TensorFlow steps are `tf.function`s and JAX
steps `jax.jit` over `stateless_call`, the same for both layers of a pair. Each step is
warmed up, then timed in interleaved rounds (`benchmarks/timing.py`); the ratio is the
median over rounds of ours / peer's time in the same round.

Each backend runs in a subprocess of this script (`--worker BACKEND`), which prints its
results as JSON lines; the parent prints the machine and one table.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BACKENDS = ("torch", "tensorflow", "jax")
# (batch, tokens, features) and condition width: DiT-S/2 on 256 px latents.
TOKENS = ((8, 256, 384), 384)
# (batch, height, width, channels) and time-embedding width: a U-Net's 64x64x128 stage.
FEATURE_MAP = ((8, 64, 64, 128), 512)
QUICK_TOKENS = ((2, 8, 32), 16)
QUICK_FEATURE_MAP = ((2, 4, 4, 32), 16)
# 40 rounds left the median of a 1 ms PyTorch step wandering by 10% from run to run.
REPETITIONS = 200
WARMUP = 3
QUICK_REPETITIONS = 2
QUICK_WARMUP = 1
RESULT_PREFIX = "RESULT "

# (pair name, kind of shape, backends)
PAIRS = [
    ("ConditionalLayerNormalization / diffusers AdaLayerNormContinuous", "tokens", ("torch",)),
    ("ConditionalRMSNormalization / diffusers AdaLayerNormContinuous(rms_norm)", "tokens",
     ("torch",)),
    ("ConditionalGroupNormalization(32) / diffusers AdaGroupNorm", "feature_map", ("torch",)),
    ("ConditionalLayerNormalization / keras-hub AdaptiveLayerNormalization", "tokens",
     ("tensorflow", "jax")),
]


def make_pair(name, channels, condition_dim):
    """(ours, peer) for the pair called `name`: ours a built-on-call cbn layer, the peer a
    diffusers module or a keras-hub layer."""
    import cbn

    silu_linear = {"mlp_units": (), "condition_activation": "silu"}
    if name.startswith("ConditionalLayerNormalization / diffusers"):
        from diffusers.models.normalization import AdaLayerNormContinuous

        return (cbn.ConditionalLayerNormalization(epsilon=1e-6, **silu_linear),
                AdaLayerNormContinuous(channels, condition_dim, elementwise_affine=False,
                                       eps=1e-6))
    if name.startswith("ConditionalRMSNormalization"):
        from diffusers.models.normalization import AdaLayerNormContinuous

        return (cbn.ConditionalRMSNormalization(center=True, epsilon=1e-6, **silu_linear),
                AdaLayerNormContinuous(channels, condition_dim, elementwise_affine=False,
                                       eps=1e-6, norm_type="rms_norm"))
    if name.startswith("ConditionalGroupNormalization"):
        from diffusers.models.normalization import AdaGroupNorm

        return (cbn.ConditionalGroupNormalization(groups=32, epsilon=1e-5, **silu_linear),
                AdaGroupNorm(condition_dim, channels, 32, act_fn="silu", eps=1e-5))
    from keras_hub.src.models.stable_diffusion_3.mmdit import AdaptiveLayerNormalization

    return (cbn.ConditionalLayerNormalization(epsilon=1e-6, **silu_linear),
            AdaptiveLayerNormalization(channels, num_modulations=2))


def torch_steps(ours, peer, x, condition, upstream, channels_first_peer):
    """Forward and forward+backward steps of both layers, eager PyTorch."""
    import torch

    peer_layout = (lambda t: t.movedim(-1, 1)) if channels_first_peer else (lambda t: t)
    arguments = {
        "ours": (ours, torch.tensor(x), torch.tensor(upstream)),
        "peer": (peer, peer_layout(torch.tensor(x)).contiguous(),
                 peer_layout(torch.tensor(upstream)).contiguous()),
    }
    condition = torch.tensor(condition)
    ours(arguments["ours"][1], condition)  # builds our weights

    def forward(layer, inputs):
        def step():
            with torch.no_grad():
                layer(inputs, condition)
        return step

    def forward_backward(layer, inputs, upstream):
        inputs = inputs.clone().requires_grad_()
        weights = [w for w in (layer.parameters() if isinstance(layer, torch.nn.Module)
                               else (v.value for v in layer.trainable_variables))]

        def step():
            torch.autograd.grad((layer(inputs, condition) * upstream).sum(), [inputs] + weights)
        return step

    return ({side: forward(layer, inputs) for side, (layer, inputs, _) in arguments.items()},
            {side: forward_backward(*args) for side, args in arguments.items()})


def tensorflow_steps(ours, peer, x, condition, upstream):
    import tensorflow as tf

    x, condition, upstream = tf.constant(x), tf.constant(condition), tf.constant(upstream)
    forward, forward_backward = {}, {}
    for side, layer in (("ours", ours), ("peer", peer)):
        layer(x, condition)

        @tf.function
        def call(x, condition, layer=layer):
            return layer(x, condition)

        @tf.function
        def gradient(x, condition, upstream, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x, condition) * upstream)
            return tape.gradient(loss, [x] + layer.trainable_variables)

        forward[side] = lambda call=call: call(x, condition)
        forward_backward[side] = lambda gradient=gradient: gradient(x, condition, upstream)
    return forward, forward_backward


def jax_steps(ours, peer, x, condition, upstream):
    import jax
    import jax.numpy as jnp

    x, condition, upstream = jnp.asarray(x), jnp.asarray(condition), jnp.asarray(upstream)
    forward, forward_backward = {}, {}
    for side, layer in (("ours", ours), ("peer", peer)):
        layer(x, condition)
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def outputs(trainable, x, layer=layer, non_trainable=non_trainable):
            return layer.stateless_call(trainable, non_trainable, x, condition)[0]

        def loss(trainable, x, outputs=outputs):
            return jnp.sum(outputs(trainable, x) * upstream)

        call = jax.jit(outputs)
        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        forward[side] = lambda call=call, t=trainable: jax.block_until_ready(call(t, x))
        forward_backward[side] = lambda gradient=gradient, t=trainable: jax.block_until_ready(
            gradient(t, x))
    return forward, forward_backward


def run_worker(backend, quick, repetitions, warmup, torch_threads):
    """Times every pair of this backend; prints one JSON line per (pair, mode, side)."""
    import keras

    from benchmarks.timing import time_interleaved

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    if backend == "torch" and torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    rng = np.random.default_rng(0)
    shapes = {"tokens": QUICK_TOKENS if quick else TOKENS,
              "feature_map": QUICK_FEATURE_MAP if quick else FEATURE_MAP}
    for name, kind, backends in PAIRS:
        if backend not in backends:
            continue
        shape, condition_dim = shapes[kind]
        x = rng.normal(size=shape).astype("float32")
        upstream = rng.normal(size=shape).astype("float32")
        condition = rng.normal(size=(shape[0], condition_dim)).astype("float32")
        ours, peer = make_pair(name, shape[-1], condition_dim)
        if backend == "torch":
            steps = torch_steps(ours, peer, x, condition, upstream, kind == "feature_map")
        elif backend == "tensorflow":
            steps = tensorflow_steps(ours, peer, x, condition, upstream)
        else:
            steps = jax_steps(ours, peer, x, condition, upstream)
        for mode, mode_steps in zip(("forward", "forward+backward"), steps):
            samples = time_interleaved(mode_steps, repetitions, warmup)
            for side, samples_ms in samples.items():
                record = {"backend": backend, "pair": name, "shape": list(shape), "mode": mode,
                          "side": side, "samples_ms": samples_ms, "load": os.getloadavg()[0],
                          "torch_threads": torch_threads if backend == "torch" else None}
                print(RESULT_PREFIX + json.dumps(record), flush=True)


def measure(backend, quick, repetitions, warmup, torch_threads):
    """Runs this script as a worker for `backend`; returns its result records."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", backend,
               "--repetitions", str(repetitions), "--warmup", str(warmup)]
    command += ["--quick"] if quick else []
    command += ["--torch-threads", str(torch_threads)] if torch_threads else []
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise RuntimeError(f"the {backend} worker exited with code {completed.returncode}.")
    return [json.loads(line[len(RESULT_PREFIX):]) for line in completed.stdout.splitlines()
            if line.startswith(RESULT_PREFIX)]


def format_table(records):
    """A Markdown table: one row per (backend, pair, mode), ours against the peer.

    The ratio is the median over rounds of ours / peer in the same round, with its IQR.
    """
    from benchmarks.timing import summarize

    samples = {(r["backend"], r["pair"], tuple(r["shape"]), r["mode"], r["side"]):
               (r["samples_ms"], r["load"]) for r in records}
    lines = [
        "| backend | pair (ours / peer) | shape | mode | ours median ms (IQR) "
        "| peer median ms (IQR) | ratio ours/peer (IQR) | load |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for (backend, pair, shape, mode, side), (ours, load) in samples.items():
        if side != "ours":
            continue
        peer = samples[(backend, pair, shape, mode, "peer")][0]
        q1, median, q3 = np.percentile(np.divide(ours, peer), [25, 50, 75])
        cells = []
        for times in (ours, peer):
            stats = summarize(times)
            cells.append(f"{stats['median_ms']:.2f} ({stats['q1_ms']:.2f}-{stats['q3_ms']:.2f})")
        lines.append(
            f"| {backend} | {pair} | {'x'.join(map(str, shape))} | {mode} | {cells[0]} "
            f"| {cells[1]} | **{median:.2f}** ({q1:.2f}-{q3:.2f}) | {load:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    from benchmarks.timing import add_timing_arguments

    add_timing_arguments(parser, BACKENDS, REPETITIONS, WARMUP, QUICK_REPETITIONS,
                         QUICK_WARMUP, "peers.json")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="PyTorch's intra-op threads for both sides (default: PyTorch's "
                             "own, one per core); 1 keeps a busy core from stalling every op")
    parser.add_argument("--worker", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repetitions = args.repetitions or (QUICK_REPETITIONS if args.quick else REPETITIONS)
    warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick else WARMUP)
    if args.worker:
        run_worker(args.worker, args.quick, repetitions, warmup, args.torch_threads)
        return 0
    from benchmarks.machine import print_machine

    print_machine("machine (peer benchmark, before the run)")
    records = []
    for backend in args.backends.split(","):
        records += measure(backend, args.quick, repetitions, warmup, args.torch_threads)
    print_machine("machine (after the run)")
    if args.results_dir:
        results_dir = Path(args.results_dir)
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "peers.json").write_text(json.dumps(records, indent=1))
    threads = args.torch_threads or "PyTorch's default"
    print(f"{repetitions} repetitions after {warmup} warm-up, interleaved; ratio = median over "
          f"rounds of ours / peer in the same round; load = 1-minute load average at the end "
          f"of the pair; PyTorch threads: {threads}.")
    print(format_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
