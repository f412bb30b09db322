"""On PyTorch, the layers normalize with PyTorch's own kernels (`cbn/_native.py`): the same
outputs and gradients as the Keras-ops path they replace."""

import functools

import numpy as np
import keras
import pytest

import cbn
from cbn import _native
from cbn_testing import random_inputs, randomize_table, to_numpy

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="PyTorch's kernels serve the PyTorch backend only"
)

LAYERS = {
    "layer": cbn.ConditionalLayerNormalization,
    "rms": cbn.ConditionalRMSNormalization,
    "rms-beta": functools.partial(cbn.ConditionalRMSNormalization, center=True),
    "group": functools.partial(cbn.ConditionalGroupNormalization, groups=2),
    "instance": cbn.ConditionalInstanceNormalization,
}
# Rank 5 goes through the same kernels; tests/cbn/test_gradients.py covers it on PyTorch.
# "small map": no more positions than channels, where instance norm takes its statistics by
# reductions instead of PyTorch's group norm kernel (slow there on channels-last inputs).
SHAPES = {"tokens": (3, 5, 4), "image": (2, 3, 4, 4), "small map": (2, 2, 3, 8)}
NUM_CONDITIONS = 3


def outputs_and_gradients(layer, x, condition):
    """The layer's outputs and the gradients of sum(outputs * upstream) w.r.t. x and every
    trainable variable, as numpy arrays."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    outputs = layer(x, condition, training=True)
    upstream = torch.tensor(random_inputs(tuple(outputs.shape), seed=9))
    variables = [variable.value for variable in layer.trainable_variables]
    grads = torch.autograd.grad((outputs * upstream).sum(), [x] + variables)
    return [to_numpy(outputs)] + [to_numpy(grad) for grad in grads]


def conditioned_layer(name, mode, shape):
    """A built layer with non-trivial weights and a condition for it."""
    rng = np.random.default_rng(4)
    if mode == "mlp":
        layer = LAYERS[name](mlp_units=(5,), condition_activation="silu")
        condition = rng.normal(size=(shape[0], 3)).astype("float32")
        layer(random_inputs(shape), condition)
        layer.set_weights([rng.normal(size=w.shape).astype("float32")
                           for w in layer.get_weights()])
    else:
        layer = LAYERS[name](num_conditions=NUM_CONDITIONS)
        if mode == "ids":
            condition = (np.arange(shape[0]) % NUM_CONDITIONS).astype("int32")
        else:
            condition = rng.dirichlet(np.ones(NUM_CONDITIONS), size=shape[:-1]).astype("float32")
        layer(random_inputs(shape), condition)
        randomize_table(layer)
    return layer, condition


def spy(monkeypatch, owner, name):
    """A list that grows by one at each call of `owner.name`, which still runs."""
    calls = []
    function = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *args: calls.append(1) or function(*args))
    return calls


def without_native_kernels(monkeypatch):
    """From here on, the layers compute with Keras ops only."""
    monkeypatch.setattr(_native, "available", lambda *args: False)
    monkeypatch.setattr(_native, "whole_layer_available", lambda *args: False)
    monkeypatch.setattr(_native, "batch_statistics_available", lambda *args: False)


def assert_all_close(got, want, rtol, atol, label):
    for index, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{label} {index}")


@pytest.mark.parametrize("shape_name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["ids", "weight_map", "mlp"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_native_kernels_give_the_outputs_and_gradients_of_keras_ops(
    name, mode, shape_name, monkeypatch
):
    shape = SHAPES[shape_name]
    layer, condition = conditioned_layer(name, mode, shape)
    x = random_inputs(shape, scale=2.0, offset=1.0)
    calls = spy(monkeypatch, _native, "normalize")
    native = outputs_and_gradients(layer, x, condition)
    assert calls, "the PyTorch kernels were not used"
    without_native_kernels(monkeypatch)
    assert_all_close(native, outputs_and_gradients(layer, x, condition), 1e-4, 1e-5, "output")


# ---------------------------------------------------------------- batch norm in training

BATCH_NORM_SHAPES = {"features": (6, 4), "tokens": (3, 5, 4), "image": (2, 3, 4, 4),
                     "volume": (2, 2, 3, 2, 4)}


def batch_norm_results(layer, x, condition):
    """Outputs, gradients (x and each trainable variable) and the moving statistics after
    one training call of a copy of `layer`'s state, as numpy arrays."""
    before = layer.get_weights()
    results = outputs_and_gradients(layer, x, condition)
    results += [to_numpy(layer.moving_mean), to_numpy(layer.moving_variance)]
    layer.set_weights(before)
    return results


