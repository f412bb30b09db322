"""Forward+backward time of the conditional layers against Keras's unconditional ones.

    python benchmarks/bench_layers.py            # the full run (a few minutes on 2 CPU cores)
    python benchmarks/bench_layers.py --quick    # tiny shapes, 2 repetitions: a smoke test
    python benchmarks/bench_layers.py --results-dir benchmarks/results  # also layers.json
    python benchmarks/bench_layers.py --floors   # also layer and RMS norm without Keras's layer
    python benchmarks/bench_layers.py --kind tokens --floors   # only layer and RMS norm

Pairs compared, on each backend:

- `cbn.ConditionalBatchNormalization(num_conditions=8)` (training mode)
  against `keras.layers.BatchNormalization()` (training mode);
- `cbn.ConditionalInstanceNormalization(num_conditions=8)` against
  `keras.layers.GroupNormalization(groups=-1)` (instance normalization);
- `cbn.ConditionalGroupNormalization(groups=32, num_conditions=8)` against
  `keras.layers.GroupNormalization(groups=32)`;

each at the feature-map shapes `IMAGE_SHAPES`, and

- `cbn.ConditionalLayerNormalization(num_conditions=8)` against
  `keras.layers.LayerNormalization()` and `cbn.ConditionalRMSNormalization(num_conditions=8)`
  against `keras.layers.RMSNormalization()` at the transformer token shapes
  `TOKEN_SHAPES` (batch, tokens, features).

The conditional layers get per-sample integer ids `(batch,)`. One step is the
gradient of `sum(layer(x) * upstream)` with respect to the input and the
layer's trainable weights (moving statistics updated where the layer has
them), compiled the same way on both sides: `tf.function` on TensorFlow,
`jax.jit` over `stateless_call` on JAX, eager on PyTorch (as PyTorch runs). Each step is warmed up (compiled),
then timed `--repetitions` times in interleaved rounds (see
`benchmarks/timing.py`).

Keras picks its backend once per process, so each backend runs in a
subprocess of this script (`--worker BACKEND`) that prints its results as
JSON lines; the parent prints the machine and one table, and with
`--results-dir` writes every timed sample to RESULTS_DIR/layers.json.
"""

import argparse
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    # Run as a script: make `benchmarks` and `cbn` importable from the repository.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

IMAGE_SHAPES = [(16, 64, 64, 64), (4, 128, 128, 128), (64, 8, 8, 512)]
# DiT-S/2 on 256 px latents (256 tokens of 384 features) and DiT-XL/2's width (1152).
TOKEN_SHAPES = [(32, 256, 384), (8, 256, 1152)]
QUICK_IMAGE_SHAPES = [(2, 8, 8, 32), (4, 4, 4, 64)]
QUICK_TOKEN_SHAPES = [(2, 8, 16)]
BACKENDS = ("tensorflow", "jax", "torch")
NUM_CONDITIONS = 8
REPETITIONS = 40
WARMUP = 3
QUICK_REPETITIONS = 2
QUICK_WARMUP = 1

# (conditional layer, the unconditional Keras layer it is compared with, kind of shapes)
PAIRS = [
    ("ConditionalBatchNormalization", "BatchNormalization", "image"),
    ("ConditionalInstanceNormalization", "GroupNormalization(groups=-1)", "image"),
    ("ConditionalGroupNormalization(groups=32)", "GroupNormalization(groups=32)", "image"),
    ("ConditionalLayerNormalization", "LayerNormalization", "tokens"),
    ("ConditionalRMSNormalization", "RMSNormalization", "tokens"),
]

