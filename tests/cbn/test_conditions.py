"""Table mode: ids pick rows, weights blend them, weight maps blend them per position."""

import numpy as np
import pytest
from keras import ops

from cbn import ConditionalBatchNormalization, ConditionalInstanceNormalization
from cbn_testing import (
    LAYER_CLASSES, LAYER_IDS, gradients, random_inputs, randomize_table, to_numpy,
)

NUM_CONDITIONS = 4
SHAPE = (3, 4, 5, 4)


def table_layer(layer_class, normalize_weights=False):
    """A built layer with random gamma/beta rows (BN layers in inference mode below)."""
    layer = layer_class(num_conditions=NUM_CONDITIONS, normalize_weights=normalize_weights)
    layer.build(SHAPE, (SHAPE[0],))
    randomize_table(layer)
    if layer_class is ConditionalBatchNormalization:
        layer.moving_mean.assign(np.array([0.5, -1.0, 0.0, 2.0], "float32"))
        layer.moving_variance.assign(np.array([2.0, 0.25, 1.0, 0.5], "float32"))
    return layer


def outputs_for_each_condition(layer, x):
    """(num_conditions, *x.shape): the output of every row for the whole batch."""
    return np.stack([
        to_numpy(layer(x, np.full(len(x), row, "int32"))) for row in range(NUM_CONDITIONS)
    ])


def random_convex_weights(shape, seed=0):
    weights = np.random.default_rng(seed).uniform(0.1, 1.0, size=shape).astype("float32")
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_ids_equal_one_hot_weights(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs(SHAPE)
    ids = np.array([2, 0, 3], "int32")
    one_hot = np.eye(NUM_CONDITIONS, dtype="float32")[ids]
    np.testing.assert_allclose(
        to_numpy(layer(x, ids)), to_numpy(layer(x, one_hot)), rtol=1e-6, atol=1e-6
    )


def test_ids_of_shape_batch_by_one_equal_flat_ids():
    layer = table_layer(ConditionalInstanceNormalization)
    x = random_inputs(SHAPE)
    ids = np.array([1, 3, 0], "int32")
    assert np.array_equal(to_numpy(layer(x, ids)), to_numpy(layer(x, ids[:, None])))


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_blend_equals_same_blend_of_per_condition_outputs(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs(SHAPE)
    weights = random_convex_weights((SHAPE[0], NUM_CONDITIONS))
    expected = np.einsum("kb...,bk->b...", outputs_for_each_condition(layer, x), weights)
    np.testing.assert_allclose(to_numpy(layer(x, weights)), expected, rtol=1e-5, atol=1e-5)


def test_blend_of_one_style_equals_that_style():
    layer = table_layer(ConditionalInstanceNormalization)
    x = random_inputs(SHAPE)
    weights = np.zeros((SHAPE[0], NUM_CONDITIONS), "float32")
    weights[:, 2] = 1.0
    np.testing.assert_allclose(
        to_numpy(layer(x, weights)), outputs_for_each_condition(layer, x)[2],
        rtol=1e-6, atol=1e-6,
    )


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_uniform_weight_map_equals_weight_vector(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs(SHAPE)
    weights = random_convex_weights((SHAPE[0], NUM_CONDITIONS))
    weight_map = np.broadcast_to(
        weights[:, None, None, :], SHAPE[:-1] + (NUM_CONDITIONS,)
    ).copy()
    np.testing.assert_allclose(
        to_numpy(layer(x, weight_map)), to_numpy(layer(x, weights)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_two_region_weight_map_gives_each_region_its_condition(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs(SHAPE)
    left_columns = SHAPE[2] // 2
    weight_map = np.zeros(SHAPE[:-1] + (NUM_CONDITIONS,), "float32")
    weight_map[:, :, :left_columns, 1] = 1.0
    weight_map[:, :, left_columns:, 3] = 1.0

    outputs = to_numpy(layer(x, weight_map))

    per_condition = outputs_for_each_condition(layer, x)
    np.testing.assert_allclose(
        outputs[:, :, :left_columns], per_condition[1][:, :, :left_columns],
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(
        outputs[:, :, left_columns:], per_condition[3][:, :, left_columns:],
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_per_sample_ids_route_each_sample_to_its_row(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs(SHAPE)
    ids = np.array([3, 0, 2], "int32")
    outputs = to_numpy(layer(x, ids))
    per_condition = outputs_for_each_condition(layer, x)
    for sample, row in enumerate(ids):
        np.testing.assert_allclose(
            outputs[sample], per_condition[row][sample], rtol=1e-6, atol=1e-6
        )


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_gradients_reach_only_the_rows_used(layer_class):
    layer = table_layer(layer_class)
    x = random_inputs((2,) + SHAPE[1:])
    ids = np.array([0, 2], "int32")

    grads = gradients(layer, lambda outputs: ops.sum(outputs**2), x, ids, training=True)

    for name in ("gamma", "beta"):
        grad = grads[getattr(layer, name).path]
        assert np.all(grad[[1, 3]] == 0.0), name
        assert np.all(np.any(grad[[0, 2]] != 0.0, axis=-1)), name


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_weights_are_normalized_when_asked(layer_class):
    layer = table_layer(layer_class, normalize_weights=True)
    x = random_inputs(SHAPE)
    weights = random_convex_weights((SHAPE[0], NUM_CONDITIONS))
    np.testing.assert_allclose(
        to_numpy(layer(x, 5.0 * weights)), to_numpy(layer(x, weights)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=LAYER_IDS)
def test_gamma_beta_returns_the_rows_blends_and_maps_the_layer_applies(layer_class):
    layer = layer_class(num_conditions=3)
    layer(random_inputs((2, 4, 4, 2)), np.array([0, 1]))
    randomize_table(layer)
    gamma, beta = to_numpy(layer.gamma), to_numpy(layer.beta)
    got = layer.gamma_beta(np.array([2, 0]))
    np.testing.assert_allclose(to_numpy(got[0]), gamma[[2, 0]], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(got[1]), beta[[2, 0]], rtol=1e-6)
    weights = np.array([[0.5, 0.25, 0.25]], "float32")
    got = layer.gamma_beta(weights)
    np.testing.assert_allclose(to_numpy(got[0]), weights @ gamma, rtol=1e-5)
    weight_map = np.broadcast_to(weights[:, None, None, :], (1, 3, 5, 3))
    got = layer.gamma_beta(weight_map)
    assert tuple(got[1].shape) == (1, 3, 5, 2)
    np.testing.assert_allclose(to_numpy(got[1])[0, 2, 4], (weights @ beta)[0], rtol=1e-5)
    with pytest.raises(ValueError, match="ids must be in"):
        layer.gamma_beta(np.array([3]))


def test_gamma_beta_of_a_fresh_mlp_layer_is_gamma0_beta0():
    layer = ConditionalInstanceNormalization(mlp_units=(4,))
    layer(random_inputs((2, 4, 4, 3)), np.ones((2, 5), "float32"))
    gamma, beta = layer.gamma_beta(np.random.default_rng(0).normal(size=(2, 5)).astype("float32"))
    np.testing.assert_array_equal(to_numpy(gamma), np.ones((2, 3)))
    np.testing.assert_array_equal(to_numpy(beta), np.zeros((2, 3)))