@pytest.mark.parametrize("shape_name", sorted(BATCH_NORM_SHAPES))
@pytest.mark.parametrize("mode", ["ids", "blend", "mlp"])
def test_batch_norm_closed_form_gives_the_outputs_gradients_and_statistics_of_keras_ops(
    mode, shape_name, monkeypatch
):
    """Batch norm in training with per-sample gamma/beta is one function with a closed-form
    gradient (`cbn/_torch_batch_norm.py`); its outputs, gradients and moving statistics
    are those of the Keras-ops path."""
    from cbn import _torch_batch_norm

    shape = BATCH_NORM_SHAPES[shape_name]
    rng = np.random.default_rng(5)
    if mode == "mlp":
        layer = cbn.ConditionalBatchNormalization(mlp_units=(5,), momentum=0.5)
        condition = rng.normal(size=(shape[0], 3)).astype("float32")
    else:
        layer = cbn.ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS, momentum=0.5)
        condition = ((np.arange(shape[0]) % NUM_CONDITIONS).astype("int32") if mode == "ids"
                     else rng.dirichlet(np.ones(NUM_CONDITIONS), size=shape[0]).astype("float32"))
    x = random_inputs(shape, scale=2.0, offset=1.0)
    layer(x, condition)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") + (w.ndim == 1) * 2.0
                       for w in layer.get_weights()])
    calls = spy(monkeypatch, _torch_batch_norm.BatchNormAffine, "apply")
    closed_form = batch_norm_results(layer, x, condition)
    assert calls, "the closed-form batch norm was not used"
    without_native_kernels(monkeypatch)
    keras_ops = batch_norm_results(layer, x, condition)
    assert_all_close(closed_form, keras_ops, 1e-4, 1e-5, "result")


def test_batch_norm_keeps_keras_ops_for_weight_maps_and_stored_statistics(monkeypatch):
    """Per-position gamma/beta (weight maps) and inference (the moving statistics) are not
    what the closed form computes: they keep the Keras ops."""
    monkeypatch.setattr(_native, "normalize_with_batch_statistics",
                        lambda *args: pytest.fail("closed-form batch norm taken"))
    layer = cbn.ConditionalBatchNormalization(num_conditions=2)
    x = random_inputs((4, 3, 3, 2), offset=2.0)
    weight_maps = np.random.default_rng(0).dirichlet(np.ones(2), size=(4, 3, 3))
    layer(x, weight_maps.astype("float32"), training=True)
    assert np.all(to_numpy(layer.moving_mean) > 0.0)
    layer(x, np.array([0, 1, 0, 1], "int32"), training=False)


# ---------------------------------------------------------------- layer norm sample by sample


