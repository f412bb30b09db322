"""Gradients of the layers against automatic differentiation of the textbook formula.

On TensorFlow and JAX the training-mode layers compute their gradient in closed
form (`cbn/_fused.py`); these tests hold it, and its own gradient (second order,
as in gradient penalties), to autodiff of `gamma * (x - mean) / sqrt(var + eps) + beta`.
On PyTorch they check PyTorch's own kernels (`cbn/_native.py`) and autodiff of
the Keras ops (batch norm) against the same reference.
"""

import numpy as np
import keras
import pytest
from keras import ops

import cbn
from cbn_testing import random_inputs, randomize_table, to_numpy

NUM_CONDITIONS = 3
GROUPS = 2


def differentiate(fn):
    """`fn(*args) -> scalar` to `grads(*args) -> list of gradients`, composable on
    every backend (so that `differentiate` of a function of `grads` is second order)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def grads(*args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                value = fn(*args)
            return tape.gradient(value, list(args))

    elif backend == "jax":
        import jax

        def grads(*args):
            return list(jax.grad(fn, argnums=tuple(range(len(args))))(*args))

    else:
        import torch

        def grads(*args):
            args = [arg if arg.requires_grad else arg.requires_grad_() for arg in args]
            return list(
                torch.autograd.grad(fn(*args), args, create_graph=True, allow_unused=True)
            )

    return grads


def tensors(*arrays):
    return [ops.convert_to_tensor(array) for array in arrays]


def standardized(x, layer_class, epsilon):
    """(x - mean) / sqrt(variance + epsilon) with the statistics of `layer_class`, from the
    definitions: batch norm over the batch and positions, instance norm over the
    positions, group norm over the positions and the channels of a group of
    GROUPS, layer norm over the channels of each position; RMS norm divides by the root
    mean square of each position's channels."""
    rank = len(x.shape)
    positions = list(range(1, rank - 1))
    if layer_class is cbn.ConditionalRMSNormalization:
        return x / ops.sqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + epsilon)
    if layer_class is cbn.ConditionalLayerNormalization:
        return _standardized(x, [rank - 1], epsilon)
    if layer_class is cbn.ConditionalBatchNormalization:
        return _standardized(x, [0] + positions, epsilon)
    if layer_class is cbn.ConditionalInstanceNormalization:
        return _standardized(x, positions, epsilon)
    channels = x.shape[-1]
    grouped = ops.reshape(x, tuple(x.shape[:-1]) + (GROUPS, channels // GROUPS))
    return ops.reshape(_standardized(grouped, positions + [rank], epsilon), x.shape)


def _standardized(x, axes, epsilon):
    mean = ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / ops.sqrt(variance + epsilon)


def reference(x, gamma, beta, layer_class, epsilon):
    """The textbook formula; gamma/beta broadcast against x."""
    return gamma * standardized(x, layer_class, epsilon) + beta


def make_layer(layer_class, **kwargs):
    if layer_class is cbn.ConditionalGroupNormalization:
        return layer_class(groups=GROUPS, **kwargs)
    if layer_class is cbn.ConditionalRMSNormalization:
        return layer_class(center=True, **kwargs)
    return layer_class(**kwargs)


def layer_and_reference(layer_class, shape):
    """A built table-mode layer, its loss as a function of (x, gamma table, beta
    table), the same loss from `reference`, and the inputs."""
    layer = make_layer(layer_class, num_conditions=NUM_CONDITIONS)
    x = random_inputs(shape, offset=3.0, scale=2.0)
    ids = np.arange(shape[0]) % NUM_CONDITIONS
    layer(x, ids, training=True)
    randomize_table(layer)
    upstream = ops.convert_to_tensor(random_inputs(shape, seed=7))
    non_trainable = [variable.value for variable in layer.non_trainable_variables]
    rows_shape = (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)

    def layer_loss(x, gamma, beta):
        outputs, _ = layer.stateless_call([gamma, beta], non_trainable, x, ids, training=True)
        return ops.sum(outputs * upstream)

    def reference_loss(x, gamma, beta):
        rows_gamma = ops.reshape(ops.take(gamma, ids, axis=0), rows_shape)
        rows_beta = ops.reshape(ops.take(beta, ids, axis=0), rows_shape)
        return ops.sum(reference(x, rows_gamma, rows_beta, layer_class, layer.epsilon) * upstream)

    args = (x, to_numpy(layer.gamma), to_numpy(layer.beta))
    return layer_loss, reference_loss, args


LAYERS = [
    cbn.ConditionalBatchNormalization,
    cbn.ConditionalInstanceNormalization,
    cbn.ConditionalGroupNormalization,
    cbn.ConditionalLayerNormalization,
    cbn.ConditionalRMSNormalization,
]
LAYER_IDS = ["batch", "instance", "group", "layer", "rms"]
IMAGE, TOKENS, VOLUME = (4, 5, 6, 4), (2, 7, 4), (3, 2, 3, 4, 6)
CASES = [
    (cbn.ConditionalBatchNormalization, IMAGE), (cbn.ConditionalBatchNormalization, TOKENS),
    (cbn.ConditionalBatchNormalization, VOLUME), (cbn.ConditionalInstanceNormalization, IMAGE),
    (cbn.ConditionalInstanceNormalization, TOKENS), (cbn.ConditionalInstanceNormalization, VOLUME),
    (cbn.ConditionalGroupNormalization, IMAGE), (cbn.ConditionalGroupNormalization, VOLUME),
    (cbn.ConditionalLayerNormalization, IMAGE), (cbn.ConditionalLayerNormalization, TOKENS),
    (cbn.ConditionalRMSNormalization, IMAGE), (cbn.ConditionalRMSNormalization, TOKENS),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "layer_class, shape", CASES,
    ids=[f"{layer.__name__}-rank{len(shape)}" for layer, shape in CASES],
)
def test_first_order_gradients_match_autodiff_of_the_formula(layer_class, shape):
    layer_loss, reference_loss, args = layer_and_reference(layer_class, shape)
    got = differentiate(layer_loss)(*tensors(*args))
    want = differentiate(reference_loss)(*tensors(*args))
    for name, g, w in zip(("x", "gamma", "beta"), got, want):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("layer_class", [
    cbn.ConditionalBatchNormalization,
    cbn.ConditionalGroupNormalization,
    cbn.ConditionalLayerNormalization,
    cbn.ConditionalRMSNormalization,
], ids=["batch", "group", "layer", "rms"])
def test_first_order_gradients_after_a_dense_layer(layer_class):
    layer_loss, reference_loss, args = layer_and_reference(layer_class, (6, 4))
    got = differentiate(layer_loss)(*tensors(*args))
    want = differentiate(reference_loss)(*tensors(*args))
    for name, g, w in zip(("x", "gamma", "beta"), got, want):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("layer_class", LAYERS, ids=LAYER_IDS)
def test_second_order_gradients_match_autodiff_of_the_formula(layer_class):
    """The gradient of a gradient penalty, |dL/dx|^2, w.r.t. x and the table."""
    layer_loss, reference_loss, args = layer_and_reference(layer_class, (4, 3, 5, 4))

    def penalty(loss):
        first = differentiate(loss)

        def value(x, gamma, beta):
            return ops.sum(ops.square(first(x, gamma, beta)[0]))

        return value

    got = differentiate(penalty(layer_loss))(*tensors(*args))
    want = differentiate(penalty(reference_loss))(*tensors(*args))
    for name, g, w in zip(("x", "gamma", "beta"), got, want):
        if w is None:  # beta does not reach dL/dx
            assert g is None or np.allclose(to_numpy(g), 0.0), name
            continue
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=1e-3, atol=1e-4, err_msg=name)


def test_rms_norm_of_an_all_zero_token_has_finite_gradients_to_second_order():
    """A token of zeros (padding) normalizes to zeros; its statistics' gradient, which a
    2-norm would leave undefined at 0, stays finite through a gradient penalty."""
    layer = cbn.ConditionalRMSNormalization(num_conditions=NUM_CONDITIONS)
    x = random_inputs((2, 3, 4), offset=1.0, scale=2.0)
    x[1, 2] = 0.0
    ids = np.array([0, 2])
    layer(x, ids)
    randomize_table(layer)
    upstream = ops.convert_to_tensor(random_inputs(x.shape, seed=7))

    def loss(x, gamma):
        outputs, _ = layer.stateless_call([gamma], [], x, ids)
        return ops.sum(outputs * upstream)

    def penalty(x, gamma):
        return ops.sum(ops.square(differentiate(loss)(x, gamma)[0]))

    np.testing.assert_array_equal(to_numpy(layer(x, ids))[1, 2], 0.0)
    args = tensors(x, to_numpy(layer.gamma))
    gradients = differentiate(loss)(*args) + differentiate(penalty)(*args)
    names = ("x", "gamma", "x, second order", "gamma, second order")
    assert len(gradients) == len(names)
    for name, gradient in zip(names, gradients):
        assert np.all(np.isfinite(to_numpy(gradient))), name


@pytest.mark.parametrize("layer_class", LAYERS, ids=LAYER_IDS)
def test_gradients_of_blends_match_the_formula(layer_class):
    """Weights reach the same per-sample gamma/beta code path as ids."""
    shape = (4, 3, 3, 4)
    x = random_inputs(shape, offset=-1.0)
    weights = np.random.default_rng(3).dirichlet(np.ones(NUM_CONDITIONS), size=4)
    weights = weights.astype("float32")
    layer = make_layer(layer_class, num_conditions=NUM_CONDITIONS)
    layer(x, weights, training=True)
    randomize_table(layer)
    non_trainable = [variable.value for variable in layer.non_trainable_variables]

    def layer_loss(x, gamma, beta):
        outputs, _ = layer.stateless_call(
            [gamma, beta], non_trainable, x, weights, training=True
        )
        return ops.sum(ops.square(outputs))

    def reference_loss(x, gamma, beta):
        rows_gamma = ops.reshape(ops.matmul(weights, gamma), (4, 1, 1, 4))
        rows_beta = ops.reshape(ops.matmul(weights, beta), (4, 1, 1, 4))
        return ops.sum(ops.square(
            reference(x, rows_gamma, rows_beta, layer_class, layer.epsilon)
        ))

    args = tensors(x, to_numpy(layer.gamma), to_numpy(layer.beta))
    got = differentiate(layer_loss)(*args)
    want = differentiate(reference_loss)(*args)
    for name, g, w in zip(("x", "gamma", "beta"), got, want):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.fixture
def xla_gradient_for_any_size(monkeypatch):
    """The gradient's arithmetic compiled with XLA on TensorFlow (`cbn/_fused.py`: layer
    and RMS norm's whole gradient, batch, instance and group norm's d_x) even for the tests'
    small inputs, which otherwise keep TensorFlow's graph."""
    from cbn import _fused

    monkeypatch.setattr(_fused, "XLA_GRADIENT_MIN_SIZE", 0)


@pytest.mark.parametrize("layer_class", [
    cbn.ConditionalBatchNormalization, cbn.ConditionalInstanceNormalization,
    cbn.ConditionalGroupNormalization, cbn.ConditionalLayerNormalization,
    cbn.ConditionalRMSNormalization,
], ids=["batch", "instance", "group", "layer", "rms"])
def test_gradients_compiled_with_xla_match_autodiff_to_second_order(
        layer_class, xla_gradient_for_any_size):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("XLA compiles the gradient on TensorFlow only")
    tokens = layer_class in (cbn.ConditionalLayerNormalization, cbn.ConditionalRMSNormalization)
    test_first_order_gradients_match_autodiff_of_the_formula(layer_class,
                                                             TOKENS if tokens else IMAGE)
    test_second_order_gradients_match_autodiff_of_the_formula(layer_class)


@pytest.mark.parametrize("xla", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("layer_class", [
    cbn.ConditionalBatchNormalization, cbn.ConditionalGroupNormalization,
    cbn.ConditionalLayerNormalization, cbn.ConditionalRMSNormalization,
], ids=["batch", "group", "layer", "rms"])
def test_gradients_with_unknown_shapes_in_a_compiled_function(layer_class, xla, request):
    """The closed-form gradient counts positions, and group norm splits the channels,
    from the runtime shape when the static one is unknown (TensorFlow `tf.function`
    with `None` batch and spatial sizes); one layer differentiates inputs of several
    sizes (layer and RMS norm's gradient, compiled with XLA, once per layout)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("static shapes are always known on this backend")
    if xla:
        request.getfixturevalue("xla_gradient_for_any_size")
    import tensorflow as tf

    layer = make_layer(layer_class, num_conditions=2)
    layer(random_inputs((3, 4, 4, 4)), np.array([0, 1, 1]), training=True)
    randomize_table(layer)

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 4)),
                                  tf.TensorSpec((None,), tf.int32)])
    def input_gradient(x, ids):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, ids, training=True)))
        return tape.gradient(loss, x)

    for shape in [(3, 4, 4, 4), (2, 5, 3, 4), (5, 2, 6, 4)]:
        x = random_inputs(shape, offset=1.0)
        ids = np.arange(shape[0]) % 2
        rows_gamma = np.asarray(layer.gamma)[ids].reshape(shape[0], 1, 1, 4)
        rows_beta = np.asarray(layer.beta)[ids].reshape(shape[0], 1, 1, 4)

        def reference_loss_of_x(x, rows_gamma=rows_gamma, rows_beta=rows_beta):
            return ops.sum(ops.square(
                reference(x, rows_gamma, rows_beta, layer_class, layer.epsilon)
            ))

        want = differentiate(reference_loss_of_x)(tf.constant(x))[0]
        got = input_gradient(tf.constant(x), tf.constant(ids, tf.int32))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-4, atol=2e-5,
                                   err_msg=str(shape))
