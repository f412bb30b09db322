"""Normalization plus affine by PyTorch's own kernels, on the PyTorch backend.

Each Keras op on PyTorch is a Python dispatch (argument conversion, dtype checks)
before the kernel runs, and the statistics of `_fused.moments` take several ops and
passes over the input. PyTorch has one kernel, forward and backward, for each
statistics pattern of the family:

- layer norm (each position over its channels): `torch.nn.functional.layer_norm`;
- RMS norm (the same, uncentered): `torch.nn.functional.rms_norm`;
- instance and group norm (each sample over its positions and a group of channels):
  `torch.nn.functional.group_norm`, on a channels-first view of the channels-last
  input (PyTorch's channels-last kernel reads 4-D and 5-D inputs in place);

called without their own affine, then gamma and beta applied in one `torch.addcmul`
(gamma and beta are per sample, or per position for weight maps).

Group and instance norm with per-sample gamma and beta differentiate in closed form
instead (`cbn/_torch_group_norm.py`, the formulas of `cbn/_fused.py`): PyTorch's backward of
`group_norm` on a channels-last input is several times slower than on channels first, and
the `addcmul` backward costs as much again, where the closed form reads the input and the
upstream gradient a few times (BENCHMARKS.md, "Layer speed").

In MLP mode (float32, plain `Dense` layers) the MLP and gamma/beta are computed with
PyTorch operations too (`mlp_mode_call`): on small inputs the overhead of a Keras layer
call and of each Keras op over the PyTorch one is as much as the normalization itself.

Same formula as the other backends, so the same outputs and gradients up to float32
rounding (`tests/cbn/test_native.py` holds them to the Keras-ops path). Batch
statistics (batch norm in training) and stored statistics keep the Keras ops: they also
update or read moving averages.
"""

import keras


def available(x, axes, groups, centered):
    """Whether `normalize` applies: the PyTorch backend, and statistics per position over
    all channels (`axes` empty, one group) or, centered, per sample over every position."""
    if keras.backend.backend() != "torch":
        return False
    per_position = list(axes) == [] and groups == 1
    per_sample = list(axes) == list(range(1, len(x.shape) - 1))
    return per_position or (per_sample and centered)


def normalize(x, gamma, beta, epsilon, axes, groups, centered):
    """`gamma * (x - mean) / sqrt(variance + epsilon) + beta` by PyTorch kernels.

    Args:
        x: Float tensor, channels last: `(batch, *positions, channels)`.
        gamma, beta: Tensors that broadcast against `x`; beta may be `None`.
        epsilon: Added to the variance (to the mean square without centering).
        axes: The position axes the statistics span: none (each position over
            its channels) or all of them (see `available`).
        groups: Channel groups that share statistics (1: all channels).
        centered: `False` for RMS normalization (mean 0, variance the mean square).
    """
    import torch.nn.functional as F

    channels = x.shape[-1]
    if list(axes) == [] and groups == 1:
        if centered:
            normalized = F.layer_norm(x, (channels,), eps=epsilon)
        else:
            normalized = F.rms_norm(x, (channels,), eps=epsilon)
    elif beta is not None and all(size == 1 for size in gamma.shape[1:-1]):
        from cbn._torch_group_norm import GroupNormAffine  # imports torch: PyTorch only

        return GroupNormAffine.apply(x, gamma, beta, groups, epsilon)
    else:
        channels_first = x.movedim(-1, 1)
        normalized = F.group_norm(channels_first, groups, eps=epsilon).movedim(1, -1)
    if beta is None:
        return normalized * gamma
    return beta.addcmul(normalized, gamma)


def whole_layer_available(layer, inputs, training):
    """Whether `mlp_mode_call` applies to this MLP-mode `layer` and `inputs`: the
    PyTorch backend, statistics that `normalize` computes, float32 throughout, and an
    MLP of plain `Dense` layers (no LoRA, no quantization)."""
    if keras.backend.backend() != "torch" or layer.compute_dtype != "float32":
        return False
    if keras.backend.standardize_dtype(inputs.dtype) != "float32":
        return False
    axes = layer._statistics_axes(len(inputs.shape), training)
    if axes is None or not available(inputs, axes, layer._groups, layer.CENTERED):
        return False
    return all(
        dense.quantization_mode is None and not dense.lora_enabled for dense in layer.mlp_layers
    )


def mlp_mode_call(layer, x, condition, training):
    """`layer(x, condition)` for an MLP-mode layer, by PyTorch operations.

    The same computation as `ConditionalNormalization.call`: the condition's
    activation, the MLP, gamma = gamma0 + delta_gamma and beta = beta0 +
    delta_beta per sample, then `normalize`.

    Args:
        layer: A built MLP-mode `ConditionalNormalization` for which
            `whole_layer_available` holds.
        x: float32 input `(batch, *positions, channels)`.
        condition: The checked float conditioning vector `(batch, D)`.
        training: The call's `training` argument.
    """
    import torch

    hidden = condition.to(torch.float32)
    if layer.condition_activation is not None:
        hidden = layer.condition_activation(hidden)
    for dense in layer.mlp_layers:
        kernel = dense.kernel.value
        hidden = hidden @ kernel if dense.bias is None else torch.addmm(
            dense.bias.value, hidden, kernel
        )
        if dense.activation is not keras.activations.linear:
            hidden = dense.activation(hidden)
    delta_gamma, delta_beta = layer._split_affine(hidden)
    affine_shape = (x.shape[0],) + (1,) * (len(x.shape) - 2) + (layer.channels,)
    gamma = (layer.gamma.value + delta_gamma).reshape(affine_shape)
    beta = None if delta_beta is None else (layer.beta.value + delta_beta).reshape(affine_shape)
    axes = layer._statistics_axes(len(x.shape), training)
    return normalize(x, gamma, beta, layer.epsilon, axes, layer._groups, layer.CENTERED)

