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

called without their own affine (layer norm with a weight of ones: PyTorch's CPU kernel is
2.2-3.3x slower with none), then gamma and beta applied in one `torch.addcmul` (gamma and
beta are per sample, or per position for weight maps). Where autograd records, layer norm
with per-sample gamma and beta on large enough samples is one function whose backward is
PyTorch's fused layer-norm backward, affine included, sample by sample
(`cbn/_torch_layer_norm.py`): one kernel per sample where the `addcmul`'s backward takes
three input-sized products besides the normalization's own. RMS norm with autograd is one
function with a closed-form gradient (`cbn/_torch_rms_norm.py`): PyTorch's `rms_norm` on a
CPU is a composite of elementwise operations, each differentiated on its own.

Group and instance norm with per-sample gamma and beta differentiate in closed form
instead (`cbn/_torch_group_norm.py`, the formulas of `cbn/_fused.py`): PyTorch's backward of
`group_norm` on a channels-last input is several times slower than on channels first, and
the `addcmul` backward costs as much again, where the closed form reads the input and the
upstream gradient a few times (BENCHMARKS.md, "Layer speed").

In MLP mode (float32, plain `Dense` layers) the MLP and gamma/beta are computed with
PyTorch operations too (`mlp_mode_call`): on small inputs the overhead of a Keras layer
call and of each Keras op over the PyTorch one is as much as the normalization itself.

Called eagerly on PyTorch tensors, an MLP-mode layer also skips Keras's `Layer.__call__`
when that machinery has nothing to do for the call (`direct_call_available`, like PyTorch's
own fast path for `nn.MultiheadAttention`): no conversion, no build, no mask, no autocast
or distribution scope, no module hook, no `training`-dependent statistics. That machinery
costs 0.1-0.3 ms per call on two CPU cores, as much as normalizing 8 x 256 x 384 tokens
(BENCHMARKS.md, "Adaptive norms against diffusers and keras-hub").