def penalty_gradients(layer, x, condition):
    """The gradients of a gradient penalty, the sum of the squares of dL/dx and dL/dw for
    every trainable variable w, w.r.t. x and each w (second order), as numpy arrays."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    outputs = layer(x, condition)
    upstream = torch.tensor(random_inputs(tuple(outputs.shape), seed=9))
    variables = [variable.value for variable in layer.trainable_variables]
    first = torch.autograd.grad((outputs * upstream).sum(), [x] + variables, create_graph=True)
    penalty = sum(grad.square().sum() for grad in first)
    grads = torch.autograd.grad(penalty, [x] + variables, allow_unused=True)
    return [np.zeros(tuple(v.shape), "float32") if g is None else to_numpy(g)
            for g, v in zip(grads, [x] + variables)]


@pytest.mark.parametrize("shape_name", ["tokens", "image"])
@pytest.mark.parametrize("mode", ["ids", "mlp"])
def test_layer_norm_sample_by_sample_gives_the_gradients_of_keras_ops(
    mode, shape_name, monkeypatch
):
    """Per-sample gamma/beta under autograd: PyTorch's fused layer norm for the whole batch
    and an in-place affine forward, the fused backward once per sample
    (`cbn/_torch_layer_norm.py`); outputs, gradients and second-order gradients are those of
    the Keras-ops path; without autograd the whole batch is normalized at once, to the same
    outputs."""
    import torch

    from cbn import _torch_layer_norm

    layer, condition = conditioned_layer("layer", mode, SHAPES[shape_name])
    x = random_inputs(SHAPES[shape_name], scale=2.0, offset=1.0)
    monkeypatch.setattr(_torch_layer_norm, "MIN_SAMPLE_SIZE", 1)
    calls = spy(monkeypatch, _torch_layer_norm, "_forward")
    by_sample = outputs_and_gradients(layer, x, condition)
    second_by_sample = penalty_gradients(layer, x, condition)
    with torch.no_grad():
        no_grad = to_numpy(layer(torch.tensor(x), condition))
    assert len(calls) == 2, "the per-sample kernels were not used (or used without autograd)"
    without_native_kernels(monkeypatch)
    keras_ops = outputs_and_gradients(layer, x, condition)
    second_keras_ops = penalty_gradients(layer, x, condition)

    assert len(calls) == 2
    np.testing.assert_allclose(no_grad, by_sample[0], rtol=1e-5, atol=1e-5)
    assert_all_close(by_sample, keras_ops, 1e-4, 1e-5, "output")
    assert_all_close(second_by_sample, second_keras_ops, 1e-3, 1e-4, "second")


def test_layer_norm_goes_sample_by_sample_on_large_samples_under_autograd_only(monkeypatch):
    import torch

    from cbn import _torch_layer_norm

    calls = spy(monkeypatch, _torch_layer_norm, "_forward")
    layer = cbn.ConditionalLayerNormalization(num_conditions=2)
    ids = np.array([0, 1], "int32")
    large = (2, 128, _torch_layer_norm.MIN_SAMPLE_SIZE // 128)
    layer(torch.tensor(random_inputs(large), requires_grad=True), ids)
    assert len(calls) == 1
    layer(torch.tensor(random_inputs((2, 3, large[-1])), requires_grad=True), ids)
    with torch.no_grad():
        layer(torch.tensor(random_inputs(large)), ids)
    assert len(calls) == 1


# ------------------------------------------------------------- group norm's statistics


def group_norm_in_float64(x, groups, gamma, beta, epsilon):
    """Group norm of channels-last `x` with per-sample gamma and beta `(batch, channels)`,
    in float64."""
    x = x.astype("float64")
    batch, channels = x.shape[0], x.shape[-1]
    grouped = x.reshape(batch, -1, groups, channels // groups)
    mean = grouped.mean((1, 3), keepdims=True)
    variance = grouped.var((1, 3), keepdims=True)
    normalized = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape)
    shape = (batch,) + (1,) * (x.ndim - 2) + (channels,)
    return normalized * gamma.reshape(shape) + beta.reshape(shape)


def standardized_groups(shape, groups, seed=3):
    """Random channels-last inputs whose every (sample, group) has mean 0 and deviation 1."""
    x = random_inputs(shape, seed=seed).astype("float64")
    grouped = x.reshape(shape[0], -1, groups, shape[-1] // groups)
    grouped = (grouped - grouped.mean((1, 3), keepdims=True)) / grouped.std((1, 3), keepdims=True)
    return grouped.reshape(shape).astype("float32")


def group_norm_results(groups, x, monkeypatch):
    """(outputs and gradients, how many times the input was shifted, float64 outputs) of a
    group norm (instance norm for one channel per group) with random rows, on `x`."""
    from cbn import _torch_group_norm

    shifts = spy(monkeypatch, _torch_group_norm, "group_shift")
    channels = x.shape[-1]
    layer = (cbn.ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS, epsilon=1e-5)
             if groups == channels else
             cbn.ConditionalGroupNormalization(groups=groups, num_conditions=NUM_CONDITIONS,
                                               epsilon=1e-5))
    ids = (np.arange(x.shape[0]) % NUM_CONDITIONS).astype("int32")
    layer(x, ids)
    randomize_table(layer)
    shifts.clear()
    results = outputs_and_gradients(layer, x, ids)
    gamma, beta = (to_numpy(t) for t in layer.gamma_beta(ids))
    return results, len(shifts), group_norm_in_float64(x, groups, gamma, beta, 1e-5)


@pytest.mark.parametrize("offset, shifted", [(0.0, False), (0.2, False), (1.5, True),
                                             (1000.0, True)])
@pytest.mark.parametrize("groups", [2, 8])
def test_group_norm_shifts_the_input_only_where_a_group_mean_is_far_from_zero(
    groups, offset, shifted, monkeypatch
):
    """PyTorch's channels-last group-norm kernel takes a one-pass variance: it normalizes `x`
    itself where every group's mean looks within half a standard deviation of zero, and `x`
    minus a shift otherwise (`_torch_group_norm.group_norm_statistics`); both as in float64,
    with the gradients of the Keras-ops path."""
    x = standardized_groups((2, 32, 32, 8), groups) + np.float32(offset)
    results, shifts, expected = group_norm_results(groups, x, monkeypatch)
    assert shifts == int(shifted)
    np.testing.assert_allclose(results[0], expected, rtol=1e-4,
                               atol=1e-4 if offset < 100 else 2e-3)
    without_native_kernels(monkeypatch)
    assert_all_close(results, group_norm_results(groups, x, monkeypatch)[0], 1e-3, 1e-3,
                     "result")


def test_group_norm_shifts_the_input_when_the_first_positions_looked_centered_but_the_map_is_not(
    monkeypatch
):
    """The first positions of each sample only suggest the unshifted kernel: where the whole
    map's statistics then put a group's mean beyond one standard deviation of zero, the
    shifted input is normalized instead."""
    from cbn import _torch_group_norm

    rng = np.random.default_rng(0)
    positions = 4 * _torch_group_norm.SAMPLED_POSITIONS
    first = rng.normal(size=(2, _torch_group_norm.SAMPLED_POSITIONS, 1, 4))
    rest = 5.0 + 0.01 * rng.normal(size=(2, positions - first.shape[1], 1, 4))
    x = np.concatenate([first, rest], axis=1).astype("float32")
    looked = []
    looks_centered = _torch_group_norm._looks_centered
    monkeypatch.setattr(_torch_group_norm, "_looks_centered",
                        lambda *args: looked.append(looks_centered(*args)) or looked[-1])
    results, shifts, expected = group_norm_results(2, x, monkeypatch)
    assert looked[-1] and shifts == 1
    np.testing.assert_allclose(results[0], expected, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------- eager calls without Keras's __call__


def mlp_layer(layer_class=cbn.ConditionalLayerNormalization, **kwargs):
    import torch

    layer = layer_class(mlp_units=(), condition_activation="silu", **kwargs)
    x = torch.tensor(random_inputs((2, 5, 4), scale=2.0, offset=1.0))
    condition = torch.tensor(random_inputs((2, 3), seed=2))
    layer(x, condition)
    rng = np.random.default_rng(4)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer, x, condition


def count_keras_calls(monkeypatch):
    """A list that grows by one each time Keras's `Layer.__call__` runs for a cbn layer."""
    calls = []
    keras_call = keras.Layer.__call__

    def counting(self, *args, **kwargs):
        if isinstance(self, cbn.ConditionalNormalization):
            calls.append(type(self).__name__)
        return keras_call(self, *args, **kwargs)

    monkeypatch.setattr(keras.Layer, "__call__", counting)
    return calls


