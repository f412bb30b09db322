"""Growing condition tables and training only the conditional parameters."""

import numpy as np
import keras
import pytest

import cbn
from cbn import ConditionalBatchNormalization, ConditionalInstanceNormalization
from cbn_testing import random_inputs, randomize_table, to_numpy

IMAGE_SHAPE = (5, 5, 3)
NUM_CONDITIONS = 3


def styled_network(condition_input=None, mlp_layer=False):
    """conv -> BN -> CBN(table) -> conv -> CIN(table) [-> CBN(MLP)], the condition as input."""
    images = keras.Input(IMAGE_SHAPE)
    style_ids = condition_input if condition_input is not None else keras.Input(
        (), dtype="int32"
    )
    hidden = keras.layers.Conv2D(4, 3, padding="same")(images)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS)(hidden, style_ids)
    hidden = keras.layers.Conv2D(3, 3, padding="same")(hidden)
    outputs = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS)(
        hidden, style_ids
    )
    inputs = [images, style_ids]
    if mlp_layer:
        style_vectors = keras.Input((2,))
        outputs = ConditionalBatchNormalization(mlp_units=(4,))(outputs, style_vectors)
        inputs.append(style_vectors)
    model = keras.Model(inputs, outputs)
    for seed, layer in enumerate(cbn.conditional_layers(model)):
        if layer.uses_table:
            randomize_table(layer, seed=seed)
    return model


def snapshot(model):
    return {variable.path: to_numpy(variable).copy() for variable in model.variables}


def train_a_few_steps(model, inputs, steps=3):
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    targets = random_inputs((len(inputs[0]),) + IMAGE_SHAPE, seed=9)
    model.fit(inputs, targets, batch_size=len(inputs[0]), epochs=steps, verbose=0)


@pytest.mark.parametrize("init", ["identity", "mean", 1])
def test_appended_rows_leave_old_rows_and_outputs_bit_identical(init):
    layer = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS)
    x = random_inputs((3,) + IMAGE_SHAPE)
    old_ids = np.array([0, 1, 2], "int32")
    layer(x, old_ids)
    randomize_table(layer)
    old_gamma, old_beta = to_numpy(layer.gamma), to_numpy(layer.beta)
    old_outputs = to_numpy(layer(x, old_ids))

    new_ids = layer.append_conditions(count=2, init=init)

    assert new_ids == [3, 4]
    assert layer.num_conditions == 5
    assert np.array_equal(to_numpy(layer.gamma)[:3], old_gamma)
    assert np.array_equal(to_numpy(layer.beta)[:3], old_beta)
    assert np.array_equal(to_numpy(layer(x, old_ids)), old_outputs)


@pytest.mark.parametrize(
    "init, expected_row",
    [
        ("identity", lambda gamma, beta: (np.ones(3), np.zeros(3))),
        ("mean", lambda gamma, beta: (gamma.mean(axis=0), beta.mean(axis=0))),
        (2, lambda gamma, beta: (gamma[2], beta[2])),
    ],
    ids=["identity", "mean", "copy"],
)
def test_appended_rows_are_initialized_as_asked(init, expected_row):
    layer = ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS)
    layer.build((2,) + IMAGE_SHAPE, (2,))
    randomize_table(layer)
    expected_gamma, expected_beta = expected_row(to_numpy(layer.gamma), to_numpy(layer.beta))

    layer.append_conditions(count=2, init=init)

    for new_row in (3, 4):
        np.testing.assert_allclose(to_numpy(layer.gamma)[new_row], expected_gamma, rtol=1e-6)
        np.testing.assert_allclose(to_numpy(layer.beta)[new_row], expected_beta, atol=1e-6)