RESULT_PREFIX = "RESULT "
# With --variants, the previous code timed in the same rounds as the default: on TensorFlow,
# layer and RMS norm with their gradient left to TensorFlow's graph (no XLA, as before
# 2026-12-07); on PyTorch, batch norm in training by Keras ops and autograd (as before
# 2026-12-07, when its closed form `cbn/_torch_batch_norm.py` came), layer norm's forward
# pass by PyTorch's kernel sample by sample, with the affine in it (`_by_sample_forward`),
# and group and instance norm's statistics always of a shifted copy, with the affine into a
# new tensor (`_shifted_copy_forward`): both as before 2026-12-07 22:00 UTC; on JAX, batch,
# instance and group norm's statistics over the positions one axis at a time (as before
# 2026-12-07 23:40 UTC, `_fused.JAX_ONE_REDUCTION`); on TensorFlow and JAX, the closed-form
# gradients recomputing the statistics (layer and RMS norm's summing elementwise products,
# TensorFlow's batch, instance and group norm's d_x by the graph's ops; as before 2026-12-08,
# `_fused.FORWARD_STATISTICS`).
GRAPH_GRADIENT = " (graph gradient)"
RECOMPUTED = " (recomputed statistics)"
KERAS_OPS = " (Keras ops)"
BY_SAMPLE = " (forward by sample)"
SHIFTED_COPY = " (shifted copy)"
AXIS_BY_AXIS = " (axis by axis)"
VARIANTS = {("tensorflow", "tokens"): [f"ConditionalLayerNormalization{RECOMPUTED}",
                                       f"ConditionalRMSNormalization{RECOMPUTED}",
                                       f"ConditionalLayerNormalization{GRAPH_GRADIENT}",
                                       f"ConditionalRMSNormalization{GRAPH_GRADIENT}"],
            ("tensorflow", "image"): [f"ConditionalBatchNormalization{RECOMPUTED}",
                                      f"ConditionalInstanceNormalization{RECOMPUTED}",
                                      f"ConditionalGroupNormalization(groups=32){RECOMPUTED}"],
            ("torch", "image"): [f"ConditionalBatchNormalization{KERAS_OPS}",
                                 f"ConditionalInstanceNormalization{SHIFTED_COPY}",
                                 f"ConditionalGroupNormalization(groups=32){SHIFTED_COPY}"],
            ("torch", "tokens"): [f"ConditionalLayerNormalization{BY_SAMPLE}"],
            ("jax", "tokens"): [f"ConditionalLayerNormalization{RECOMPUTED}",
                                f"ConditionalRMSNormalization{RECOMPUTED}"],
            ("jax", "image"): [f"ConditionalBatchNormalization{RECOMPUTED}",
                               f"ConditionalInstanceNormalization{RECOMPUTED}",
                               f"ConditionalGroupNormalization(groups=32){RECOMPUTED}",
                               f"ConditionalBatchNormalization{AXIS_BY_AXIS}",
                               f"ConditionalInstanceNormalization{AXIS_BY_AXIS}",
                               f"ConditionalGroupNormalization(groups=32){AXIS_BY_AXIS}"]}

# With --floors, the unconditional normalization itself without Keras's layer, at the token
# shapes: the backend's own kernel (PyTorch's `layer_norm` and `rms_norm` with a `(channels,)`
# weight and bias, autograd) or the formula in the backend's ops, compiled as the layers are
# (`tf.function`, `jax.jit`). Its ratio is to Keras's layer, in the same rounds: what a layer
# built on these kernels can save at most, before its own work (a per-sample affine, the
# table's gather and the gradient of its rows).
FLOOR = " alone"
FLOORS = {"tokens": [f"layer norm{FLOOR}", f"RMS norm{FLOOR}"]}
FLOOR_OF = {f"layer norm{FLOOR}": "LayerNormalization", f"RMS norm{FLOOR}": "RMSNormalization"}