@pytest.mark.parametrize("layer_class", [
    cbn.ConditionalLayerNormalization, cbn.ConditionalRMSNormalization,
    cbn.ConditionalInstanceNormalization,
    functools.partial(cbn.ConditionalGroupNormalization, groups=2),
], ids=["layer", "rms", "instance", "group"])
def test_eager_calls_skip_keras_call_with_the_same_outputs_and_gradients(
    layer_class, monkeypatch
):
    import torch

    layer, x, condition = mlp_layer(layer_class)
    if layer_class is cbn.ConditionalInstanceNormalization or isinstance(
            layer, cbn.ConditionalGroupNormalization):
        x = x.reshape(2, 5, 1, 4)
    calls = count_keras_calls(monkeypatch)

    def results():
        inputs = x.clone().requires_grad_()
        outputs = layer(inputs, condition, training=True)
        variables = [variable.value for variable in layer.trainable_variables]
        grads = torch.autograd.grad((outputs * (1.0 + inputs)).sum(), [inputs] + variables)
        return [to_numpy(outputs)] + [to_numpy(grad) for grad in grads]

    direct = results()
    assert calls == []
    monkeypatch.setattr(_native, "direct_call_available", lambda *args: False)
    through_keras = results()
    assert calls == [type(layer).__name__]
    for index, (got, want) in enumerate(zip(direct, through_keras)):
        np.testing.assert_array_equal(got, want, err_msg=f"output {index}")


