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
or token axes). When the statistics span every position (batch, instance and
group norm), both `mean_A` terms follow from `d_beta` and `d_gamma` (a sum over
the batch for batch statistics, over the channels of a group for group
statistics, nothing more for instance statistics), so the backward pass reads
`x` and `g` twice and writes `d_x` once. When each position has statistics of its
own (layer norm: over the channels of one token), the means are taken per
position directly.

The gradient function recomputes the statistics from `x` with ordinary ops rather
than reusing the forward pass's values: that costs one reduction, and keeps the
gradient itself differentiable, so second-order gradients (gradient penalties,
path-length regularization) are exact.

TensorFlow and JAX only: Keras's PyTorch `custom_gradient` swallows errors from
the forward function, so that backend keeps automatic differentiation.
"""

import keras
from keras import ops

BACKENDS = ("tensorflow", "jax")


def available():
    """Whether this backend uses the analytic gradient."""
    return keras.backend.backend() in BACKENDS


def moments(x, axes):
    """Mean and (biased) variance over `axes`, kept as size-1 axes; variance >= 0.

    Two passes (the mean, then the mean squared deviation from it), each summed
    one axis at a time, last axis first. TensorFlow's float32 reduction over
    both axes of a 1024 x 1024 map at once accumulated with a relative error of
    4e-4 (on values 100 +- 3), enough to move a stylized 1024 px picture by 1e-2;
    axis by axis each sum covers one side of the map: 2e-7, and a third faster.
    """
    mean = _mean_axis_by_axis(x, axes)
    variance = _mean_axis_by_axis(_squared_difference(x, mean), axes)
    return mean, variance


def _mean_axis_by_axis(x, axes):
    for axis in sorted(axes, reverse=True):
        x = ops.mean(x, axis=axis, keepdims=True)
    return x


def _squared_difference(x, mean):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.math.squared_difference(x, mean)  # one pass instead of two
    return ops.square(x - mean)


def normalize(x, mean, variance, gamma, beta, epsilon, axes, position_axes):
    """`gamma * (x - mean) / sqrt(variance + epsilon) + beta` with the analytic gradient.

    Args:
        x: Float tensor, channels last, its channels possibly split into groups:
            `(batch, *positions, channels)` or `(batch, *positions, groups,
            channels_per_group)`.
        mean, variance: x's statistics over `axes` from `moments`, already
            computed for the forward pass (their own gradients are not used:
            the gradient with respect to `x` accounts for them).
        gamma, beta: Per-sample affine parameters, size 1 along
            `position_axes`: `(batch, 1, ..., 1, channels)` or `(batch, 1, ...,
            1, groups, channels_per_group)`.
        epsilon: Added to the variance.
        axes: The axes of `x` the statistics are over.
        position_axes: The axes of `x` that gamma and beta are constant along.

    Returns:
        The normalized tensor, shaped like `x`.
    """
    axes = list(axes)
    position_axes = tuple(position_axes)
    # Statistics that span every position: the means in d_x follow from d_beta and d_gamma.
    from_sums = set(position_axes) <= set(axes)
    beyond_positions = [axis for axis in axes if axis not in position_axes]

    def sum_positions(t):
        return ops.sum(t, axis=position_axes, keepdims=True) if position_axes else t

    def sum_beyond_positions(t):
        return ops.sum(t, axis=beyond_positions, keepdims=True) if beyond_positions else t

    @ops.custom_gradient
    def forward(x, gamma, beta):
        scale = gamma * ops.rsqrt(variance + epsilon)
        outputs = x * scale + (beta - mean * scale)

        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            mean_x, variance_x = moments(x, axes)  # differentiable in x: see above
            inv = ops.rsqrt(variance_x + epsilon)
            d_beta = sum_positions(upstream)
            if from_sums:
                d_gamma = (sum_positions(upstream * x) - mean_x * d_beta) * inv
                count = _count(x, axes)
                mean_g = sum_beyond_positions(gamma * d_beta) / count
                mean_g_xhat = sum_beyond_positions(gamma * d_gamma) / count
                # d_x = inv * (gamma * g - mean_g - (x - mean) * inv * mean_g_xhat)
                x_coefficient = -inv * inv * mean_g_xhat
                constant = -inv * mean_g - mean_x * x_coefficient
                d_x = upstream * (gamma * inv) + (x * x_coefficient + constant)
            else:
                xhat = (x - mean_x) * inv
                d_gamma = sum_positions(upstream * xhat)
                scaled = upstream * gamma
                mean_g = ops.mean(scaled, axis=axes, keepdims=True)
                mean_g_xhat = ops.mean(scaled * xhat, axis=axes, keepdims=True)
                d_x = inv * (scaled - mean_g - xhat * mean_g_xhat)
            return d_x, d_gamma, d_beta

        return outputs, gradient

    return forward(x, gamma, beta)


def single_instance_available(x, axes):
    """Whether `normalize_single_instance` applies: TensorFlow, one 4-D sample, spatial axes."""
    return (keras.backend.backend() == "tensorflow" and len(x.shape) == 4
            and x.shape[0] == 1 and list(axes) == [1, 2])


def normalize_single_instance(x, mean, variance, gamma, beta, epsilon):
    """`normalize` for one picture `(1, H, W, C)`, by TensorFlow's fused batch-norm kernel.

    For a batch of one the instance statistics are per-channel statistics, so
    the fused kernel of batch normalization in inference mode applies them and
    the affine in one pass (and graph optimization fuses a following ReLU into
    it): on a 1024 x 1024 x 32 map with `moments`, 202 ms instead of 292 ms for
    the multiply-add and ReLU on the 2-core CPU of BENCHMARKS.md. (Its training
    mode computes the statistics too, but in one pass, E[x^2] - E[x]^2, which
    loses the variance of a channel whose mean is large against its spread.)
    Inference only: training keeps `normalize` and its analytic gradient.

    Args:
        x: Float32 tensor `(1, H, W, C)` with a static batch of one.
        mean, variance: Its statistics from `moments` (any shape of C values).
        gamma, beta: The sample's affine parameters, C values each.
        epsilon: Added to the variance.
    """
    import tensorflow as tf

    def channels(values):
        return tf.reshape(values, [-1])

    return tf.compat.v1.nn.fused_batch_norm(
        x, channels(gamma), channels(beta), mean=channels(mean), variance=channels(variance),
        epsilon=epsilon, is_training=False,
    )[0]


def _count(x, axes):
    """Number of elements that share one mean: a Python number when shapes are static."""
    dims = [x.shape[axis] for axis in axes]
    if None not in dims:
        count = 1
        for dim in dims:
            count *= dim
        return float(count)
    shape = ops.shape(x)
    count = ops.cast(1.0, "float32")
    for axis in axes:
        count = count * ops.cast(shape[axis], "float32")
    return count
