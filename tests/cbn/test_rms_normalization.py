"""ConditionalRMSNormalization: RMS norm with conditional gamma (and beta), against Keras's
`RMSNormalization`, numpy, and its invariants; with and without a beta."""

import numpy as np
import keras
import pytest
from hypothesis import given, settings, strategies as st

from cbn import ConditionalRMSNormalization
from cbn_testing import gradients, random_inputs, randomize_table, to_numpy

SHAPES_BY_RANK = {2: (6, 5), 3: (4, 6, 5), 4: (3, 5, 4, 5), 5: (2, 3, 4, 2, 5)}
NUM_CONDITIONS = 3


def rms_reference(x, gamma, beta, epsilon):
    """Numpy RMS normalization over the last axis, in float64."""
    x = x.astype("float64")
    outputs = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + epsilon) * gamma
    return outputs if beta is None else outputs + beta


def table_layer(shape, center, **kwargs):
    layer = ConditionalRMSNormalization(num_conditions=NUM_CONDITIONS, center=center, **kwargs)
    layer.build(shape, (shape[0],))
    randomize_table(layer)
    return layer


@pytest.mark.parametrize("rank", [2, 3, 4, 5])
def test_single_condition_equals_rms_normalization(rank):
    shape = SHAPES_BY_RANK[rank]
    x = random_inputs(shape, scale=2.0, offset=1.5)
    conditional = table_layer(shape, center=False, epsilon=1e-4)
    plain = keras.layers.RMSNormalization(epsilon=1e-4)
    plain.build(shape)
    plain.scale.assign(to_numpy(conditional.gamma)[1])

    np.testing.assert_allclose(
        to_numpy(conditional(x, np.ones(shape[0], "int32"))), to_numpy(plain(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("center", [False, True])
def test_fresh_mlp_layer_with_silu_equals_rms_normalization(center):
    x = random_inputs((3, 7, 6), scale=2.0, offset=1.0)
    vectors = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    layer = ConditionalRMSNormalization(mlp_units=(), center=center, condition_activation="silu")
    np.testing.assert_allclose(
        to_numpy(layer(x, vectors)), to_numpy(keras.layers.RMSNormalization()(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("center", [False, True], ids=["no-beta", "beta"])
@pytest.mark.parametrize("condition", ["ids", "weights", "weight_map"])
def test_table_mode_matches_numpy_reference(center, condition):
    shape = (3, 4, 5, 6)
    x = random_inputs(shape, scale=3.0, offset=-2.0)
    layer = table_layer(shape, center=center)
    gamma = to_numpy(layer.gamma)
    beta = to_numpy(layer.beta) if center else None
    rng = np.random.default_rng(2)
    if condition == "ids":
        values = np.array([2, 0, 1], "int32")
        rows = np.eye(NUM_CONDITIONS)[values][:, None, None, :]
    elif condition == "weights":
        values = rng.dirichlet(np.ones(NUM_CONDITIONS), size=3).astype("float32")
        rows = values[:, None, None, :]
    else:
        values = rng.dirichlet(np.ones(NUM_CONDITIONS), size=shape[:-1]).astype("float32")
        rows = values

    expected = rms_reference(x, rows @ gamma, None if beta is None else rows @ beta, 1e-6)

    np.testing.assert_allclose(to_numpy(layer(x, values)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_without_center_there_is_no_beta():
    table = table_layer((2, 3, 4), center=False)
    mlp = ConditionalRMSNormalization(mlp_units=(5,))
    mlp(random_inputs((2, 3, 4)), np.ones((2, 2), "float32"))

    assert [w.name for w in table.weights] == ["gamma"]
    assert table.beta is None and mlp.beta is None
    assert mlp.mlp_layers[-1].units == 4  # gamma only
    assert table.gamma_beta(np.array([0, 2]))[1] is None


@pytest.mark.parametrize("center", [False, True], ids=["no-beta", "beta"])
def test_gradients_match_numpy_derivative_of_the_formula(center):
    """d/dgamma and d/dbeta of sum(y * upstream), from the closed form of RMS norm."""
    shape = (2, 3, 4)
    x = random_inputs(shape, offset=1.0)
    upstream = random_inputs(shape, seed=5)
    ids = np.array([1, 1], "int32")
    layer = table_layer(shape, center=center)

    grads = gradients(layer, lambda y: keras.ops.sum(keras.ops.multiply(y, upstream)), x, ids)

    normalized = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + layer.epsilon)
    expected_gamma = np.zeros((NUM_CONDITIONS, 4))
    expected_gamma[1] = np.sum(upstream * normalized, axis=(0, 1))
    np.testing.assert_allclose(grads[layer.gamma.path], expected_gamma, rtol=1e-4, atol=1e-5)
    if center:
        expected_beta = np.zeros((NUM_CONDITIONS, 4))
        expected_beta[1] = upstream.sum(axis=(0, 1))
        np.testing.assert_allclose(grads[layer.beta.path], expected_beta, rtol=1e-4, atol=1e-5)


def test_appended_rows_without_beta_start_as_identity():
    layer = table_layer((2, 3, 4), center=False)
    new_ids = layer.append_conditions(count=2)
    x = random_inputs((2, 3, 4))
    assert new_ids == [3, 4] and layer.gamma.shape == (5, 4) and layer.beta is None
    np.testing.assert_allclose(
        to_numpy(layer(x, np.array(new_ids, "int32"))), rms_reference(x, 1.0, None, 1e-6),
        rtol=1e-5, atol=1e-5,
    )


def test_trainable_rows_without_beta_hold_the_other_rows():
    # Without a beta the table is gamma alone (a variable, not a concatenation); JAX's
    # `where` refused a Keras variable there, so the layer did not run at all.
    layer = table_layer((2, 3, 4), center=False, trainable_rows=[1])
    x = random_inputs((2, 3, 4))
    ids = np.array([0, 1], "int32")
    np.testing.assert_allclose(
        to_numpy(layer(x, ids)),
        rms_reference(x, to_numpy(layer.gamma)[ids][:, None], None, 1e-6), rtol=1e-5, atol=1e-5)
    upstream = keras.ops.convert_to_tensor(x)
    grads = gradients(layer, lambda outputs: keras.ops.sum(outputs * upstream), x, ids)
    gamma_grad = grads[layer.gamma.path]
    assert np.all(gamma_grad[[0, 2]] == 0) and np.any(gamma_grad[1] != 0)


@pytest.mark.slow
def test_runs_in_a_function_compiled_with_xla():
    # `model.compile(jit_compile=True)`, and the default `"auto"` on a GPU, compile the
    # train and predict steps with XLA, which has no kernel for some TensorFlow ops.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("XLA functions of TensorFlow")
    import tensorflow as tf

    layer = table_layer((2, 3, 4), center=False)
    x = tf.constant(random_inputs((2, 3, 4)))
    ids = tf.constant([0, 2])

    outputs = tf.function(layer, jit_compile=True)(x, ids)

    gamma = to_numpy(layer.gamma)[[0, 2]][:, None]
    np.testing.assert_allclose(outputs.numpy(), rms_reference(x.numpy(), gamma, None, 1e-6),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(
    factor=st.sampled_from([0.05, 0.5, 7.0, 1e4]),
    seed=st.integers(0, 2**16),
    center=st.booleans(),
)
def test_outputs_do_not_change_when_inputs_are_scaled(factor, seed, center):
    """RMS(a * x) = RMS(x) for a > 0, while a * x stays well above sqrt(epsilon)."""
    shape = (2, 5, 8)
    x = random_inputs(shape, seed=seed, offset=1.0)
    layer = table_layer(shape, center=center)
    ids = np.array([0, 2], "int32")
    np.testing.assert_allclose(
        to_numpy(layer(factor * x, ids)), to_numpy(layer(x, ids)), rtol=2e-3, atol=2e-3
    )


@pytest.mark.parametrize("value", [0.0, -3.0, 7e5])
def test_constant_inputs_give_finite_outputs(value):
    """A zero input gives beta (0 / sqrt(epsilon) = 0); any constant, its sign times gamma."""
    layer = table_layer((2, 3, 4), center=True)
    x = np.full((2, 3, 4), value, "float32")
    ids = np.array([0, 1], "int32")
    expected = rms_reference(x, to_numpy(layer.gamma)[ids][:, None], to_numpy(layer.beta)[ids][:, None], 1e-6)
    np.testing.assert_allclose(to_numpy(layer(x, ids)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer",
    [
        ConditionalRMSNormalization(num_conditions=4, epsilon=1e-5, normalize_weights=True),
        ConditionalRMSNormalization(num_conditions=2, center=True, trainable_rows=[1]),
        ConditionalRMSNormalization(mlp_units=(), condition_activation="silu"),
        ConditionalRMSNormalization(mlp_units=(8,), center=True, mlp_activation="gelu"),
    ],
    ids=["table", "table-beta", "linear-silu", "mlp-beta"],
)
def test_config_round_trip_reproduces_the_config(layer):
    config = layer.get_config()
    assert ConditionalRMSNormalization.from_config(config).get_config() == config


@pytest.mark.parametrize("center", [False, True], ids=["no-beta", "beta"])
def test_mlp_model_survives_keras_file(center, tmp_path):
    tokens = keras.Input((6, 4))
    vectors = keras.Input((3,))
    layer = ConditionalRMSNormalization(mlp_units=(), center=center,
                                        condition_activation="silu")
    model = keras.Model([tokens, vectors], layer(tokens, vectors))
    head = layer.mlp_layers[-1]
    head.kernel.assign(np.random.default_rng(3).normal(size=head.kernel.shape).astype("float32"))
    inputs = [random_inputs((2, 6, 4)), np.random.default_rng(4).normal(size=(2, 3)).astype("float32")]
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.testing.assert_array_equal(
        to_numpy(keras.saving.load_model(path).predict(inputs, verbose=0)),
        to_numpy(model.predict(inputs, verbose=0)),
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_conditions": 2, "center": "yes"}, "`center` must be True or False; received 'yes'"),
        ({"num_conditions": 2, "epsilon": -1.0}, "`epsilon` must be a positive finite number"),
        ({"num_conditions": 2, "condition_activation": "silu"},
         "`condition_activation` applies to the conditioning vector of MLP mode"),
        ({"mlp_units": (), "condition_activation": "nope"}, "`condition_activation`: .*nope"),
    ],
    ids=["center", "epsilon", "activation-with-table", "unknown-activation"],
)
def test_bad_arguments_are_rejected_by_name(arguments, message):
    with pytest.raises(ValueError, match=f"ConditionalRMSNormalization 'norm': {message}"):
        ConditionalRMSNormalization(name="norm", **arguments)


def test_table_model_without_beta_survives_keras_file(tmp_path):
    tokens = keras.Input((6, 4))
    ids = keras.Input((), dtype="int32")
    layer = ConditionalRMSNormalization(num_conditions=NUM_CONDITIONS)
    model = keras.Model([tokens, ids], layer(tokens, ids))
    randomize_table(layer)
    layer.append_conditions(count=1, init=2)
    inputs = [random_inputs((2, 6, 4)), np.array([3, 0], "int32")]
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(reloaded.predict(inputs, verbose=0)),
                                  to_numpy(model.predict(inputs, verbose=0)))
    assert [w.name for w in reloaded.layers[-1].weights] == ["gamma"]


def test_input_of_rank_one_is_rejected():
    layer = ConditionalRMSNormalization(num_conditions=2, name="norm")
    with pytest.raises(ValueError, match="'norm'.*rank 2 to 5"):
        layer(np.zeros((4,), "float32"), np.zeros(4, "int32"))