def test_calls_that_need_keras_call_still_get_it(monkeypatch):
    import torch

    layer, x, condition = mlp_layer()
    calls = count_keras_calls(monkeypatch)
    want = to_numpy(layer(x, condition))
    assert calls == []

    # A PyTorch forward hook runs.
    seen = []
    handle = layer.register_forward_hook(lambda module, args, outputs: seen.append(1))
    np.testing.assert_array_equal(to_numpy(layer(x, condition)), want)
    handle.remove()
    assert seen == [1] and len(calls) == 1
    # numpy arrays are converted by Keras.
    np.testing.assert_allclose(to_numpy(layer(to_numpy(x), to_numpy(condition))), want,
                               rtol=1e-6, atol=1e-6)
    assert len(calls) == 2
    # A Keras mask on the input is Keras's to handle (layer norm passes it on).
    masked = x.clone()
    masked._keras_mask = torch.ones(x.shape[:-1], dtype=torch.bool)
    assert layer(masked, condition)._keras_mask is masked._keras_mask
    assert len(calls) == 3
    # Symbolic inputs build a model, whose eager calls give the same outputs.
    inputs = keras.Input((5, 4))
    conditions = keras.Input((3,))
    model = keras.Model([inputs, conditions], layer(inputs, conditions))
    np.testing.assert_allclose(to_numpy(model([x, condition])), want, rtol=1e-6, atol=1e-6)


def test_batch_norm_and_mixed_precision_calls_go_through_keras(monkeypatch):
    import torch

    calls = count_keras_calls(monkeypatch)
    batch_norm = cbn.ConditionalBatchNormalization(mlp_units=())
    batch_norm(torch.ones(4, 3, 2), torch.ones(4, 3), training=True)
    batch_norm(torch.ones(4, 3, 2), torch.ones(4, 3), training=True)
    assert calls.count("ConditionalBatchNormalization") == 2
    mixed = cbn.ConditionalLayerNormalization(mlp_units=(), dtype="mixed_float16")
    outputs = [mixed(torch.ones(2, 3, 4), torch.ones(2, 3)) for _ in range(2)]
    assert calls.count("ConditionalLayerNormalization") == 2
    assert outputs[-1].dtype == torch.float16


@pytest.mark.parametrize("mode", ["ids", "weight_map", "mlp"])
@pytest.mark.parametrize("name", ["rms", "rms-beta"])
def test_rms_norm_closed_form_gives_second_order_gradients_of_keras_ops(name, mode, monkeypatch):
    """RMS norm under autograd is one function with a closed-form gradient
    (`cbn/_torch_rms_norm.py`); a gradient penalty through it matches the Keras-ops path."""
    from cbn import _torch_rms_norm

    layer, condition = conditioned_layer(name, mode, SHAPES["tokens"])
    x = random_inputs(SHAPES["tokens"], scale=2.0, offset=1.0)
    calls = spy(monkeypatch, _torch_rms_norm.RMSNormAffine, "apply")
    closed_form = penalty_gradients(layer, x, condition)
    assert calls, "the closed-form RMS function was not used"
    without_native_kernels(monkeypatch)
    assert_all_close(closed_form, penalty_gradients(layer, x, condition), 1e-3, 1e-4, "second")


# ---------------------------------------------------------------- torch.compile

@pytest.mark.parametrize("name, mode", [("group", "ids"), ("instance", "mlp"), ("layer", "mlp"),
                                        ("rms-beta", "ids"), ("batch", "ids")])
def test_torch_compile_traces_each_layer_as_one_graph_with_its_eager_results(name, mode):
    """Under `torch.compile` (Keras's `jit_compile=True`) the layers take the Keras ops:
    the kernels above choose their path by the input's values, which broke the graph at
    each call and recompiled for each new input. `fullgraph=True` refuses any break."""
    import torch

    shape = SHAPES["image"]
    if name == "batch":
        layer, condition = conditioned_layer("instance", mode, shape)
        layer = (cbn.ConditionalBatchNormalization(mlp_units=(5,)) if mode == "mlp"
                 else cbn.ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS))
        layer(random_inputs(shape), condition)
        randomize_table(layer)
    else:
        layer, condition = conditioned_layer(name, mode, shape)
    x = torch.tensor(random_inputs(shape, scale=2.0, offset=1.0))
    condition = torch.tensor(condition)
    torch._dynamo.reset()  # each test compiles its own layer at the same line
    # In training, batch norm normalizes by the batch's statistics: its outputs do not
    # depend on the moving statistics that each call updates.
    compiled = torch.compile(lambda x, c: layer(x, c, training=True), backend="eager",
                             fullgraph=True)

    np.testing.assert_allclose(to_numpy(compiled(x, condition)),
                               to_numpy(layer(x, condition, training=True)),
                               rtol=1e-5, atol=1e-5)