def test_identity_row_of_instance_norm_gives_plain_instance_norm():
    layer = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS, epsilon=1e-3)
    x = random_inputs((2,) + IMAGE_SHAPE, scale=2.0)
    layer(x, np.zeros(2, "int32"))
    randomize_table(layer)
    (new_id,) = layer.append_conditions()
    np.testing.assert_allclose(
        to_numpy(layer(x, np.full(2, new_id, "int32"))),
        to_numpy(keras.layers.GroupNormalization(groups=-1, epsilon=1e-3)(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.slow
def test_model_append_conditions_grows_every_table_and_keeps_old_outputs():
    model = styled_network()
    inputs = [random_inputs((3,) + IMAGE_SHAPE), np.array([0, 2, 1], "int32")]
    old_outputs = to_numpy(model.predict(inputs, verbose=0))
    old_variables = snapshot(model)

    new_ids = cbn.append_conditions(model, count=1, init="mean")

    assert new_ids == [NUM_CONDITIONS]
    for layer in cbn.conditional_layers(model):
        assert layer.num_conditions == NUM_CONDITIONS + 1
    for path, value in snapshot(model).items():
        old_value = old_variables[path]
        assert np.array_equal(value[: len(old_value)], old_value), path
    assert np.array_equal(to_numpy(model.predict(inputs, verbose=0)), old_outputs)


@pytest.mark.slow
def test_appended_rows_train_after_recompiling():
    model = styled_network()
    (new_id,) = cbn.append_conditions(model)
    layer = cbn.conditional_layers(model)[0]
    new_row_before = to_numpy(layer.gamma)[new_id]

    train_a_few_steps(model, [random_inputs((2,) + IMAGE_SHAPE), np.full(2, new_id, "int32")])

    assert not np.array_equal(to_numpy(layer.gamma)[new_id], new_row_before)


@pytest.mark.slow
def test_training_only_one_row_changes_that_row_and_nothing_else():
    model = styled_network()
    inputs = [random_inputs((4,) + IMAGE_SHAPE), np.array([0, 1, 2, 1], "int32")]
    train_a_few_steps(model, inputs)  # so that the moving statistics are not the defaults
    before = snapshot(model)
    cbn.train_only_conditions(model, rows=[1])

    train_a_few_steps(model, inputs)

    after = snapshot(model)
    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    table_paths = {
        variable.path
        for layer in cbn.conditional_layers(model)
        for variable in (layer.gamma, layer.beta)
    }
    assert changed == table_paths
    for path in table_paths:
        assert np.array_equal(before[path][[0, 2]], after[path][[0, 2]]), path
        assert not np.array_equal(before[path][1], after[path][1]), path


def test_training_only_conditions_leaves_only_conditional_parameters_trainable():
    model = styled_network(mlp_layer=True)

    cbn.train_only_conditions(model)

    expected = set()
    for layer in cbn.conditional_layers(model):
        expected |= {layer.gamma.path, layer.beta.path}
        for sublayer in layer.mlp_layers:
            expected |= {variable.path for variable in sublayer.trainable_variables}
    assert {variable.path for variable in model.trainable_variables} == expected
    assert any("mlp_gamma_beta" in path for path in expected)


@pytest.mark.slow
def test_training_only_conditions_freezes_all_moving_statistics():
    model = styled_network(mlp_layer=True)
    inputs = [
        random_inputs((4,) + IMAGE_SHAPE),
        np.array([0, 1, 2, 1], "int32"),
        np.random.default_rng(3).normal(size=(4, 2)).astype("float32"),
    ]
    cbn.train_only_conditions(model)
    before = snapshot(model)

    train_a_few_steps(model, inputs)

    after = snapshot(model)
    for variable in model.non_trainable_variables:
        assert np.array_equal(before[variable.path], after[variable.path]), variable.path
    for variable in model.trainable_variables:
        assert not np.array_equal(before[variable.path], after[variable.path]), variable.path


def test_growing_a_model_without_tables_is_an_error():
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no table-mode conditional"):
        cbn.append_conditions(model)
    with pytest.raises(ValueError, match="no conditional"):
        cbn.train_only_conditions(model)
