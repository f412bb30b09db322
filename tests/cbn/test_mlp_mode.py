"""MLP mode: gamma and beta predicted from a float conditioning vector."""

import numpy as np
import keras
import pytest

from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
    ConditionalLayerNormalization,
)
from cbn_testing import random_inputs, to_numpy

SHAPE = (4, 5, 5, 3)
CONDITION_DIM = 2


def conditioning_vectors(batch_size, seed=0):
    return np.random.default_rng(seed).normal(size=(batch_size, CONDITION_DIM)).astype(
        "float32"
    )


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False])
def test_fresh_mlp_batch_norm_equals_batch_normalization(training):
    x = random_inputs(SHAPE, scale=2.0, offset=1.0)
    conditional = ConditionalBatchNormalization(mlp_units=(8,))
    plain = keras.layers.BatchNormalization()
    np.testing.assert_allclose(
        to_numpy(conditional(x, conditioning_vectors(SHAPE[0]), training=training)),
        to_numpy(plain(x, training=training)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.slow
def test_fresh_mlp_instance_norm_equals_group_normalization():
    x = random_inputs(SHAPE, scale=2.0, offset=1.0)
    conditional = ConditionalInstanceNormalization(mlp_units=(8, 8), epsilon=1e-3)
    plain = keras.layers.GroupNormalization(groups=-1, epsilon=1e-3)
    np.testing.assert_allclose(
        to_numpy(conditional(x, conditioning_vectors(SHAPE[0]))),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "conditional, plain",
    [
        (ConditionalGroupNormalization(groups=3, mlp_units=(8,)),
         keras.layers.GroupNormalization(groups=3)),
        (ConditionalLayerNormalization(mlp_units=()), keras.layers.LayerNormalization()),
    ],
    ids=["group", "layer"],
)
def test_fresh_mlp_group_and_layer_norm_equal_the_keras_layers(conditional, plain):
    x = random_inputs((4, 5, 6), scale=2.0, offset=1.0)  # (batch, tokens, features)
    np.testing.assert_allclose(
        to_numpy(conditional(x, conditioning_vectors(4))),
        to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.slow
def test_layer_norm_gives_every_token_its_samples_gamma_and_beta():
    """Transformer inputs (batch, tokens, features), one conditioning vector per sample."""
    x = random_inputs((3, 7, 4), scale=2.0, offset=-1.0)
    vectors = conditioning_vectors(3)
    layer = ConditionalLayerNormalization(mlp_units=(5,), epsilon=1e-5)
    layer(x, vectors)
    head = layer.mlp_layers[-1]
    head.kernel.assign(np.random.default_rng(4).normal(size=head.kernel.shape).astype("float32"))

    gamma, beta = (to_numpy(t)[:, None, :] for t in layer.gamma_beta(vectors))
    standardized = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(
        x.var(axis=-1, keepdims=True) + 1e-5
    )
    np.testing.assert_allclose(
        to_numpy(layer(x, vectors)), gamma * standardized + beta, rtol=1e-5, atol=1e-5
    )


def test_linear_mlp_has_only_the_output_layer():
    layer = ConditionalInstanceNormalization(mlp_units=())
    layer(random_inputs(SHAPE), conditioning_vectors(SHAPE[0]))
    assert [sublayer.name for sublayer in layer.mlp_layers] == ["mlp_gamma_beta"]
    assert layer.mlp_layers[0].kernel.shape == (CONDITION_DIM, 2 * SHAPE[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "layer_class", [ConditionalBatchNormalization, ConditionalInstanceNormalization]
)
def test_trained_mlp_layer_depends_on_the_conditioning_vector(layer_class):
    """Learns to scale the normalized image by +2 for condition (1, 0) and by -1 for (0, 1)."""
    images = keras.Input(SHAPE[1:])
    condition = keras.Input((CONDITION_DIM,))
    outputs = layer_class(mlp_units=(8,))(images, condition)
    model = keras.Model([images, condition], outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = random_inputs((16,) + SHAPE[1:])
    styles = np.eye(CONDITION_DIM, dtype="float32")[np.arange(16) % 2]
    scale = np.where(styles[:, 0] == 1, 2.0, -1.0).astype("float32")[:, None, None, None]
    normalized = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    model.fit([x, styles], scale * normalized, batch_size=16, epochs=5, verbose=0)

    probe = x[:2]
    first = to_numpy(model.predict([probe, np.tile([[1.0, 0.0]], (2, 1))], verbose=0))
    second = to_numpy(model.predict([probe, np.tile([[0.0, 1.0]], (2, 1))], verbose=0))

    assert np.abs(first - second).max() > 0.1


@pytest.mark.parametrize(
    "layer_class", [ConditionalGroupNormalization, ConditionalLayerNormalization],
    ids=["group", "layer"],
)
def test_condition_activation_is_applied_before_the_mlp(layer_class):
    """`condition_activation="silu"` on c equals the same layer without it on silu(c)."""
    x = random_inputs((3, 4, 6), scale=2.0)
    vectors = conditioning_vectors(3) * 3.0
    kwargs = {"groups": 3} if layer_class is ConditionalGroupNormalization else {}
    with_activation = layer_class(mlp_units=(5,), condition_activation="silu", **kwargs)
    without = layer_class(mlp_units=(5,), **kwargs)
    with_activation(x, vectors)
    without(x, vectors)
    rng = np.random.default_rng(6)
    without.set_weights([rng.normal(size=w.shape).astype("float32")
                         for w in without.get_weights()])
    with_activation.set_weights(without.get_weights())
    silu = vectors / (1.0 + np.exp(-vectors))

    np.testing.assert_allclose(
        to_numpy(with_activation(x, vectors)), to_numpy(without(x, silu)),
        rtol=1e-5, atol=1e-5,
    )
    assert not np.allclose(to_numpy(with_activation(x, vectors)), to_numpy(without(x, vectors)),
                           atol=1e-3)
