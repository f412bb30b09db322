"""Layer norm with a per-sample affine as one PyTorch autograd function, by PyTorch's fused
layer-norm kernels applied sample by sample.

`gamma * layer_norm(x) + beta` for channels-last `x` `(batch, *positions, channels)` with
gamma and beta `(batch, 1, ..., 1, channels)`: the affine differs per sample, so PyTorch's
`layer_norm` cannot apply it for the whole batch (its weight is one `(channels,)` vector),
but it can for each sample. Sample by sample, `native_layer_norm` normalizes and applies
gamma and beta in one pass, and `native_layer_norm_backward` returns d_x, d_gamma and d_beta
in one pass, each writing into its slice of one output tensor (`out=`). The whole-batch
alternative is a normalization, an `addcmul` and, backward, the `addcmul`'s three
input-sized products and two reductions besides the normalization's own backward: about
twice the time of a training step on two CPU cores (BENCHMARKS.md, "Layer speed").

A loop over samples costs one kernel dispatch per sample, so `_native.normalize` takes this
path only when a sample holds at least `MIN_SAMPLE_SIZE` values, and only where autograd
records: without it the whole-batch normalization and an in-place affine allocate less.

Imported by `cbn/_native.py` on the PyTorch backend only (it imports torch).
"""

import torch
import torch.nn.functional as F

# Values per sample from which one dispatch per sample costs little against its work
# (256 tokens of 128 channels).
MIN_SAMPLE_SIZE = 32768

_aten = torch.ops.aten


def _statistics_views(statistics, x, index):
    """Sample `index`'s slice of `(batch, positions, 1)` statistics, shaped for `x[index]`."""
    return statistics[index].view(x.shape[1:-1] + (1,))


def _forward(x, gamma, beta, epsilon):
    """(outputs, mean, rstd): the normalized and affine-mapped `x`, and the statistics
    `(batch, positions, 1)` that the backward pass reads."""
    batch, channels = x.shape[0], x.shape[-1]
    outputs = torch.empty_like(x)
    mean = x.new_empty((batch, x[0].numel() // channels, 1))
    rstd = torch.empty_like(mean)
    for index in range(batch):
        _aten.native_layer_norm.out(
            x[index], [channels], gamma[index], None if beta is None else beta[index],
            epsilon, out0=outputs[index], out1=_statistics_views(mean, x, index),
            out2=_statistics_views(rstd, x, index))
    return outputs, mean, rstd


class LayerNormAffine(torch.autograd.Function):
    """`LayerNormAffine.apply(x, gamma, beta, epsilon)`, gamma and beta `(batch, channels)`
    (beta may be `None`), `x` contiguous: see the module docstring."""

    @staticmethod
    def forward(ctx, x, gamma, beta, epsilon):
        outputs, mean, rstd = _forward(x, gamma, beta, epsilon)
        ctx.save_for_backward(x, gamma, beta, mean, rstd)
        ctx.epsilon = epsilon
        return outputs

    @staticmethod
    def backward(ctx, upstream):
        x, gamma, beta, mean, rstd = ctx.saved_tensors
        if torch.is_grad_enabled():
            # This backward is itself differentiated (a gradient penalty): autograd's
            # own gradient of the same formula, recorded.
            return _recorded_backward(ctx, upstream, x, gamma, beta)
        batch, channels = x.shape[0], x.shape[-1]
        upstream = upstream.contiguous()
        d_x = torch.empty_like(x)
        d_gamma = torch.empty_like(gamma)
        d_beta = None if beta is None else torch.empty_like(beta)
        for index in range(batch):
            _aten.native_layer_norm_backward.out(
                upstream[index], x[index], [channels], _statistics_views(mean, x, index),
                _statistics_views(rstd, x, index), gamma[index],
                None if beta is None else beta[index], [True, True, beta is not None],
                out0=d_x[index], out1=d_gamma[index],
                out2=d_x.new_empty(0) if beta is None else d_beta[index])
        return d_x, d_gamma, d_beta, None


def _recorded_backward(ctx, upstream, x, gamma, beta):
    """The gradients of `LayerNormAffine` as recorded PyTorch operations on the saved
    inputs (so that they can be differentiated again)."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    outputs = F.layer_norm(x, (x.shape[-1],), eps=ctx.epsilon) * gamma.view(shape)
    if beta is not None:
        outputs = outputs + beta.view(shape)
    return recorded_gradients(ctx, upstream, (x, gamma, beta), outputs)


def recorded_gradients(ctx, upstream, inputs, outputs):
    """`backward`'s return value for an autograd function of `inputs` (x, gamma, beta or
    `None`, then one non-tensor argument) whose `outputs` were computed again by recorded
    operations: their gradients along `upstream`, themselves differentiable."""
    needed = ctx.needs_input_grad[:len(inputs)]
    wanted = [t for t, need in zip(inputs, needed) if need]
    grads = iter(torch.autograd.grad(outputs, wanted, upstream, create_graph=True))
    return tuple(next(grads) if need else None for need in needed) + (None,)
