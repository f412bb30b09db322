"""Group norm and a per-sample affine as one PyTorch autograd function, closed-form gradient.

`gamma * group_norm(x) + beta` for channels-last `x` `(batch, *positions, channels)` and
per-sample gamma and beta `(batch, 1, ..., 1, channels)` (instance norm: one channel per
group). The forward pass is PyTorch's `native_group_norm` kernel (on the input, or on a
shifted copy where a group's mean is far from zero: `group_norm_statistics`) and one
`addcmul` in place (for instance norm on maps with no more positions than channels, two
reductions and one `addcmul`: that kernel is slow there); the backward pass is the closed
form of `cbn/_fused.py` for statistics over every position, where the means in d_x follow
from d_beta and d_gamma:

    d_beta  = sum_positions(g)
    d_gamma = (sum_positions(g * x) - mean * d_beta) * inv
    d_x     = g * gamma * inv + x * (-inv^2 * mean_g_xhat) + (-inv * mean_g + mean * inv^2 * mean_g_xhat)

with `mean_g` and `mean_g_xhat` the group means of `gamma * d_beta` and `gamma * d_gamma`.
PyTorch's own backward of `group_norm` on a channels-last input is several times slower
than on channels first, and the `addcmul` backward costs as much again.

Imported by `cbn/_native.py` on the PyTorch backend only (it imports torch).
"""

import math

import torch