def make_layer(name):
    """The layer called `name` in `PAIRS` (or `VARIANTS`), and the keyword arguments of
    its call."""
    import keras

    import cbn
    from cbn import _fused

    # Read when a step is traced: `time_layers_at_shape` traces each step as it is made.
    _fused.XLA_GRADIENT = not name.endswith(GRAPH_GRADIENT)
    _fused.JAX_ONE_REDUCTION = not name.endswith(AXIS_BY_AXIS)
    _fused.FORWARD_STATISTICS = not name.endswith(RECOMPUTED)
    name = name.removesuffix(GRAPH_GRADIENT).removesuffix(AXIS_BY_AXIS).removesuffix(RECOMPUTED)
    if name == f"ConditionalBatchNormalization{KERAS_OPS}":
        return _KerasOpsBatchNormalization(num_conditions=NUM_CONDITIONS), {"training": True}
    if name == f"ConditionalLayerNormalization{BY_SAMPLE}":
        return _BySampleLayerNormalization(num_conditions=NUM_CONDITIONS), {}
    if name.endswith(SHIFTED_COPY):
        layer, call_kwargs = make_layer(name.removesuffix(SHIFTED_COPY))
        return _with_shifted_copy(layer), call_kwargs
    if name == "ConditionalBatchNormalization":
        return cbn.ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS), {
            "training": True
        }
    if name == "ConditionalInstanceNormalization":
        return cbn.ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS), {
            "training": True
        }
    if name == "ConditionalGroupNormalization(groups=32)":
        return cbn.ConditionalGroupNormalization(groups=32, num_conditions=NUM_CONDITIONS), {}
    if name == "ConditionalLayerNormalization":
        return cbn.ConditionalLayerNormalization(num_conditions=NUM_CONDITIONS), {}
    if name == "ConditionalRMSNormalization":
        return cbn.ConditionalRMSNormalization(num_conditions=NUM_CONDITIONS), {}
    if name == "BatchNormalization":
        return keras.layers.BatchNormalization(), {"training": True}
    if name == "GroupNormalization(groups=-1)":
        return keras.layers.GroupNormalization(groups=-1), {}
    if name == "GroupNormalization(groups=32)":
        return keras.layers.GroupNormalization(groups=32), {}
    if name == "LayerNormalization":
        return keras.layers.LayerNormalization(), {}
    if name == "RMSNormalization":
        return keras.layers.RMSNormalization(), {}
    raise ValueError(f"make_layer: unknown layer name {name!r}.")


def _KerasOpsBatchNormalization(**kwargs):
    """`ConditionalBatchNormalization` normalizing by the family's generic path (Keras ops),
    as batch norm in training did on PyTorch before its closed form."""
    import cbn
    from cbn.conditional_normalization import ConditionalNormalization

    class KerasOpsBatchNormalization(cbn.ConditionalBatchNormalization):
        def _normalize(self, x, gamma, beta, per_sample, training):
            return ConditionalNormalization._normalize(self, x, gamma, beta, per_sample, training)

    return KerasOpsBatchNormalization(**kwargs)


def _BySampleLayerNormalization(**kwargs):
    """`ConditionalLayerNormalization` on PyTorch with its forward pass as before 2026-12-07
    22:00 UTC: `native_layer_norm` sample by sample, that sample's gamma and beta as the
    kernel's weight and bias, each written into its slice of the output
    (`_by_sample_forward`)."""
    import cbn
    from cbn import _torch_layer_norm

    class BySampleLayerNormalization(cbn.ConditionalLayerNormalization):
        def call(self, inputs, condition, training=None):
            forward, _torch_layer_norm._forward = _torch_layer_norm._forward, _by_sample_forward
            try:
                return super().call(inputs, condition, training)
            finally:
                _torch_layer_norm._forward = forward

    return BySampleLayerNormalization(**kwargs)


def _by_sample_forward(x, gamma, beta, epsilon):
    """`cbn._torch_layer_norm._forward` as it was before 2026-12-07 22:00 UTC."""
    import torch

    batch, channels = x.shape[0], x.shape[-1]
    outputs = torch.empty_like(x)
    mean = x.new_empty(x.shape[:-1] + (1,))
    rstd = torch.empty_like(mean)
    for index in range(batch):
        torch.ops.aten.native_layer_norm.out(
            x[index], [channels], gamma[index], None if beta is None else beta[index],
            epsilon, out0=outputs[index], out1=mean[index], out2=rstd[index])
    return outputs, mean, rstd


def _with_shifted_copy(layer):
    """`layer` (a group or instance norm) calling, on PyTorch, `GroupNormAffine` with the
    forward pass it had before 2026-12-07 22:00 UTC (`_shifted_copy_forward`)."""
    from cbn import _torch_group_norm

    call = layer.call

    def shifted_copy_call(*args, **kwargs):
        function = _torch_group_norm.GroupNormAffine
        forward = function.__dict__["forward"]  # the staticmethod itself
        function.forward = staticmethod(functools.partial(
            _shifted_copy_forward, current=forward.__func__))
        try:
            return call(*args, **kwargs)
        finally:
            function.forward = forward

    layer.call = shifted_copy_call
    return layer


