"""`ConditionalBatchNormalization` with a Keras mask, as `keras.layers.BatchNormalization`.

In training the batch's mean and variance, and so the moving averages' update, are taken
over the unmasked positions only (padding after `Embedding(mask_zero=True)` or `Masking`,
or an explicit `mask=`); at inference the moving averages apply as without a mask. The
mask passes on to the next layer. Masked positions hold huge values in some cases here:
counted, they would move the statistics far from Keras's.
"""

import warnings

import numpy as np
import keras
import pytest

from cbn import ConditionalBatchNormalization
from cbn_testing import random_inputs, randomize_table, to_numpy

SHAPES_BY_RANK = {2: (8, 3), 3: (4, 7, 3), 4: (3, 4, 5, 3), 5: (2, 3, 4, 2, 3)}
HUGE = 1e6


def keras_mask(tensor):
    """The Keras mask attached to `tensor` (JAX arrays hold it outside the array)."""
    from keras.src.backend.common.masking import get_keras_mask

    return get_keras_mask(tensor)


def random_mask(shape, seed):
    """A boolean mask `shape` (the input's without channels), about 60% kept, at least
    one position kept."""
    mask = np.random.default_rng(seed + 100).uniform(size=shape) < 0.6
    mask.flat[0] = True
    return mask


def batch_norm_pair(shape, momentum=0.9, num_conditions=1):
    """A CBN and a `BatchNormalization` with the gamma and beta of the CBN's row 0."""
    conditional = ConditionalBatchNormalization(num_conditions, momentum=momentum)
    conditional.build(shape, (shape[0],))
    randomize_table(conditional)
    plain = keras.layers.BatchNormalization(momentum=momentum)
    plain.build(shape)
    plain.gamma.assign(to_numpy(conditional.gamma)[0])
    plain.beta.assign(to_numpy(conditional.beta)[0])
    return conditional, plain


def assert_same_moving_statistics(conditional, plain):
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            to_numpy(getattr(conditional, name)), to_numpy(getattr(plain, name)),
            rtol=1e-5, atol=1e-5, err_msg=name,
        )


def masked_reference(x, mask, gamma, beta, epsilon=1e-3):
    """Numpy batch norm over the unmasked positions, float64; gamma and beta per sample
    `(batch, channels)` or per position `(batch, *positions, channels)`."""
    x = x.astype("float64")
    kept = x[np.broadcast_to(mask, x.shape[:-1])]  # (kept positions, channels)
    mean, variance = kept.mean(0), kept.var(0)
    if gamma.ndim == 2:
        gamma = gamma.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],))
        beta = beta.reshape(gamma.shape)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta, mean, variance


