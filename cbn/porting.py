"""Weights of `norm(x) * (1 + scale(c)) + shift(c)` adaptive norms, loaded into a `cbn` layer.

DiT, diffusers' `AdaGroupNorm` / `AdaLayerNormZero` / `AdaLayerNormContinuous` and
keras-hub's `AdaptiveLayerNormalization` predict a scale and a shift with one linear
map of the (activated) condition `a` and apply them as `norm(x) * (1 + scale) + shift`,
where `norm` may have an affine of its own (`norm_gamma * xhat + norm_beta`). Expanded,
that is the family's `gamma(c) * xhat + beta(c)` with

    gamma(c) = norm_gamma + a @ (scale_kernel * norm_gamma) + scale_bias * norm_gamma
    beta(c)  = norm_beta + a @ (scale_kernel * norm_beta + shift_kernel)
               + scale_bias * norm_beta + shift_bias

so a `cbn` layer with `mlp_units=()` computes exactly the peer's function once its
gamma0/beta0 and output layer hold these values. The porting table in `docs/layers.md`
says which rows of each peer's weight are the scale and the shift.
"""

import numpy as np


def load_scale_shift(layer, scale_kernel, scale_bias=None, shift_kernel=None, shift_bias=None,
                     norm_gamma=None, norm_beta=None):
    """Makes `layer` compute `(norm_gamma * xhat + norm_beta) * (1 + scale(c)) + shift(c)`.

    `scale(c) = a @ scale_kernel + scale_bias` and `shift(c) = a @ shift_kernel +
    shift_bias`, with `a` the condition after the layer's `condition_activation`.
    Kernels are in Keras's layout `(D, channels)`: a PyTorch `nn.Linear` weight is
    `(channels, D)` and must be transposed.

    Args:
        layer: A built MLP-mode `cbn` layer with a linear map (`mlp_units=()`).
        scale_kernel: `(D, channels)`.
        scale_bias: `(channels,)`, or `None` for a map without bias.
        shift_kernel: `(D, channels)`, or `None` for a peer without a shift
            (zeros). A layer without beta (`ConditionalRMSNormalization(center=False)`)
            takes no shift.
        shift_bias: `(channels,)`, or `None`.
        norm_gamma: The normalization's own scale `(channels,)`, if it has one
            (`elementwise_affine=True` in diffusers); `None`: ones.
        norm_beta: The normalization's own shift `(channels,)`; `None`: zeros.

    Returns:
        `layer`, for chaining.
    """
    _check_layer(layer)
    channels, condition_dim = layer.channels, layer.condition_dim
    has_beta = layer.beta is not None
    if not has_beta and (shift_kernel is not None or shift_bias is not None
                         or norm_beta is not None):
        raise ValueError(
            f"load_scale_shift: {layer._describe()} has no beta (center=False), so it cannot "
            f"take a shift or a norm_beta; build it with center=True."
        )
    scale_kernel = _array("scale_kernel", scale_kernel, (condition_dim, channels))
    scale_bias = _array("scale_bias", scale_bias, (channels,))
    shift_kernel = _array("shift_kernel", shift_kernel, (condition_dim, channels))
    shift_bias = _array("shift_bias", shift_bias, (channels,))
    norm_gamma = _array("norm_gamma", norm_gamma, (channels,), default=1.0)
    norm_beta = _array("norm_beta", norm_beta, (channels,))

    kernels = [scale_kernel * norm_gamma]
    biases = [scale_bias * norm_gamma]
    if has_beta:
        kernels.append(scale_kernel * norm_beta + shift_kernel)
        biases.append(scale_bias * norm_beta + shift_bias)
        layer.beta.assign(norm_beta)
    layer.gamma.assign(norm_gamma)
    head = layer.mlp_layers[-1]
    head.kernel.assign(np.concatenate(kernels, axis=1))
    head.bias.assign(np.concatenate(biases))
    return layer


def _check_layer(layer):
    describe = getattr(layer, "_describe", lambda: repr(layer))
    if getattr(layer, "mlp_units", None) != () or not layer.built:
        raise ValueError(
            f"load_scale_shift: expected a built cbn layer with a linear map "
            f"(mlp_units=(), called once); received {describe()} with "
            f"mlp_units={getattr(layer, 'mlp_units', None)!r}, built={layer.built}."
        )


def _array(name, value, shape, default=0.0):
    if value is None:
        return np.full(shape, default, "float32")
    array = np.asarray(value, "float32")
    if array.shape != shape:
        raise ValueError(
            f"load_scale_shift: `{name}` must have shape {shape} (Keras layout: "
            f"(condition dim, channels) for a kernel); received shape {array.shape}."
        )
    return array
