"""Normalization plus affine by PyTorch's own kernels, on the PyTorch backend.

Each Keras op on PyTorch is a Python dispatch (argument conversion, dtype
checks) before the kernel runs, and the statistics of `_fused.moments` take
several ops and passes over the input. PyTorch has one kernel, forward and
backward, for each statistics pattern of the family:

- layer norm (each position over its channels): `torch.nn.functional.layer_norm`;
- RMS norm (the same, uncentered): `torch.nn.functional.rms_norm`;
- instance and group norm (each sample over its positions and a group of
  channels): `torch.nn.functional.group_norm`, on a channels-first view of the
  channels-last input (PyTorch's channels-last kernel reads it in place for
  4-D inputs);

called without their own affine, then gamma and beta applied in one
`torch.addcmul` (gamma and beta are per sample, or per position for weight
maps). Same formula as the other backends, so the same outputs and gradients
up to float32 rounding (`tests/cbn/test_native.py` holds them to the Keras-ops
path). Batch statistics (batch norm in training) and stored statistics keep the
Keras ops: they also update or read moving averages.
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
    else:
        channels_first = x.movedim(-1, 1)
        normalized = F.group_norm(channels_first, groups, eps=epsilon).movedim(1, -1)
    if beta is None:
        return normalized * gamma
    return beta.addcmul(normalized, gamma)
