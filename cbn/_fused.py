"""Normalization plus per-sample affine as one op with an analytic gradient.

Automatic differentiation of `gamma * (x - mean) / sqrt(var + eps) + beta`, with
`mean` and `var` computed from `x`, walks the whole chain back through the
statistics: about twice the memory passes of the closed-form gradient. Here the
gradient is written out. With `xhat = (x - mean) * inv` and `inv = 1 / sqrt(var + eps)`,
and `mean_A` the mean over the M elements that share one mean:

    d_beta  = sum_positions(g)                    (per sample and channel)
    d_gamma = sum_positions(g * xhat)
    d_x     = inv * (gamma * g - mean_A(gamma * g) - xhat * mean_A(gamma * g * xhat))

where the positions are the axes gamma and beta are constant along (the spatial
or token axes). RMS normalization (`centered=False`) has `mean = 0` and the mean
square as its variance: the `mean_A(gamma * g)` term drops out, the rest stays. When the statistics span every position (batch, instance and
group norm), both `mean_A` terms follow from `d_beta` and `d_gamma` (a sum over
the batch for batch statistics, over the channels of a group for group
statistics, nothing more for instance statistics), so the backward pass reads
`x` and `g` twice and writes `d_x` once. When each position has statistics of its
own (layer norm: over the channels of one token), the means are taken per
position directly.

Statistics over groups of channels are pooled from per-channel statistics
(`moments`), so no tensor of the input's size is ever reshaped into groups.

The gradient function takes the forward pass's statistics (TensorFlow's graph would
otherwise compute them a second time), with their own gradient with respect to `x`
written out (`_statistics_of`), so the gradient itself is differentiable and
second-order gradients (gradient penalties, path-length regularization) are exact.
On TensorFlow the input-sized arithmetic of the gradient runs as XLA-compiled loops
(layer and RMS norm's whole gradient, batch, instance and group norm's d_x), where the
graph would make one pass over memory per op.

TensorFlow and JAX only: Keras's PyTorch `custom_gradient` swallows errors from
the forward function, so that backend has its own path (`cbn/_native.py`: PyTorch's
kernels, and the same closed form as a `torch.autograd.Function` for group norm).
"""

import functools
import math

import keras
from keras import ops

BACKENDS = ("tensorflow", "jax")


def available():
    """Whether this backend uses the analytic gradient."""
    return keras.backend.backend() in BACKENDS


