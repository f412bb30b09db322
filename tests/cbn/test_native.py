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
SHAPES = {"tokens": (3, 5, 4), "image": (2, 3, 4, 4)}
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


@pytest.mark.parametrize("shape_name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["ids", "weight_map", "mlp"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_native_kernels_give_the_outputs_and_gradients_of_keras_ops(
    name, mode, shape_name, monkeypatch
):
    shape = SHAPES[shape_name]
    layer, condition = conditioned_layer(name, mode, shape)
    x = random_inputs(shape, scale=2.0, offset=1.0)
    calls = []
    normalize = _native.normalize
    monkeypatch.setattr(_native, "normalize", lambda *args: calls.append(1) or normalize(*args))

    native = outputs_and_gradients(layer, x, condition)
    assert calls, "the PyTorch kernels were not used"
    monkeypatch.setattr(_native, "available", lambda *args: False)
    monkeypatch.setattr(_native, "whole_layer_available", lambda *args: False)
    keras_ops = outputs_and_gradients(layer, x, condition)

    for index, (got, want) in enumerate(zip(native, keras_ops)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"output {index}")


def test_batch_norm_keeps_keras_ops_for_its_moving_statistics(monkeypatch):
    monkeypatch.setattr(_native, "normalize", lambda *args: pytest.fail("native path taken"))
    layer = cbn.ConditionalBatchNormalization(num_conditions=2)
    x = random_inputs((4, 3, 3, 2), offset=2.0)
    layer(x, np.array([0, 1, 0, 1], "int32"), training=True)
    layer(x, np.array([0, 1, 0, 1], "int32"), training=False)
    assert np.all(to_numpy(layer.moving_mean) > 0.0)
