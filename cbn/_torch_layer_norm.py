"""Layer norm with a per-sample affine as one PyTorch autograd function, by PyTorch's fused
layer-norm kernels.

`gamma * layer_norm(x) + beta` for channels-last `x` `(batch, *positions, channels)` with
gamma and beta `(batch, 1, ..., 1, channels)`: the affine differs per sample, so PyTorch's
`layer_norm` cannot apply it for the whole batch (its weight is one `(channels,)` vector).

- Forward: `native_layer_norm` normalizes the whole batch, with a weight of ones
  (`unit_weight`), then one `addcmul` applies gamma and beta in place. With no weight at
  all, PyTorch's CPU kernel takes a path 2.2-3.3x slower than with one (0.55 against 0.17
  ms on 8 x 256 x 384 tokens, BENCHMARKS.md, "Layer speed").
- Backward: `native_layer_norm_backward` sample by sample, with that sample's gamma and
  beta as the kernel's weight and bias, returns d_x, d_gamma and d_beta in one pass per
  sample, each written into its slice of one output tensor (`out=`). The whole-batch
  alternative is the `addcmul`'s three input-sized products and two reductions besides the
  normalization's own backward: about twice the time.

A loop over samples costs one kernel dispatch per sample, so `_native.normalize` takes this
path only when a sample holds at least `MIN_SAMPLE_SIZE` values, and only where autograd
records: without it the whole-batch normalization and an in-place affine are all there is.

Imported by `cbn/_native.py` on the PyTorch backend only (it imports torch).
"""

import torch
import torch.nn.functional as F

# Values per sample from which one dispatch per sample costs little against its work
# (256 tokens of 128 channels).
MIN_SAMPLE_SIZE = 32768

_aten = torch.ops.aten


def unit_weight(x):
    """A `(channels,)` weight of ones for PyTorch's layer norm of `x`: its CPU kernel runs
    2.2-3.3x faster with a weight than without one (see the module docstring)."""
    return x.new_ones(x.shape[-1])


def _forward(x, gamma, beta, epsilon):
    """(outputs, mean, rstd): the normalized and affine-mapped `x`, and the statistics
    `(batch, *positions, 1)` that the backward pass reads."""
    outputs, mean, rstd = _aten.native_layer_norm(x, [x.shape[-1]], unit_weight(x), None,
                                                  epsilon)
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    return torch.addcmul(beta.view(shape), outputs, gamma.view(shape), out=outputs), mean, rstd


class LayerNormAffine(torch.autograd.Function):
    """`LayerNormAffine.apply(x, gamma, beta, epsilon)`, gamma and beta `(batch, channels)`,
    `x` contiguous: see the module docstring."""

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
        channels = x.shape[-1]
        upstream = upstream.contiguous()
        d_x = torch.empty_like(x)
        d_gamma = torch.empty_like(gamma)
        d_beta = torch.empty_like(beta)
        # Each tensor's per-sample views by one `unbind` (one call, where indexing sample by
        # sample took 10 calls per sample, 0.1 ms per step on 8 samples).
        for upstream_, x_, mean_, rstd_, gamma_, beta_, d_x_, d_gamma_, d_beta_ in zip(
                *(t.unbind(0) for t in (upstream, x, mean, rstd, gamma, beta, d_x, d_gamma,
                                        d_beta))):
            _aten.native_layer_norm_backward.out(
                upstream_, x_, [channels], mean_, rstd_, gamma_, beta_, [True, True, True],
                out0=d_x_, out1=d_gamma_, out2=d_beta_)
        return d_x, d_gamma, d_beta, None


def _recorded_backward(ctx, upstream, x, gamma, beta):
    """The gradients of `LayerNormAffine` as recorded PyTorch operations on the saved
    inputs (so that they can be differentiated again)."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    normalized = F.layer_norm(x, (x.shape[-1],), unit_weight(x), eps=ctx.epsilon)
    outputs = normalized * gamma.view(shape) + beta.view(shape)
    return recorded_gradients(ctx, upstream, (x, gamma, beta), outputs)


def recorded_gradients(ctx, upstream, inputs, outputs):
    """`backward`'s return value for an autograd function of `inputs` (x, gamma, beta or
    `None`, then one non-tensor argument) whose `outputs` were computed again by recorded
    operations: their gradients along `upstream`, themselves differentiable."""
    needed = ctx.needs_input_grad[:len(inputs)]
    wanted = [t for t, need in zip(inputs, needed) if need]
    grads = iter(torch.autograd.grad(outputs, wanted, upstream, create_graph=True))
    return tuple(next(grads) if need else None for need in needed) + (None,)