def moments(x, axes, groups, centered=True, differentiated=True):
    """Mean and (biased) variance of `x` over `axes` and over the channels of each of
    `groups` channel groups, as tensors that broadcast against `x`; variance >= 0.
    With `centered=False` (RMS normalization): zeros and the mean square.
    `differentiated=False` (the statistics of a stopped-gradient input, which the closed-form
    gradient accounts for) lets layer norm take its statistics in one pass where that is
    exact (`_guarded_token_moments`).

    Group statistics are pooled from per-channel ones (every channel of a group
    has as many elements): the group mean is the mean of its channels' means,
    the group variance the mean of (channel variance + (channel mean - group
    mean)^2). The input itself is never reshaped into groups, which keeps the
    reductions over positions as fast as instance normalization's.
    """
    rank = len(x.shape)
    if not centered:
        if groups != 1:
            raise ValueError(f"moments: RMS statistics span all channels; received groups={groups}.")
        # Not TensorFlow's one-read `reduce_euclidean_norm` (0.90-0.93x this forward pass
        # until 2026-12-08): LiteRT has no kernel for it, so a model holding the layer would
        # not convert.
        mean_square = _mean_over(ops.square(x), list(axes) + [rank - 1])
        return ops.zeros_like(mean_square), mean_square
    if groups == 1 and not axes and not differentiated and ONE_PASS_RATIO:
        return _guarded_token_moments(x)
    if groups == 1:
        return _channel_moments(x, list(axes) + [rank - 1])
    mean, variance = _channel_moments(x, axes)
    if groups == x.shape[-1]:
        return mean, variance
    group_mean = group_sum(mean, [], groups) / (x.shape[-1] // groups)
    spread = variance + ops.square(mean - group_mean)
    return group_mean, group_sum(spread, [], groups) / (x.shape[-1] // groups)


# Layer norm's forward statistics in one pass where every token's squared mean is at most this
# many times its variance (`_guarded_token_moments`); 0 takes two passes always (the code before
# 2026-12-08). Read when traced.
ONE_PASS_RATIO = 4.0


def _guarded_token_moments(x):
    """Per-token mean and variance over the channels (layer norm's forward statistics, of a
    stopped-gradient `x`; TensorFlow and JAX), read in one pass where that is exact.

    The one-pass variance, `mean(x^2) - mean(x)^2`, cancels in float32 when a token's mean is
    large against its spread (1000 +- 1 comes out as noise), so the two-pass statistics
    (`_channel_moments`: the mean, then the mean squared deviation from it) are the default.
    But the two passes run one after the other and read `x` twice over; the two sums of the
    one pass are independent. Both sums are taken; where every token of the batch has its
    squared mean within `ONE_PASS_RATIO` (4: the mean within two deviations of zero, as
    transformer tokens are) times its one-pass variance, that variance is kept (relative error
    under 1e-6 against float64, measured on 64 to 4096 channels); otherwise the batch takes
    the two passes as well (`ops.cond`: only one branch runs). Layer norm's forward against
    keras-hub's `AdaptiveLayerNormalization`: 0.85x on JAX and 0.93x on TensorFlow, against
    1.03x and 1.04x in two passes (BENCHMARKS.md, "Adaptive norms against diffusers and
    keras-hub").
    """
    mean = ops.mean(x, axis=-1, keepdims=True)
    one_pass = ops.mean(ops.square(x), axis=-1, keepdims=True) - ops.square(mean)
    cancels = ops.any(ops.square(mean) > ONE_PASS_RATIO * one_pass)
    return ops.cond(cancels, lambda: _channel_moments(x, [len(x.shape) - 1]),
                    lambda: (mean, ops.maximum(one_pass, 0.0)))


def _compiled_with_xla():
    """Whether TensorFlow is tracing a function compiled with XLA (`jit_compile=True`, as
    `model.compile(jit_compile=True)` and, on a GPU, its default `"auto"`): there the
    gradient's arithmetic is compiled with the rest, not as a function of its own."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def masked_moments(x, mask, axes):
    """Per-channel mean and (biased) variance of `x` over `axes`, counting only the
    positions where `mask` holds, and their number.

    Args:
        x: Float tensor, channels last: `(batch, *positions, channels)`.
        mask: `(batch, *positions)`, or broadcastable to it (size-1 axes): a position
            counts where it is true or non-zero (as in Keras's `BatchNormalization`).
        axes: The batch and position axes the statistics span.

    Returns:
        `(mean, variance, count)`: mean and variance kept as size-1 axes, and the number
        of positions counted (a float tensor that broadcasts against them). With no
        position counted, the mean and variance are 0 (Keras's too).

    Two passes, each summed one axis at a time (`_channel_moments`). The masked values
    enter no sum: `where` picks 0 for them before the sums and before the deviations are
    squared, so padding of any size, infinite included, leaves the statistics as they
    are, and receives no gradient through them. Differentiated by automatic
    differentiation.
    """
    kept = ops.expand_dims(ops.cast(mask, "bool"), -1)
    # The count over the mask broadcast to x's positions (a mask may have size-1 axes).
    weights = ops.cast(kept, x.dtype) + ops.zeros_like(x[..., :1])
    count = _sum_axis_by_axis(weights, axes)
    divisor = ops.maximum(count, 1.0)
    mean = _sum_axis_by_axis(ops.where(kept, x, 0.0), axes) / divisor
    deviations = ops.where(kept, x - mean, 0.0)
    variance = _sum_axis_by_axis(ops.square(deviations), axes) / divisor
    return mean, variance, count


def _sum_axis_by_axis(x, axes):
    for axis in sorted(axes, reverse=True):
        x = ops.sum(x, axis=axis, keepdims=True)
    return x


def _channel_moments(x, axes):
    """Mean and variance over `axes`, kept as size-1 axes: two passes (the mean, then the
    mean squared deviation from it), each by `_mean_over`."""
    mean = _mean_over(x, axes)
    variance = _mean_over(_squared_difference(x, mean), axes)
    return mean, variance


# Whether JAX takes some means over several axes in one reduction (see `_mean_over`). Read when
# a function is traced; `False` is the code before 2026-12-07 23:40 UTC (benchmarks' variants).
JAX_ONE_REDUCTION = True


def _mean_over(x, axes):
    """The mean of `x` over `axes`, kept as size-1 axes.

    One axis at a time, last axis first: TensorFlow's float32 reduction over both axes of a
    1024 x 1024 map at once accumulated with a relative error of 4e-4, enough to move a
    stylized 1024 px picture by 1e-2; axis by axis each sum covers one side of the map: 2e-7,
    and a third faster. XLA's float32 sums are as exact either way (values 100 +- 3 over a
    1024 x 1024 map: relative error 6e-8 at once, 1e-7 axis by axis). On JAX one reduction
    is faster or level where it spans the batch (batch norm: a training step 0.91-1.04x) and
    faster on a map of no more positions than channels (0.83-0.88x), but slower for instance
    norm on larger maps (1.05-1.10x): JAX takes those two in one reduction (BENCHMARKS.md,
    "Layer speed").
    """
    if JAX_ONE_REDUCTION and keras.backend.backend() == "jax" and len(axes) > 1:
        # Sizes known when traced (None, or symbolic under `jax.export`: a large map).
        sizes = [x.shape[axis] for axis in axes if axis != 0] + [x.shape[-1]]
        small_map = (all(type(size) is int for size in sizes)
                     and math.prod(sizes[:-1]) <= sizes[-1])
        if 0 in axes or small_map:
            return ops.mean(x, axis=tuple(sorted(axes)), keepdims=True)
    for axis in sorted(axes, reverse=True):
        x = ops.mean(x, axis=axis, keepdims=True)
    return x


def _squared_difference(x, mean):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.math.squared_difference(x, mean)  # one pass instead of two
    return ops.square(x - mean)


def group_sum(t, axes, groups):
    """`t` summed over `axes` and over the channels (last axis) of each of `groups`
    groups; the result broadcasts against `t`, each channel holding its group's sum."""
    if axes:
        t = ops.sum(t, axis=axes, keepdims=True)
    channels = t.shape[-1]
    if groups == channels:
        return t
    if groups == 1:
        return ops.sum(t, axis=-1, keepdims=True)
    leading = [ops.shape(t)[axis] if size is None else size for axis, size in enumerate(t.shape[:-1])]
    grouped = ops.reshape(t, leading + [groups, channels // groups])
    per_group = ops.sum(grouped, axis=-1, keepdims=True)
    # Broadcasting rather than `ops.repeat`, which fails on PyTorch's "meta" device
    # (Keras traces shapes there).
    return ops.reshape(ops.broadcast_to(per_group, ops.shape(grouped)), leading + [channels])


def normalize(x, mean, variance, gamma, beta, epsilon, axes, groups, position_axes,
              centered=True):
    """`gamma * (x - mean) / sqrt(variance + epsilon) + beta` with the analytic gradient.

    Args:
        x: Float tensor, channels last: `(batch, *positions, channels)`.
        mean, variance: x's statistics from `moments(x, axes, groups)`, already
            computed for the forward pass (their own gradients are not used:
            the gradient with respect to `x` accounts for them).
        gamma, beta: Per-sample affine parameters `(batch, 1, ..., 1, channels)`,
            constant along `position_axes`; beta may be `None` (none added).
        epsilon: Added to the variance.
        axes: The batch and position axes the statistics span.
        groups: The number of channel groups the statistics span.
        position_axes: The axes of `x` that gamma and beta are constant along.
        centered: `False` for RMS normalization (`mean` is zero).

    Returns:
        The normalized tensor, shaped like `x`.
    """
    axes = tuple(axes)
    position_axes = tuple(position_axes)
    from_sums = set(position_axes) <= set(axes)
    has_beta = beta is not None
    if not has_beta:
        beta = ops.zeros_like(gamma)  # stands in for the argument; its gradient goes unread
    dtype = keras.backend.standardize_dtype(x.dtype)
    if _token_gradient_applies(x, axes, groups, from_sums):
        if keras.backend.backend() == "tensorflow":
            gradient_of = _xla_token_gradient(centered, has_beta, float(epsilon),
                                              len(x.shape), x.shape[-1], dtype)
        else:
            def gradient_of(x, gamma, upstream, mean, variance):
                return _token_gradient(x, gamma, upstream, mean, variance, centered, has_beta,
                                       epsilon)
    elif _xla_gradient_applies(x, from_sums):
        xla_gradient = _xla_gradient(axes, groups, position_axes, centered, float(epsilon),
                                     len(x.shape), x.shape[-1], dtype)

        def gradient_of(x, gamma, upstream, mean, variance):
            return xla_gradient(x, gamma, upstream)
    else:
        def gradient_of(x, gamma, upstream, mean, variance):
            statistics = (mean, variance) if FORWARD_STATISTICS else None
            return _gradient(x, gamma, upstream, axes, groups, position_axes, centered,
                             epsilon, statistics)

    @ops.custom_gradient
    def forward(x, gamma, beta, mean, variance):
        inv = ops.rsqrt(variance + epsilon)
        if from_sums:
            # Statistics constant along the positions, as gamma is: one multiply-add.
            scale = gamma * inv
            outputs = x * scale + (beta - mean * scale)
        else:
            # Per-position statistics: gamma * inv would be input-sized, one pass more
            # (a large share of the forward time on TensorFlow): normalize, then scale.
            normalized = x * inv - mean * inv if centered else x * inv
            outputs = normalized * gamma + beta if has_beta else normalized * gamma

        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            # mean and variance are arguments rather than closed over: JAX's exporters
            # (`model.export`, jax2tf) refuse a closed-over array whose shape has a symbolic
            # (any) batch size. Their gradient is zero: x's accounts for them.
            return tuple(gradient_of(x, gamma, upstream, mean, variance)) + (
                ops.zeros_like(mean), ops.zeros_like(variance))

        return outputs, gradient

    return forward(x, gamma, beta, mean, variance)


# Whether TensorFlow compiles the gradient with XLA (see `_xla_gradient`), and from how
# many elements of the input (its static sizes; an unknown size counts as 1): under it the
# compiled call's overhead outweighs what it saves (crossover near 16 x 64 x 256).
XLA_GRADIENT = True
XLA_GRADIENT_MIN_SIZE = 1 << 18


def _xla_gradient_applies(x, from_sums):
    """TensorFlow, statistics per position (layer and RMS norm), a large enough input."""
    if keras.backend.backend() != "tensorflow" or from_sums or not XLA_GRADIENT:
        return False
    return _known_size(x) >= XLA_GRADIENT_MIN_SIZE


def _known_size(x):
    """The number of elements of `x` from its static sizes (an unknown size counts as 1)."""
    known_size = 1
    for size in x.shape:
        known_size *= size if isinstance(size, int) else 1
    return known_size


# Whether the closed-form gradients take the forward pass's statistics (`_statistics_of`)
# rather than recomputing them, layer and RMS norm's their sums as contractions
# (`_token_gradient`), and TensorFlow's batch, instance and group norm their d_x as one compiled
# loop (`_xla_multiply_add`). `False` is the code before 2026-12-08 (the benchmarks' variants).
# Read when traced.
FORWARD_STATISTICS = True


def _token_gradient_applies(x, axes, groups, from_sums):
    """Layer and RMS norm (statistics per token, over all its channels) on JAX, or on
    TensorFlow where the gradient is compiled with XLA."""
    if not FORWARD_STATISTICS or axes or groups != 1 or from_sums:
        return False
    return keras.backend.backend() == "jax" or _xla_gradient_applies(x, from_sums)


def _statistics_of(x, mean, variance, axes, groups):
    """The forward pass's `mean` and `variance` of `x` over `axes` and the channels of each
    of `groups` groups (as `moments` gives them, computed from a stopped-gradient `x`),
    passed on unchanged, with their gradient with respect to `x` in closed form: a gradient
    function then recomputes no statistics (TensorFlow's graph does not share them with the
    forward pass: on 64 x 8 x 8 x 512 they were a quarter of instance norm's training step)
    and stays exact to second order. With `n` elements per statistic and `S` the sum over
    the channels of a group:

        d_x = (S(d_mean) + 2 * (x - mean) * S(d_variance)) / n

    (`d variance / d mean` is zero: the deviations sum to zero.) RMS norm: `mean` is zeros
    and `variance` the mean square.
    """
    count = _count(x, axes) * (x.shape[-1] // groups)

    def per_channel(t):
        # A statistic's gradient summed over its group's channels (a statistic spanning all
        # channels has one value per position already).
        return t if t.shape[-1] == 1 else group_sum(t, [], groups)

    @ops.custom_gradient
    def mean_of(x, mean):
        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return ops.zeros_like(x) + per_channel(upstream) / count, ops.zeros_like(mean)

        return mean + 0.0, gradient

    @ops.custom_gradient
    def variance_of(x, mean, variance):
        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return ((x - mean) * (per_channel(upstream) * (2.0 / count)), ops.zeros_like(mean),
                    ops.zeros_like(variance))

        return variance + 0.0, gradient

    return mean_of(x, mean), variance_of(x, mean, variance)


def _token_gradient(x, gamma, upstream, mean, variance, centered, has_beta, epsilon):
    """The closed-form gradient of layer and RMS norm (statistics per token, over its
    channels) from the forward pass's statistics: `(d_x, d_gamma, d_beta)`.

    XLA on a CPU materializes each elementwise product that feeds a reduction (and splits a
    reduction over the channels in two). Here the one input-sized product, `p = upstream *
    (x - mean)`, feeds contractions (dot products: the per-token sum against gamma, and
    d_gamma as the per-token `inv` against it), and the statistics are not recomputed, so
    the gradient reads `x` and `upstream` fewer times than `_gradient` (BENCHMARKS.md,
    "Layer speed"). With `xhat = (x - mean) * inv`:

        d_gamma = sum_tokens(inv * p),  d_beta = sum_tokens(upstream)
        d_x = gamma * inv * upstream - inv * mean_c(gamma * upstream)
              - (x - mean) * inv^3 * mean_c(gamma * p)

    (RMS norm: `mean = 0` and no `mean_c(gamma * upstream)` term.) `mean` and `variance` go
    through `_statistics_of`, so that second-order gradients stay exact.
    """
    channels = x.shape[-1]
    shape = ops.shape(x)
    batch = shape[0]
    x3 = ops.reshape(x, (batch, -1, channels))
    u3 = ops.reshape(upstream, (batch, -1, channels))
    g2 = ops.broadcast_to(ops.reshape(gamma, (-1, channels)), (batch, channels))
    mean, variance = _statistics_of(x, mean, variance, (), 1)
    inv = ops.rsqrt(ops.reshape(variance, (batch, -1)) + epsilon)  # (batch, tokens)
    if centered:
        m = ops.reshape(mean, (batch, -1, 1))
        deviation = x3 - m
    else:
        deviation = x3
    p = u3 * deviation
    s_p = ops.einsum("btc,bc->bt", p, g2)
    d_gamma = ops.einsum("bt,btc->bc", inv, p)
    coefficient = ops.expand_dims(inv * inv * inv * s_p / channels, -1)
    d_x = u3 * (ops.expand_dims(g2, 1) * ops.expand_dims(inv, -1)) - deviation * coefficient
    if centered:
        s_u = ops.einsum("btc,bc->bt", u3, g2)
        d_x = d_x - ops.expand_dims(inv * s_u / channels, -1)
    d_beta = ops.sum(u3, axis=1) if has_beta else ops.zeros_like(d_gamma)
    return (ops.reshape(d_x, shape), ops.reshape(d_gamma, ops.shape(gamma)),
            ops.reshape(d_beta, ops.shape(gamma)))


@functools.cache
def _xla_token_gradient(centered, has_beta, epsilon, rank, channels, dtype):
    """`_token_gradient` for one layout as a TensorFlow function compiled with XLA:
    `(x, gamma, upstream, mean, variance) -> (d_x, d_gamma, d_beta)`."""
    import tensorflow as tf

    def function(x, gamma, upstream, mean, variance):
        return _token_gradient(x, gamma, upstream, mean, variance, centered, has_beta,
                               epsilon)

    spec = tf.TensorSpec([None] * (rank - 1) + [channels], dtype)
    statistic = tf.TensorSpec([None] * (rank - 1) + [1], dtype)
    return tf.function(function, jit_compile=True,
                       input_signature=[spec, spec, spec, statistic, statistic])


@functools.cache
def _xla_gradient(axes, groups, position_axes, centered, epsilon, rank, channels, dtype):
    """`_gradient` for one layout of `normalize` as a TensorFlow function compiled with XLA
    (one per layout, shared by every call; every size but the channels' may vary, with one
    compilation per shape), recomputing the statistics. Layer and RMS norm's gradient before
    2026-12-08, kept for the benchmarks' variants (`FORWARD_STATISTICS = False`): since then
    `_token_gradient` (about a quarter faster: BENCHMARKS.md, "Layer speed").

    TensorFlow's graph runs each elementwise op as a pass over memory, where XLA fuses
    the backward pass into a few loops (BENCHMARKS.md, "Layer speed": layer norm's
    training step 0.68-0.80x Keras's `LayerNormalization` against 0.84-0.89x uncompiled).
    Statistics over positions (batch, instance and group norm) keep the graph's sums,
    whose reductions XLA ran slower (the whole gradient compiled: 1.4x on 64 x 8 x 8 x 512),
    and compile only d_x (`_xla_multiply_add`); inputs under `XLA_GRADIENT_MIN_SIZE`
    elements keep the graph. The forward pass is left as ordinary ops, so that
    exported inference graphs hold nothing compiled; the compiled gradient stays
    differentiable (second-order gradients are exact).
    """
    import tensorflow as tf

    def function(x, gamma, upstream):
        return _gradient(x, gamma, upstream, axes, groups, position_axes, centered, epsilon)

    spec = tf.TensorSpec([None] * (rank - 1) + [channels], dtype)
    return tf.function(function, jit_compile=True, input_signature=[spec] * 3)


def _gradient(x, gamma, upstream, axes, groups, position_axes, centered, epsilon,
              statistics=None):
    """The closed-form gradient of `normalize` (module docstring), differentiable in `x`:
    with `statistics`, the forward pass's `(mean, variance)` through `_statistics_of`;
    without, recomputed from `x`."""
    from_sums = set(position_axes) <= set(axes)
    beyond_positions = [axis for axis in axes if axis not in position_axes]

    def sum_positions(t):
        return ops.sum(t, axis=position_axes, keepdims=True) if position_axes else t

    if statistics is None:
        mean_x, variance_x = moments(x, axes, groups, centered)
    else:
        mean_x, variance_x = _statistics_of(x, *statistics, axes, groups)
    inv = ops.rsqrt(variance_x + epsilon)
    count = _count(x, axes) * (x.shape[-1] // groups)
    d_beta = sum_positions(upstream)
    if from_sums:
        if centered:
            d_gamma = (sum_positions(upstream * x) - mean_x * d_beta) * inv
            mean_g = group_sum(gamma * d_beta, beyond_positions, groups) / count
        else:
            d_gamma = sum_positions(upstream * x) * inv
            mean_g = 0.0
        mean_g_xhat = group_sum(gamma * d_gamma, beyond_positions, groups) / count
        # d_x = inv * (gamma * g - mean_g - (x - mean) * inv * mean_g_xhat)
        x_coefficient = -inv * inv * mean_g_xhat
        constant = -inv * mean_g - mean_x * x_coefficient
        if _xla_multiply_add_applies(x, statistics):
            d_x = _xla_multiply_add(len(x.shape), x.shape[-1],
                                    keras.backend.standardize_dtype(x.dtype))(
                upstream, gamma * inv, x, x_coefficient, constant)
        else:
            d_x = upstream * (gamma * inv) + (x * x_coefficient + constant)
    else:
        xhat = (x - mean_x) * inv if centered else x * inv
        d_gamma = sum_positions(upstream * xhat)
        scaled = upstream * gamma
        mean_g_xhat = group_sum(scaled * xhat, axes, groups) / count
        if centered:
            d_x = inv * (scaled - group_sum(scaled, axes, groups) / count
                         - xhat * mean_g_xhat)
        else:
            d_x = inv * (scaled - xhat * mean_g_xhat)
    return d_x, d_gamma, d_beta


def _xla_multiply_add_applies(x, statistics):
    """TensorFlow outside XLA, with the forward pass's statistics, a large enough input."""
    return (statistics is not None and keras.backend.backend() == "tensorflow"
            and XLA_GRADIENT and _known_size(x) >= XLA_GRADIENT_MIN_SIZE
            and not _compiled_with_xla())


@functools.cache
def _xla_multiply_add(rank, channels, dtype):
    """`u * a + (x * b + c)` (`u`, `x` input-sized; `a`, `b`, `c` per sample, channel or
    position) as a TensorFlow function compiled with XLA: one loop over the elements, where
    TensorFlow's graph runs each product and sum as its own pass over memory (batch,
    instance and group norm's d_x; BENCHMARKS.md, "Layer speed")."""
    import tensorflow as tf

    def function(u, a, x, b, c):
        return u * a + (x * b + c)

    spec = tf.TensorSpec([None] * (rank - 1) + [channels], dtype)
    factor = tf.TensorSpec([None] * rank, dtype)
    return tf.function(function, jit_compile=True,
                       input_signature=[spec, factor, spec, factor, factor])


def single_instance_available(x, axes):
    """Whether `normalize_single_instance` applies: TensorFlow, one 4-D sample, spatial axes."""
    return (keras.backend.backend() == "tensorflow" and len(x.shape) == 4
            and x.shape[0] == 1 and list(axes) == [1, 2])


def normalize_single_instance(x, mean, variance, gamma, beta, epsilon):
    """`normalize` for one picture `(1, H, W, C)`, by TensorFlow's fused batch-norm kernel.

    For a batch of one, the statistics of instance and group norm are
    per-channel values (a group's repeated over its channels), so the fused kernel of batch normalization in inference mode applies them and
    the affine in one pass (and graph optimization fuses a following ReLU into
    it), faster than `moments` and a separate multiply-add and ReLU. (Its training
    mode computes the statistics too, but in one pass, E[x^2] - E[x]^2, which
    loses the variance of a channel whose mean is large against its spread.)
    Inference only: training keeps `normalize` and its analytic gradient.

    Args:
        x: Float32 tensor `(1, H, W, C)` with a static batch of one.
        mean, variance: Its statistics from `moments` (C values, or one for one group).
        gamma, beta: The sample's affine parameters, C values each.
        epsilon: Added to the variance.
    """
    import tensorflow as tf

    def channels(values):
        return tf.broadcast_to(tf.reshape(values, [-1]), x.shape[-1:])

    return tf.compat.v1.nn.fused_batch_norm(
        x, channels(gamma), channels(beta), mean=channels(mean), variance=channels(variance),
        epsilon=epsilon, is_training=False,
    )[0]


def _count(x, axes):
    """Number of elements over `axes`: a Python number when shapes are static (integers:
    an unknown size is `None`, or a symbolic one while JAX exports with any size)."""
    dims = [x.shape[axis] for axis in axes]
    if all(isinstance(dim, int) for dim in dims):
        count = 1
        for dim in dims:
            count *= dim
        return float(count)
    shape = ops.shape(x)
    count = ops.cast(1.0, "float32")
    for axis in axes:
        count = count * ops.cast(shape[axis], "float32")
    return count
