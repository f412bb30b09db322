"""RMS norm with an affine as one PyTorch autograd function, closed-form gradient.

`gamma * x / sqrt(mean_channels(x^2) + epsilon) + beta` for channels-last `x`
`(batch, *positions, channels)`, gamma and beta broadcasting against it (per sample, or per
position for weight maps; beta may be `None`). PyTorch's `rms_norm` on a CPU is composed of
elementwise operations (the square, the mean, the product) whose autograd backward, with
the affine's, reads and writes input-sized tensors about ten times; here the forward pass
is one 2-norm reduction and two products, and the backward pass the closed form

    xhat    = x * rstd,   g = upstream * gamma
    d_x     = rstd * (g - xhat * mean_channels(g * xhat))
    d_gamma = upstream * xhat, d_beta = upstream  (summed to gamma's and beta's shapes)

Imported by `cbn/_native.py` on the PyTorch backend only (it imports torch).
"""

import torch

from cbn._torch_layer_norm import recorded_gradients


def rstd(x, epsilon):
    """1 / sqrt(mean_channels(x^2) + epsilon), `(batch, *positions, 1)`, by one reduction."""
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return norm.square_().div_(x.shape[-1]).add_(epsilon).rsqrt_()


def _sum_to(t, shape):
    """`t` summed over the axes where `shape` has size 1 (gamma's or beta's shape)."""
    axes = tuple(axis for axis, size in enumerate(shape) if size == 1 and t.shape[axis] != 1)
    return t.sum(axes, keepdim=True) if axes else t


class RMSNormAffine(torch.autograd.Function):
    """`RMSNormAffine.apply(x, gamma, beta, epsilon)`: see the module docstring. gamma and
    beta have x's rank."""

    @staticmethod
    def forward(ctx, x, gamma, beta, epsilon):
        inverse = rstd(x, epsilon)
        normalized = x * inverse
        ctx.save_for_backward(x, gamma, beta, normalized, inverse)
        ctx.epsilon = epsilon
        if beta is None:
            return normalized * gamma
        return torch.addcmul(beta, normalized, gamma)

    @staticmethod
    def backward(ctx, upstream):
        x, gamma, beta, normalized, inverse = ctx.saved_tensors
        if torch.is_grad_enabled():
            # This backward is itself differentiated (a gradient penalty): autograd's own
            # gradient of the same formula, recorded.
            return _recorded_backward(ctx, upstream, x, gamma, beta)
        needs_x, needs_gamma, needs_beta = ctx.needs_input_grad[:3]
        d_x = d_gamma = d_beta = None
        if needs_x:
            scaled = upstream * gamma
            mean_product = torch.linalg.vecdot(scaled, normalized).unsqueeze_(-1)
            d_x = scaled.sub_(normalized * mean_product.div_(x.shape[-1])).mul_(inverse)
        if needs_gamma:
            d_gamma = _sum_to(upstream * normalized, gamma.shape)
        if needs_beta:
            d_beta = _sum_to(upstream, beta.shape)
        return d_x, d_gamma, d_beta, None


def _recorded_backward(ctx, upstream, x, gamma, beta):
    """The gradients of `RMSNormAffine` as recorded PyTorch operations on the saved inputs
    (so that they can be differentiated again)."""
    outputs = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + ctx.epsilon) * gamma
    if beta is not None:
        outputs = outputs + beta
    return recorded_gradients(ctx, upstream, (x, gamma, beta), outputs)