def _shifted_copy_forward(ctx, x, gamma, beta, groups, epsilon, current):
    """`GroupNormAffine.forward` as it was before 2026-12-07 22:00 UTC (maps with more
    positions than channels; `current`, today's forward, for the others): the kernel always on
    `x` minus `group_shift`, the affine into a new tensor."""
    import math

    import torch

    from cbn import _torch_group_norm

    batch, channels = x.shape[0], x.shape[-1]
    positions = math.prod(x.shape[1:-1])
    ctx.groups, ctx.epsilon = groups, epsilon
    if groups == channels and positions <= channels:
        return current(ctx, x, gamma, beta, groups, epsilon)
    memory_format = {4: torch.channels_last, 5: torch.channels_last_3d}.get(
        x.dim(), torch.contiguous_format)
    shift = _torch_group_norm.group_shift(x, groups)
    channels_first = (x - shift).movedim(-1, 1).contiguous(memory_format=memory_format)
    normalized, mean, rstd = torch.native_group_norm(
        channels_first, None, None, batch, channels, positions, groups, epsilon)
    mean = mean + shift.reshape(batch, groups, channels // groups)[..., 0]
    ctx.save_for_backward(x, gamma, mean, rstd)
    return beta.addcmul(normalized.movedim(1, -1), gamma)


def tensorflow_grad_step(layer, inputs, condition, upstream, call_kwargs):
    """A `tf.function` step returning the gradients; returns once they are computed."""
    import tensorflow as tf

    args = [tf.constant(inputs)] + ([] if condition is None else [tf.constant(condition)])
    upstream = tf.constant(upstream)
    layer(*args, **call_kwargs)  # creates the weights outside the traced function

    @tf.function
    def step(upstream, inputs, *condition):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, *condition, **call_kwargs)
            loss = tf.reduce_sum(outputs * upstream)
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    # CPU execution is synchronous: the call returns computed tensors.
    return lambda: step(upstream, *args)


def jax_grad_step(layer, inputs, condition, upstream, call_kwargs):
    """A `jax.jit` step returning the gradients and new moving statistics; blocks on them."""
    import jax
    import jax.numpy as jnp

    args = [jnp.asarray(inputs)] + ([] if condition is None else [jnp.asarray(condition)])
    upstream = jnp.asarray(upstream)
    layer(*args, **call_kwargs)
    trainable = [variable.value for variable in layer.trainable_variables]
    non_trainable = [variable.value for variable in layer.non_trainable_variables]

    def loss(trainable, inputs, non_trainable, upstream, *condition):
        outputs, non_trainable = layer.stateless_call(
            trainable, non_trainable, inputs, *condition, **call_kwargs
        )
        return jnp.sum(outputs * upstream), non_trainable

    step = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))
    return lambda: jax.block_until_ready(
        step(trainable, args[0], non_trainable, upstream, *args[1:])
    )


def torch_grad_step(layer, inputs, condition, upstream, call_kwargs):
    """An eager PyTorch step computing the gradients (PyTorch runs synchronously on CPU)."""
    import torch

    args = [torch.tensor(inputs, requires_grad=True)]
    args += [] if condition is None else [torch.tensor(condition)]
    upstream = torch.tensor(upstream)
    layer(*args, **call_kwargs)
    weights = [variable.value for variable in layer.trainable_variables]

    def step():
        loss = (layer(*args, **call_kwargs) * upstream).sum()
        return torch.autograd.grad(loss, [args[0]] + weights)

    return step