@pytest.mark.slow
@pytest.mark.parametrize("huge", [False, True], ids=["random", "huge_padding"])
@pytest.mark.parametrize("rank", [2, 3, 4, 5])
def test_masked_training_equals_keras_batch_normalization(rank, huge):
    shape = SHAPES_BY_RANK[rank]
    ids = np.zeros(shape[0], "int32")
    conditional, plain = batch_norm_pair(shape)
    for step in range(3):
        x = random_inputs(shape, seed=step, scale=2.0, offset=1.5)
        mask = random_mask(shape[:-1], step)
        if huge:
            x[~mask] = HUGE * (1 + step)
        np.testing.assert_allclose(
            to_numpy(conditional(x, ids, training=True, mask=mask)),
            to_numpy(plain(x, training=True, mask=mask)),
            rtol=1e-5, atol=1e-5,
        )
        assert_same_moving_statistics(conditional, plain)
    # Inference: the moving statistics, mask or not.
    x = random_inputs(shape, seed=9)
    mask = random_mask(shape[:-1], 9)
    expected = to_numpy(plain(x, training=False, mask=mask))
    np.testing.assert_allclose(
        to_numpy(conditional(x, ids, training=False, mask=mask)), expected,
        rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(conditional(x, ids, training=False)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("padding", [HUGE, np.inf], ids=["huge", "infinite"])
def test_masked_padding_does_not_move_the_statistics(padding):
    # The same tokens with and without padding: the same outputs and moving averages.
    short = random_inputs((2, 3, 4), seed=1, offset=2.0)
    padded = np.concatenate([short, np.full((2, 5, 4), padding, "float32")], axis=1)
    mask = np.arange(8)[None, :].repeat(2, 0) < 3
    ids = np.array([0, 1], "int32")
    outputs = {}
    layers = {}
    for name, x, m in [("short", short, None), ("padded", padded, mask)]:
        layers[name] = ConditionalBatchNormalization(2, momentum=0.5)
        outputs[name] = to_numpy(layers[name](x, ids, training=True, mask=m))
    np.testing.assert_allclose(outputs["padded"][:, :3], outputs["short"], rtol=1e-5, atol=1e-5)
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(to_numpy(getattr(layers["padded"], name)),
                                   to_numpy(getattr(layers["short"], name)), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ids", "weights", "weight_maps"])
def test_masked_statistics_with_several_conditions_match_numpy(kind):
    shape = (3, 5, 4)
    layer = ConditionalBatchNormalization(3, momentum=0.0)
    rng = np.random.default_rng(3)
    if kind == "ids":
        condition = np.array([0, 2, 1], "int32")
    elif kind == "weights":
        condition = rng.dirichlet(np.ones(3), size=3).astype("float32")
    else:
        condition = rng.dirichlet(np.ones(3), size=shape[:-1]).astype("float32")
    layer.build(shape, condition.shape)
    randomize_table(layer)
    x = random_inputs(shape, seed=4, scale=3.0, offset=-2.0)
    mask = random_mask(shape[:-1], 4)
    x[~mask] = -HUGE
    gamma, beta = (to_numpy(t) for t in layer.gamma_beta(condition))
    expected, mean, variance = masked_reference(x, mask, gamma, beta)

    outputs = to_numpy(layer(x, condition, training=True, mask=mask))

    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(to_numpy(layer.moving_mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(layer.moving_variance), variance, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_mask_broadcasts_like_keras_batch_normalization():
    # A mask with size-1 axes (one per sample here) broadcasts over the positions.
    shape = (4, 3, 2, 3)
    conditional, plain = batch_norm_pair(shape)
    x = random_inputs(shape, seed=5, offset=1.0)
    mask = np.array([True, False, True, True])[:, None, None]
    x[1] = HUGE
    np.testing.assert_allclose(
        to_numpy(conditional(x, np.zeros(4, "int32"), training=True, mask=mask)),
        to_numpy(plain(x, training=True, mask=mask)), rtol=1e-5, atol=1e-5)
    assert_same_moving_statistics(conditional, plain)


def test_a_mask_without_any_kept_position_leaves_the_moving_statistics():
    layer = ConditionalBatchNormalization(1, momentum=0.5)
    x = random_inputs((2, 3, 4), seed=6)
    ids = np.zeros(2, "int32")
    layer(x, ids, training=True)
    before = [to_numpy(layer.moving_mean), to_numpy(layer.moving_variance)]
    outputs = to_numpy(layer(x, ids, training=True, mask=np.zeros((2, 3), bool)))
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(to_numpy(layer.moving_mean), before[0])
    np.testing.assert_array_equal(to_numpy(layer.moving_variance), before[1])


@pytest.mark.slow
def test_the_mask_attached_to_the_input_is_used_and_passed_on():
    # `Masking` attaches the mask to its output (and zeroes the masked positions, which
    # counted would pull the mean towards zero).
    shape = (3, 6, 4)
    x = random_inputs(shape, seed=7, offset=3.0)
    x[0, 4:] = x[2, 1:3] = 9.0
    masked = keras.layers.Masking(mask_value=9.0)(x)
    mask = to_numpy(keras_mask(masked))
    assert not mask.all()
    conditional, plain = batch_norm_pair(shape)

    outputs = conditional(masked, np.zeros(3, "int32"), training=True)

    np.testing.assert_allclose(to_numpy(outputs), to_numpy(plain(masked, training=True)),
                               rtol=1e-5, atol=1e-5)
    assert_same_moving_statistics(conditional, plain)
    np.testing.assert_array_equal(to_numpy(keras_mask(outputs)), mask)


def test_an_explicit_mask_is_passed_on():
    x = random_inputs((2, 3, 4))
    mask = np.array([[True, True, False], [True, False, False]])
    outputs = ConditionalBatchNormalization(1)(x, np.zeros(2, "int32"), training=True,
                                               mask=mask)
    np.testing.assert_array_equal(to_numpy(keras_mask(outputs)), mask)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4), (2,), (2, 2)], ids=["rank", "rank2", "size"])
def test_a_mask_of_the_wrong_shape_is_refused(mask_shape):
    layer = ConditionalBatchNormalization(1)
    with pytest.raises(ValueError, match="ConditionalBatchNormalization.*mask"):
        layer(random_inputs((2, 3, 4)), np.zeros(2, "int32"), training=True,
              mask=np.ones(mask_shape, bool))


def embedding_model(normalization, ids_input=True):
    """tokens (mask_zero=True) -> Embedding -> `normalization`."""
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True, name="embedding")(tokens)
    if ids_input:
        label = keras.Input((), dtype="int32")
        return keras.Model([tokens, label], normalization(embedded, label)), embedded
    return keras.Model(tokens, normalization(embedded)), embedded


def test_after_an_embedding_with_mask_zero_there_is_no_mask_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, embedded = embedding_model(ConditionalBatchNormalization(2))
    plain, plain_embedded = embedding_model(keras.layers.BatchNormalization(), False)
    # The mask passes on as Keras's BatchNormalization passes it.
    assert keras_mask(model.outputs[0]) is not None
    assert keras_mask(plain.outputs[0]) is not None
    assert tuple(keras_mask(model.outputs[0]).shape) == tuple(keras_mask(embedded).shape)


@pytest.mark.slow
def test_embedding_model_trains_like_keras_batch_normalization_and_survives_keras_file(
        tmp_path):
    model, _ = embedding_model(ConditionalBatchNormalization(1, momentum=0.5))
    plain, _ = embedding_model(keras.layers.BatchNormalization(momentum=0.5), False)
    plain.get_layer("embedding").set_weights(model.get_layer("embedding").get_weights())
    tokens = np.array([[3, 1, 4, 0, 0, 0], [1, 5, 9, 2, 6, 0], [5, 0, 0, 0, 0, 0]], "int32")
    labels = np.zeros(3, "int32")
    np.testing.assert_allclose(to_numpy(model([tokens, labels], training=True)),
                               to_numpy(plain(tokens, training=True)), rtol=1e-5, atol=1e-5)
    assert_same_moving_statistics(model.layers[-1], plain.layers[-1])

    # Trained by `fit` (compiled): padding changes neither the loss nor the statistics.
    for m in (model, plain):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    targets = np.ones((3, 6, 4), "float32")
    model.fit([tokens, labels], targets, epochs=2, verbose=0, shuffle=False)
    plain.fit(tokens, targets, epochs=2, verbose=0, shuffle=False)
    assert_same_moving_statistics(model.layers[-1], plain.layers[-1])
    np.testing.assert_allclose(to_numpy(model([tokens, labels])), to_numpy(plain(tokens)),
                               rtol=1e-4, atol=1e-4)

    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(reloaded.predict([tokens, labels], verbose=0)),
                                  to_numpy(model.predict([tokens, labels], verbose=0)))
    reloaded_layer = reloaded.layers[-1]
    assert isinstance(reloaded_layer, ConditionalBatchNormalization)
    assert keras_mask(reloaded.outputs[0]) is not None
    # The reloaded model still skips the padding in training.
    np.testing.assert_allclose(
        to_numpy(reloaded([tokens, labels], training=True)),
        to_numpy(plain(tokens, training=True)), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ids", "weight_maps"])
def test_masked_gradients_match_keras_batch_normalization(kind):
    """First order (the input, gamma and beta) and second order (a gradient penalty)."""
    from test_gradients import differentiate

    shape = (3, 5, 4)
    conditional, plain = batch_norm_pair(shape)
    if kind == "ids":
        condition = np.zeros(3, "int32")
    else:  # All of row 0 at every position: the same gamma and beta by another path.
        condition = np.ones(shape[:-1] + (1,), "float32")
    x = random_inputs(shape, seed=8, offset=1.0)
    mask = random_mask(shape[:-1], 8)
    x[~mask] = HUGE
    upstream = keras.ops.convert_to_tensor(random_inputs(shape, seed=9))
    moving = [v.value for v in conditional.non_trainable_variables]

    def conditional_loss(x, gamma, beta):
        outputs, _ = conditional.stateless_call(
            [keras.ops.reshape(gamma, (1, -1)), keras.ops.reshape(beta, (1, -1))], moving,
            x, condition, training=True, mask=mask)
        return keras.ops.sum(outputs * upstream)

    def plain_loss(x, gamma, beta):
        outputs, _ = plain.stateless_call([gamma, beta], moving, x, training=True, mask=mask)
        return keras.ops.sum(outputs * upstream)

    def penalty(loss):
        first = differentiate(loss)
        return lambda x, gamma, beta: keras.ops.sum(keras.ops.square(first(x, gamma, beta)[0]))

    args = [keras.ops.convert_to_tensor(a) for a in
            (x, to_numpy(plain.gamma), to_numpy(plain.beta))]
    for order, (got, want) in enumerate([
            (differentiate(conditional_loss)(*args), differentiate(plain_loss)(*args)),
            (differentiate(penalty(conditional_loss))(*args),
             differentiate(penalty(plain_loss))(*args))]):
        for name, g, w in zip(("x", "gamma", "beta"), got, want):
            if w is None:  # beta does not reach dL/dx
                assert g is None or np.allclose(to_numpy(g), 0.0), name
                continue
            np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name}, order {order + 1}")