Under `torch.compile` (Keras's `jit_compile=True` on PyTorch) the layers keep the Keras
ops, which trace into one graph: the group-norm path picks its kernel by the input's values,
which broke the graph at every call (`fit` of a small model under `jit_compile=True`: 69
graph breaks and 358 recompilations before, none from the layers after).

Same formula as the other backends, so the same outputs and gradients up to float32
rounding (`tests/cbn/test_native.py` holds them to the Keras-ops path). Stored statistics
(batch norm at inference) keep the Keras ops. Batch norm in training with per-sample
gamma and beta (float32) is one function with a closed-form gradient that also returns
the batch's statistics for the moving averages (`cbn/_torch_batch_norm.py`); with
per-position gamma and beta, or with a Keras mask, it keeps the Keras ops.
"""

import keras

try:  # Keras's own check for an enclosing autocast scope; without it, no direct call.
    from keras.src.backend.common.variables import get_autocast_scope
except ImportError:  # pragma: no cover - another Keras layout
    get_autocast_scope = None


def available(x, axes, groups, centered):
    """Whether `normalize` applies: the PyTorch backend, not traced (`_tracing`), and
    statistics per position over all channels (`axes` empty, one group) or, centered, per
    sample over every position."""
    if keras.backend.backend() != "torch" or _tracing():
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
    records = _records_gradients(x, gamma, beta)
    if list(axes) == [] and groups == 1:
        if (centered and records and beta is not None and x.shape[0]
                and _per_sample(x, gamma, beta)):
            from cbn._torch_layer_norm import MIN_SAMPLE_SIZE, LayerNormAffine

            if x.numel() // x.shape[0] >= MIN_SAMPLE_SIZE:
                batch = x.shape[0]
                return LayerNormAffine.apply(
                    x.contiguous(), gamma.reshape(batch, channels),
                    beta.reshape(batch, channels), epsilon)
        if centered:
            from cbn._torch_layer_norm import unit_weight

            normalized = F.layer_norm(x, (channels,), unit_weight(x), eps=epsilon)
        else:
            from cbn import _torch_rms_norm

            if not records:
                # One reduction (the 2-norm) and one product, where `rms_norm` on a CPU
                # squares the input into a buffer of its size first.
                normalized = x * _torch_rms_norm.rstd(x, epsilon)
            elif gamma.dim() == x.dim() and (beta is None or beta.dim() == x.dim()):
                return _torch_rms_norm.RMSNormAffine.apply(x, gamma, beta, epsilon)
            else:
                normalized = F.rms_norm(x, (channels,), eps=epsilon)
    elif beta is not None and all(size == 1 for size in gamma.shape[1:-1]):
        from cbn._torch_group_norm import GroupNormAffine  # imports torch: PyTorch only

        return GroupNormAffine.apply(x, gamma, beta, groups, epsilon)
    else:
        from cbn._torch_group_norm import group_norm_statistics

        # The input itself or a shifted copy (PyTorch's channels-last variance is one-pass).
        normalized = group_norm_statistics(x, groups, epsilon)[0].movedim(1, -1)
    if not records:
        # Nothing to differentiate: the affine overwrites the normalized tensor in place,
        # one output buffer fewer to allocate and fault in.
        normalized = normalized.mul_(gamma)
        return normalized if beta is None else normalized.add_(beta)
    if beta is None:
        return normalized * gamma
    return beta.addcmul(normalized, gamma)


def batch_statistics_available(x, gamma, beta):
    """Whether `normalize_with_batch_statistics` applies: the PyTorch backend, float32,
    and per-sample gamma and beta (not per position)."""
    if keras.backend.backend() != "torch" or beta is None or _tracing():
        return False
    return all(keras.backend.standardize_dtype(t.dtype) == "float32"
               for t in (x, gamma, beta)) and _per_sample(x, gamma, beta)


def normalize_with_batch_statistics(x, gamma, beta, epsilon):
    """Batch norm in training with per-sample gamma and beta, closed-form gradient
    (`cbn/_torch_batch_norm.py`): `(outputs, mean, variance)`, the statistics `(channels,)`
    for the moving averages."""
    from cbn._torch_batch_norm import BatchNormAffine  # imports torch: PyTorch only

    return BatchNormAffine.apply(x, gamma, beta, epsilon)


def _tracing():
    """Whether `torch.compile` (Keras's `jit_compile=True` on PyTorch) or an exporter
    (`torch.onnx.export`, which Keras's `model.export(format="onnx")` calls, `torch.jit.trace`,
    `torch.export`) is tracing this call. The kernels here choose their path by the input's
    values (`_torch_group_norm`), which would break a compiled graph and recompile, and run
    as `torch.autograd.Function`s, which the exporters cannot write; the Keras ops trace into
    one graph of standard operations, which the compiler fuses and the exporters write."""
    import torch

    is_compiling = getattr(torch.compiler, "is_compiling", None)
    if is_compiling is None:  # PyTorch 2.2, before `torch.compiler.is_compiling`
        from torch._dynamo import is_compiling
    is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    # `torch.onnx.export` traces with `torch.jit` (or, with `dynamo=True`, with dynamo);
    # `torch.onnx.is_in_onnx_export` would cost 1 us a call, 20x these together.
    return is_compiling() or is_exporting() or torch.jit.is_tracing()


def _per_sample(x, gamma, beta):
    """Whether gamma (and beta, if any) hold one `(channels,)` row per sample of `x`."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    return tuple(gamma.shape) == shape and (beta is None or tuple(beta.shape) == shape)


def _records_gradients(*tensors):
    """Whether autograd records an operation on these tensors (`None` allowed)."""
    import torch

    return torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors)


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

    hidden = condition if condition.dtype == torch.float32 else condition.to(torch.float32)
    activation = layer.condition_activation
    if activation is not None:
        hidden = _torch_activation(activation)(hidden)
    for dense in layer.mlp_layers:
        kernel = dense.kernel.value
        bias = dense.bias
        hidden = hidden @ kernel if bias is None else torch.addmm(bias.value, hidden, kernel)
        if dense.activation is not keras.activations.linear:
            hidden = _torch_activation(dense.activation)(hidden)
    channels = layer.channels
    affine_shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (channels,)
    gamma = layer.gamma.value
    if layer._has_beta():
        delta_gamma, delta_beta = hidden.split(channels, dim=-1)
        beta = (layer.beta.value + delta_beta).view(affine_shape)
    else:
        delta_gamma, beta = hidden, None
    gamma = (gamma + delta_gamma).view(affine_shape)
    axes = layer._statistics_axes(x.dim(), training)
    return normalize(x, gamma, beta, layer.epsilon, axes, layer._groups, layer.CENTERED)


def _torch_activation(activation):
    """PyTorch's own function for a Keras activation that computes the same (the Keras
    function dispatches through `keras.ops` on every call), else the activation itself."""
    if not _TORCH_ACTIVATIONS:
        import torch
        import torch.nn.functional as F

        _TORCH_ACTIVATIONS.update({
            keras.activations.silu: F.silu, keras.activations.relu: F.relu,
            keras.activations.sigmoid: torch.sigmoid, keras.activations.tanh: torch.tanh})
    return _TORCH_ACTIVATIONS.get(activation, activation)


_TORCH_ACTIVATIONS = {}


def _module_hooks(layer):
    """Whether PyTorch would run a hook around `layer`'s forward (its own or a global one)."""
    from torch.nn.modules import module

    own = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    global_ = ("_global_forward_hooks", "_global_forward_pre_hooks",
               "_global_backward_hooks", "_global_backward_pre_hooks")
    # A name PyTorch no longer has counts as a hook: the direct call is then not taken.
    return any(getattr(layer, name, True) for name in own) or any(
        getattr(module, name, True) for name in global_)


def direct_call_available(layer, inputs, condition, kwargs):
    """Whether `layer(inputs, condition, **kwargs)` may run `mlp_mode_call` without Keras's
    `Layer.__call__`, because that call would do nothing else.

    Holds on the PyTorch backend for a built float32 MLP-mode layer whose statistics do not
    depend on `training` (not batch norm), called eagerly on float32 PyTorch tensors on the
    layer's device with no Keras mask, with no keyword but `training`, outside an autocast
    scope and a distribution, with no activity regularizer, rematerialization or module
    hook. Anything else takes Keras's `__call__` (symbolic inputs, numpy arrays, mixed
    precision, masks, hooks, ...).
    """
    if keras.backend.backend() != "torch" or get_autocast_scope is None:
        return False
    if not layer.built or layer.uses_table or (kwargs and set(kwargs) != {"training"}):
        return False
    import torch

    if not (isinstance(inputs, torch.Tensor) and isinstance(condition, torch.Tensor)):
        return False
    if inputs.dtype != torch.float32 or condition.dtype != torch.float32:
        return False
    if getattr(inputs, "_keras_mask", None) is not None or getattr(
        condition, "_keras_mask", None) is not None:
        return False
    if inputs.device != layer.gamma.value.device or condition.device != inputs.device:
        return False
    if (layer.activity_regularizer is not None or getattr(layer, "_remat_mode", None) is not None
            or get_autocast_scope() is not None or keras.distribution.distribution() is not None):
        return False
    rank = len(inputs.shape)
    axes = layer._statistics_axes(rank, None)
    if axes != layer._statistics_axes(rank, True) or axes != layer._statistics_axes(rank, False):
        return False
    return whole_layer_available(layer, inputs, None) and not _module_hooks(layer)