def floor_step(backend, name, inputs, upstream, epsilon=1e-3):
    """A training step of the unconditional normalization `name` of `FLOORS` without Keras's
    layer: the gradient of `sum(norm(x) * upstream)` with respect to `x` and a `(channels,)`
    weight (and bias, for layer norm). Keras's layers' default epsilons: 1e-3 for layer norm,
    1e-6 for RMS norm."""
    rms = name.startswith("RMS")
    epsilon = 1e-6 if rms else epsilon
    channels = inputs.shape[-1]
    weight = np.ones(channels, "float32")
    bias = np.zeros(channels, "float32")
    if backend == "torch":
        import torch
        import torch.nn.functional as F

        x = torch.tensor(inputs, requires_grad=True)
        up = torch.tensor(upstream)
        w = torch.tensor(weight, requires_grad=True)
        b = torch.tensor(bias, requires_grad=True)
        if rms:
            return lambda: torch.autograd.grad(
                (F.rms_norm(x, (channels,), w, epsilon) * up).sum(), [x, w])
        return lambda: torch.autograd.grad(
            (F.layer_norm(x, (channels,), w, b, epsilon) * up).sum(), [x, w, b])
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def norm(x, w, b):
            if rms:
                return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), -1, keepdims=True) + epsilon) * w
            mean = jnp.mean(x, -1, keepdims=True)
            variance = jnp.mean(jnp.square(x - mean), -1, keepdims=True)
            return (x - mean) * jax.lax.rsqrt(variance + epsilon) * w + b

        up = jnp.asarray(upstream)
        step = jax.jit(jax.grad(lambda x, w, b: jnp.sum(norm(x, w, b) * up),
                                argnums=(0, 1) if rms else (0, 1, 2)))
        args = [jnp.asarray(inputs), jnp.asarray(weight), jnp.asarray(bias)]
        return lambda: jax.block_until_ready(step(*args))
    import tensorflow as tf

    x, up = tf.constant(inputs), tf.constant(upstream)
    w, b = tf.Variable(weight), tf.Variable(bias)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            if rms:
                y = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), -1, keepdims=True) + epsilon) * w
            else:
                mean, variance = tf.nn.moments(x, [-1], keepdims=True)
                y = (x - mean) * tf.math.rsqrt(variance + epsilon) * w + b
            loss = tf.reduce_sum(y * up)
        return tape.gradient(loss, [x, w] if rms else [x, w, b])

    return step


def run_worker(backend, shapes_by_kind, repetitions, warmup, variants=False, floors=False):
    """Times every pair at its shapes on this process's backend; prints JSON lines."""
    import keras

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    grad_step = {"tensorflow": tensorflow_grad_step, "jax": jax_grad_step,
                 "torch": torch_grad_step}[backend]
    rng = np.random.default_rng(0)
    for kind, shapes in shapes_by_kind.items():
        names = [name for *pair, pair_kind in PAIRS if pair_kind == kind for name in pair]
        if variants:
            names += VARIANTS.get((backend, kind), [])
        if floors:
            names += FLOORS.get(kind, [])
        for shape in shapes:
            for record in time_layers_at_shape(grad_step, names, shape, rng, repetitions, warmup,
                                               backend):
                print(RESULT_PREFIX + json.dumps({"backend": backend, **record}), flush=True)


