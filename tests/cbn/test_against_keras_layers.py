"""With one condition, the conditional layers are the plain Keras layers."""

import functools

import numpy as np
import keras
import pytest

from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
    ConditionalLayerNormalization,
    ConditionalRMSNormalization,
)
from cbn_testing import random_inputs, randomize_table, to_numpy

SHAPES_BY_RANK = {2: (6, 3), 3: (4, 6, 3), 4: (3, 5, 4, 3), 5: (2, 3, 4, 2, 3)}


def instance_norm_reference(x, gamma, beta, epsilon):
    """Numpy instance normalization: per sample and channel, over the spatial axes."""
    x = x.astype("float64")
    spatial_axes = tuple(range(1, x.ndim - 1))
    mean = x.mean(axis=spatial_axes, keepdims=True)
    variance = x.var(axis=spatial_axes, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def with_the_same_affine(conditional, plain, shape):
    """Builds both layers; gives `plain` the gamma/beta of the conditional layer's row 0."""
    conditional.build(shape, (shape[0],))
    randomize_table(conditional)
    plain.build(shape)
    plain.gamma.assign(to_numpy(conditional.gamma)[0])
    plain.beta.assign(to_numpy(conditional.beta)[0])


def batch_norm_pair(shape, epsilon=1e-3, momentum=0.9):
    """A one-condition CBN and a BatchNormalization with the same gamma and beta."""
    conditional = ConditionalBatchNormalization(
        num_conditions=1, epsilon=epsilon, momentum=momentum
    )
    plain = keras.layers.BatchNormalization(epsilon=epsilon, momentum=momentum)
    with_the_same_affine(conditional, plain, shape)
    return conditional, plain


@pytest.mark.slow
@pytest.mark.parametrize("rank", [2, 3, 4, 5])
def test_single_condition_batch_norm_equals_batch_normalization(rank):
    shape = SHAPES_BY_RANK[rank]
    ids = np.zeros(shape[0], "int32")
    conditional, plain = batch_norm_pair(shape)
    for step in range(4):
        x = random_inputs(shape, seed=step, scale=2.0, offset=1.5)
        np.testing.assert_allclose(
            to_numpy(conditional(x, ids, training=True)),
            to_numpy(plain(x, training=True)),
            rtol=1e-5, atol=1e-5,
        )
    np.testing.assert_allclose(
        to_numpy(conditional.moving_mean), to_numpy(plain.moving_mean), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(conditional.moving_variance), to_numpy(plain.moving_variance),
        rtol=1e-6, atol=1e-6,
    )
    x = random_inputs(shape, seed=10, scale=2.0, offset=1.5)
    np.testing.assert_allclose(
        to_numpy(conditional(x, ids, training=False)),
        to_numpy(plain(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_batch_norm_training_updates_moving_statistics_by_momentum():
    shape = (8, 5, 3)
    x = random_inputs(shape, scale=3.0, offset=2.0)
    layer = ConditionalBatchNormalization(num_conditions=2, momentum=0.75)
    layer(x, np.zeros(shape[0], "int32"), training=True)
    np.testing.assert_allclose(
        to_numpy(layer.moving_mean), 0.25 * x.mean(axis=(0, 1)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance), 0.75 + 0.25 * x.var(axis=(0, 1)), rtol=1e-5
    )


def test_frozen_batch_norm_uses_and_keeps_moving_statistics():
    shape = (4, 5, 3)
    ids = np.zeros(shape[0], "int32")
    conditional, plain = batch_norm_pair(shape)
    for step in range(2):
        x = random_inputs(shape, seed=step, scale=2.0, offset=1.5)
        conditional(x, ids, training=True)
        plain(x, training=True)
    moving_mean = to_numpy(conditional.moving_mean)
    moving_variance = to_numpy(conditional.moving_variance)
    conditional.trainable = False
    plain.trainable = False

    x = random_inputs(shape, seed=5, scale=2.0, offset=1.5)
    outputs = to_numpy(conditional(x, ids, training=True))

    np.testing.assert_allclose(
        outputs, to_numpy(plain(x, training=False)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        outputs, to_numpy(conditional(x, ids, training=False)), rtol=1e-6, atol=1e-6
    )
    assert np.array_equal(to_numpy(conditional.moving_mean), moving_mean)
    assert np.array_equal(to_numpy(conditional.moving_variance), moving_variance)


@pytest.mark.parametrize("rank", [3, 4, 5])
def test_single_condition_instance_norm_equals_group_normalization(rank):
    shape = SHAPES_BY_RANK[rank]
    epsilon = 1e-4
    x = random_inputs(shape, scale=2.0, offset=1.5)
    conditional = ConditionalInstanceNormalization(num_conditions=1, epsilon=epsilon)
    plain = keras.layers.GroupNormalization(groups=-1, epsilon=epsilon)
    with_the_same_affine(conditional, plain, shape)

    np.testing.assert_allclose(
        to_numpy(conditional(x, np.zeros(shape[0], "int32"))),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize(
    "shape, groups",
    [((3, 7, 6), 3), ((2, 5, 4, 6), 2), ((2, 5, 4, 6), 1)],
    ids=["tokens", "image", "one-group"],
)
def test_single_condition_group_norm_equals_group_normalization(shape, groups):
    epsilon = 1e-4
    x = random_inputs(shape, scale=2.0, offset=1.5)
    conditional = ConditionalGroupNormalization(groups=groups, num_conditions=1, epsilon=epsilon)
    plain = keras.layers.GroupNormalization(groups=groups, epsilon=epsilon)
    with_the_same_affine(conditional, plain, shape)

    np.testing.assert_allclose(
        to_numpy(conditional(x, np.zeros(shape[0], "int32"))),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("groups", [-1, 2, 1])
def test_one_picture_at_inference_is_group_normalization(groups):
    """TensorFlow normalizes a single picture (1, H, W, C) outside training with its
    fused batch-norm kernel (`cbn/_fused.py`); it must still be group norm."""
    shape = (1, 5, 4, 6)
    x = random_inputs(shape, scale=2.0, offset=1.5)
    conditional = ConditionalGroupNormalization(groups=groups, num_conditions=1, epsilon=1e-4)
    plain = keras.layers.GroupNormalization(groups=groups, epsilon=1e-4)
    with_the_same_affine(conditional, plain, shape)

    np.testing.assert_allclose(
        to_numpy(conditional(x, np.zeros(1, "int32"), training=False)),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("shape", [(5, 8), (3, 7, 6), (2, 5, 4, 6)], ids=["features", "tokens", "image"])
def test_single_condition_layer_norm_equals_layer_normalization(shape):
    epsilon = 1e-4
    x = random_inputs(shape, scale=2.0, offset=1.5)
    conditional = ConditionalLayerNormalization(num_conditions=1, epsilon=epsilon)
    plain = keras.layers.LayerNormalization(epsilon=epsilon)
    with_the_same_affine(conditional, plain, shape)

    np.testing.assert_allclose(
        to_numpy(conditional(x, np.zeros(shape[0], "int32"))),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


def test_group_norm_with_one_channel_per_group_is_instance_norm():
    x = random_inputs((2, 4, 5, 3), scale=2.0, offset=1.5)
    ids = np.array([1, 0], "int32")
    group_norm = ConditionalGroupNormalization(groups=-1, num_conditions=2)
    instance_norm = ConditionalInstanceNormalization(num_conditions=2, epsilon=1e-3)
    group_norm.build(x.shape, ids.shape)
    instance_norm.build(x.shape, ids.shape)
    randomize_table(group_norm)
    instance_norm.set_weights(group_norm.get_weights())
    np.testing.assert_allclose(
        to_numpy(group_norm(x, ids)), to_numpy(instance_norm(x, ids)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("rank", [3, 4, 5])
def test_instance_norm_matches_numpy_reference(rank):
    shape = SHAPES_BY_RANK[rank]
    x = random_inputs(shape, scale=3.0, offset=-2.0)
    ids = np.arange(shape[0], dtype="int32") % 2
    layer = ConditionalInstanceNormalization(num_conditions=2)
    layer.build(shape, ids.shape)
    randomize_table(layer)
    gamma = to_numpy(layer.gamma)[ids].reshape((shape[0],) + (1,) * (rank - 2) + (-1,))
    beta = to_numpy(layer.beta)[ids].reshape(gamma.shape)

    np.testing.assert_allclose(
        to_numpy(layer(x, ids)),
        instance_norm_reference(x, gamma, beta, layer.epsilon),
        rtol=1e-4, atol=1e-4,
    )


@pytest.mark.parametrize(
    "layer",
    [
        ConditionalInstanceNormalization(num_conditions=2),
        ConditionalGroupNormalization(groups=3, num_conditions=2),
        ConditionalLayerNormalization(num_conditions=2),
    ],
    ids=["instance", "group", "layer"],
)
def test_norms_without_moving_statistics_ignore_training_flag(layer):
    x = random_inputs((2, 4, 4, 6))
    ids = np.array([0, 1], "int32")
    assert np.array_equal(
        to_numpy(layer(x, ids, training=True)), to_numpy(layer(x, ids, training=False))
    )


@pytest.mark.slow
def test_moving_variance_stays_non_negative_for_constant_large_batches():
    layer = ConditionalBatchNormalization(num_conditions=1, momentum=0.0)
    x = np.full((1, 3, 2, 2), 355469.0, "float32")
    outputs = to_numpy(layer(x, np.zeros(1, "int32"), training=True))
    assert np.all(to_numpy(layer.moving_variance) >= 0.0)
    assert np.all(np.isfinite(outputs))
    assert np.all(np.isfinite(to_numpy(layer(x, np.zeros(1, "int32"), training=False))))


@pytest.mark.parametrize("layer_class, passes", [
    (ConditionalLayerNormalization, True),
    (ConditionalRMSNormalization, True),
    (ConditionalInstanceNormalization, False),  # statistics over the masked positions too
    (functools.partial(ConditionalGroupNormalization, groups=3), False),
    (ConditionalBatchNormalization, True),  # statistics over the unmasked positions only
], ids=["layer", "rms", "instance", "group", "batch"])
def test_a_keras_mask_passes_through_where_the_statistics_leave_the_masked_positions_out(
        layer_class, passes):
    tokens = keras.Input((None,), dtype="int32")
    label = keras.Input((), dtype="int32")
    embedded = keras.layers.Embedding(10, 6, mask_zero=True)(tokens)
    if passes:
        outputs = layer_class(num_conditions=2)(embedded, label)
    else:
        with pytest.warns(UserWarning, match="does not support masking"):
            outputs = layer_class(num_conditions=2)(embedded, label)
    assert (getattr(outputs, "_keras_mask", None) is not None) == passes
    if passes:  # Padding is then skipped downstream: the same state with or without it.
        model = keras.Model([tokens, label], keras.layers.GRU(3)(outputs))
        label_values = np.array([1], "int32")
        padded = to_numpy(model([np.array([[4, 2, 0, 0]], "int32"), label_values]))
        unpadded = to_numpy(model([np.array([[4, 2]], "int32"), label_values]))
        np.testing.assert_allclose(padded, unpadded, rtol=1e-5, atol=1e-6)