def group_shift(x, groups):
    """`(batch, 1, ..., 1, channels)`: each sample's values at its first position, averaged
    over each group's channels. PyTorch's group-norm kernel on a channels-last input takes
    the variance in one pass, E[x^2] - E[x]^2, in float32, which cancels to noise when a
    group's mean is large against its spread (instance norm of 1000 +- 1 came out wrong by
    900); the statistics of `x - group_shift(x, groups)`, whose mean is within a few
    deviations of zero, do not, and normalizing it gives the same result."""
    first = x[(slice(None),) + (0,) * (x.dim() - 2)]
    return _channel_view(first.reshape(x.shape[0], groups, x.shape[-1] // groups).mean(-1), x)


# The most positions of each sample that `_looks_centered` reads (a few of a large map).
SAMPLED_POSITIONS = 256


def group_norm_statistics(x, groups, epsilon):
    """`(normalized, mean, rstd)`: `x` `(batch, *positions, channels)` normalized by PyTorch's
    `native_group_norm`, channels first, and each group's mean and reciprocal standard
    deviation `(batch, groups)`.

    The kernel's variance is one-pass (see `group_shift`). On a CPU, where the first positions
    of each sample suggest that every group's mean lies within half a standard deviation of
    zero (`_looks_centered`, as in many activations), the kernel sees `x` itself, and its
    result is kept if every group's mean is within one standard deviation of zero: there its
    one-pass variance is as accurate as that of the shifted input, and `x` is read once.
    Otherwise (and on other devices, where the checks would wait for the device) the kernel
    sees `x` minus `group_shift(x, groups)`, an input-sized copy, and the mean is shifted back.
    """
    batch, channels = x.shape[0], x.shape[-1]
    positions = math.prod(x.shape[1:-1])
    # A channels-last tensor viewed channels first is already in PyTorch's channels_last
    # layout for 4-D and 5-D inputs (no copy); other ranks are copied.
    memory_format = {4: torch.channels_last, 5: torch.channels_last_3d}.get(
        x.dim(), torch.contiguous_format)

    def statistics(t):
        return torch.native_group_norm(t.movedim(-1, 1).contiguous(memory_format=memory_format),
                                       None, None, batch, channels, positions, groups, epsilon)

    if x.device.type == "cpu" and x.is_contiguous() and _looks_centered(x, groups):
        normalized, mean, rstd = statistics(x)
        if bool((mean.square() <= rstd.pow(-2) - epsilon).all()):
            return normalized, mean, rstd
        del normalized
    shift = group_shift(x, groups)
    normalized, mean, rstd = statistics(x - shift)
    return normalized, mean + shift.reshape(batch, groups, channels // groups)[..., 0], rstd


def _looks_centered(x, groups):
    """Whether, over the first positions of each sample (an eighth of them, at most
    `SAMPLED_POSITIONS`), every group's mean lies within half a standard deviation of zero.
    A guess only (one-pass statistics of a few values): `group_norm_statistics` checks the
    kernel's own."""
    if x.numel() == 0:  # nothing to sample (the shifted path gives the empty result)
        return False
    batch, channels = x.shape[0], x.shape[-1]
    positions = math.prod(x.shape[1:-1])
    sampled = x.reshape(batch, positions, channels)[:, :max(1, min(SAMPLED_POSITIONS,
                                                                   positions // 8))]
    grouped = sampled.reshape(batch, sampled.shape[1], groups, channels // groups)
    mean = grouped.mean((1, 3))
    variance = grouped.square().mean((1, 3)) - mean.square()
    return bool((mean.square() <= 0.25 * variance).all())


def _channel_view(per_group, x):
    """(batch, groups) statistics repeated over each group's channels, shaped like gamma."""
    channels = x.shape[-1]
    repeated = per_group.repeat_interleave(channels // per_group.shape[1], dim=1)
    return repeated.view((x.shape[0],) + (1,) * (x.dim() - 2) + (channels,))


def _group_mean(t, groups, count):
    """(batch, groups): `t` `(batch, 1, ..., 1, channels)` summed over each group's channels,
    divided by `count`."""
    return t.reshape(t.shape[0], groups, t.shape[-1] // groups).sum(-1) / count


class GroupNormAffine(torch.autograd.Function):
    """`GroupNormAffine.apply(x, gamma, beta, groups, epsilon)`: see the module docstring."""

    @staticmethod
    def forward(ctx, x, gamma, beta, groups, epsilon):
        batch, channels = x.shape[0], x.shape[-1]
        positions = math.prod(x.shape[1:-1])
        ctx.groups, ctx.epsilon = groups, epsilon
        if groups == channels and positions <= channels:
            # Instance norm on small maps: PyTorch's channels-last kernel is slow there
            # (statistics of 64 x 8 x 8 x 512: 8.7 ms; 2.8 ms on a channels-first copy), and
            # two reductions over the positions of the channels-last input take 0.6 ms (the
            # mean, then the mean squared deviation from it). Scale and shift fold into one
            # `addcmul` on the input, written over the squared deviations (one input-sized
            # buffer fewer to allocate and fault in: the forward pass in 0.67x the time).
            position_axes = tuple(range(1, x.dim() - 1))
            mean = x.mean(position_axes, keepdim=True)
            buffer = x - mean
            variance = buffer.mul_(buffer).mean(position_axes, keepdim=True)
            rstd = torch.rsqrt(variance + epsilon)
            scale = gamma * rstd
            ctx.save_for_backward(x, gamma, mean.view(batch, channels), rstd.view(batch, channels))
            return torch.addcmul(beta - mean * scale, x, scale, out=buffer)
        normalized, mean, rstd = group_norm_statistics(x, groups, epsilon)
        ctx.save_for_backward(x, gamma, mean, rstd)
        outputs = normalized.movedim(1, -1)
        if outputs.is_contiguous():
            # In place: one input-sized buffer fewer to allocate and fault in.
            return torch.addcmul(beta, outputs, gamma, out=outputs)
        return beta.addcmul(outputs, gamma)

    @staticmethod
    def backward(ctx, upstream):
        x, gamma, mean, rstd = ctx.saved_tensors
        groups = ctx.groups
        positions = tuple(range(1, x.dim() - 1))
        count = math.prod(x.shape[1:]) // groups
        if torch.is_grad_enabled():
            # This backward is itself differentiated (a gradient penalty): the statistics
            # must be functions of x for the second-order gradient to be exact.
            grouped = x.reshape(
                x.shape[0], math.prod(x.shape[1:-1]), groups, x.shape[-1] // groups)
            mean = grouped.mean((1, 3))
            rstd = torch.rsqrt(grouped.var((1, 3), unbiased=False) + ctx.epsilon)
        mean, inv = _channel_view(mean, x), _channel_view(rstd, x)

        def sum_positions(t):  # torch sums every axis for an empty tuple
            return t.sum(positions, keepdim=True) if positions else t

        # Without a recorded graph, d_x is written over the buffer of upstream * x once its
        # sums are taken: one input-sized buffer fewer to allocate and fault in. Recorded
        # (a gradient penalty), `out=` is not differentiable: a new tensor.
        reuse = not torch.is_grad_enabled() and bool(positions)
        product = upstream * x
        d_beta = sum_positions(upstream)
        d_gamma = (sum_positions(product) - mean * d_beta) * inv
        mean_g = _channel_view(_group_mean(gamma * d_beta, groups, count), x)
        mean_g_xhat = _channel_view(_group_mean(gamma * d_gamma, groups, count), x)
        x_coefficient = -inv * inv * mean_g_xhat
        constant = -inv * mean_g - mean * x_coefficient
        # The second product in place (autograd does not keep addcmul's output for its
        # backward).
        d_x = torch.addcmul(constant, x, x_coefficient, out=product if reuse else None)
        return d_x.addcmul_(upstream, gamma * inv), d_gamma, d_beta, None, None