def time_layers_at_shape(grad_step, names, shape, rng, repetitions, warmup, backend=None):
    """One record per layer: its step times at `shape`, all layers timed in interleaved rounds."""
    from benchmarks.timing import time_interleaved

    inputs = rng.normal(size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    ids = (np.arange(shape[0]) % NUM_CONDITIONS).astype("int32")
    steps = {}
    for name in names:
        if name in FLOOR_OF:
            steps[name] = floor_step(backend, name, inputs, upstream)
            steps[name]()
            continue
        layer, call_kwargs = make_layer(name)
        condition = ids if name.startswith("Conditional") else None
        steps[name] = grad_step(layer, inputs, condition, upstream, call_kwargs)
        steps[name]()  # traced now, with `make_layer`'s gradient setting
    samples_ms = time_interleaved(steps, repetitions, warmup)
    return [{"shape": list(shape), "layer": name, "samples_ms": samples}
            for name, samples in samples_ms.items()]


def measure(backend, quick, repetitions, warmup, variants=False, floors=False, kind=None):
    """Runs this script as a worker for `backend`; returns its result records."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", backend,
        "--repetitions", str(repetitions), "--warmup", str(warmup),
    ] + (["--kind", kind] if kind else []) + (["--quick"] if quick else []) + (["--variants"] if variants else []) + (
        ["--floors"] if floors else [])
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise RuntimeError(f"the {backend} worker exited with code {completed.returncode}.")
    return [
        json.loads(line[len(RESULT_PREFIX):])
        for line in completed.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]


def format_table(records):
    """A Markdown table: one row per (backend, shape, layer); conditional rows get the ratio.

    The ratio is the median over rounds of (conditional time / unconditional
    time in the same round): the two steps of a round run back to back, so a
    slow phase of a shared machine mostly cancels out. Its IQR is given too.
    """
    from benchmarks.timing import summarize

    unconditional = {conditional: plain for conditional, plain, _ in PAIRS}
    unconditional.update({
        variant: unconditional[variant.removesuffix(GRAPH_GRADIENT).removesuffix(KERAS_OPS)
                               .removesuffix(BY_SAMPLE).removesuffix(SHIFTED_COPY)
                               .removesuffix(AXIS_BY_AXIS).removesuffix(RECOMPUTED)]
        for variants in VARIANTS.values() for variant in variants})
    unconditional.update(FLOOR_OF)
    samples = {(r["backend"], tuple(r["shape"]), r["layer"]): r["samples_ms"] for r in records}
    lines = [
        "| backend | shape | layer | median ms | IQR ms | min-max ms | ratio cond/uncond (IQR) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for (backend, shape, layer), times in samples.items():
        stats = summarize(times)
        ratio = ""
        if layer in unconditional:
            paired = np.divide(times, samples[(backend, shape, unconditional[layer])])
            q1, median, q3 = np.percentile(paired, [25, 50, 75])
            ratio = f"**{median:.2f}** ({q1:.2f}-{q3:.2f})"
        lines.append(
            f"| {backend} | {'x'.join(map(str, shape))} | {layer} "
            f"| {stats['median_ms']:.2f} | {stats['q1_ms']:.2f}-{stats['q3_ms']:.2f} "
            f"| {stats['min_ms']:.2f}-{stats['max_ms']:.2f} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    from benchmarks.timing import add_timing_arguments

    add_timing_arguments(parser, BACKENDS, REPETITIONS, WARMUP, QUICK_REPETITIONS,
                         QUICK_WARMUP, "layers.json")
    parser.add_argument("--variants", action="store_true",
                        help="also the previous code, in the same rounds: on TensorFlow layer "
                             "and RMS norm with the compiled gradient that recomputes the "
                             "statistics, and with the gradient left to TensorFlow's graph (no "
                             "XLA); on PyTorch batch norm by Keras ops, layer norm's forward "
                             "sample by sample, group and instance norm on a shifted copy; on "
                             "JAX batch, instance and group norm's statistics axis by axis, and "
                             "layer and RMS norm's gradient recomputing the statistics")
    parser.add_argument("--floors", action="store_true",
                        help="also, at the token shapes, layer and RMS norm without Keras's "
                             "layer (PyTorch's kernels, or the formula in JAX's or TensorFlow's "
                             "ops), timed in the same rounds as Keras's layers")
    parser.add_argument("--kind", choices=("image", "tokens"), default=None,
                        help="only the feature-map pairs (batch, instance, group norm) or only "
                             "the token pairs (layer, RMS norm); default both")
    parser.add_argument("--worker", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repetitions = args.repetitions or (QUICK_REPETITIONS if args.quick else REPETITIONS)
    warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick else WARMUP)
    shapes = {
        "image": QUICK_IMAGE_SHAPES if args.quick else IMAGE_SHAPES,
        "tokens": QUICK_TOKEN_SHAPES if args.quick else TOKEN_SHAPES,
    }
    if args.kind:
        shapes = {args.kind: shapes[args.kind]}
    if args.worker:
        run_worker(args.worker, shapes, repetitions, warmup, args.variants, args.floors)
        return 0
    from benchmarks.machine import print_machine

    print_machine("machine (layer benchmark, before the run)")
    records = []
    for backend in args.backends.split(","):
        records += measure(backend, args.quick, repetitions, warmup, args.variants, args.floors,
                           args.kind)
    print_machine("machine (after the run)")
    if args.results_dir:
        results_dir = Path(args.results_dir)
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "layers.json").write_text(json.dumps(records, indent=1))
    print(f"Forward+backward step, {repetitions} repetitions after {warmup} warm-up; "
          f"ratio = median over rounds of conditional / unconditional time "
          f"({', '.join(plain for _, plain, _ in PAIRS)}) in the same round.")
    print(format_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
