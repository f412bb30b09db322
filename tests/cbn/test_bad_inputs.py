"""Bad arguments and conditions raise a ValueError that names the layer and what was expected;
inside a traced function, where values cannot be checked, they give NaN, never a wrong value."""

import numpy as np
import keras
import pytest

from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
)
from cbn_testing import random_inputs, to_numpy

SHAPE = (2, 4, 4, 3)
NUM_CONDITIONS = 3


def built_table_layer(layer_class=ConditionalInstanceNormalization, **kwargs):
    layer = layer_class(num_conditions=NUM_CONDITIONS, name="norm", **kwargs)
    layer.build(SHAPE, (SHAPE[0],))
    return layer


def built_mlp_layer():
    layer = ConditionalBatchNormalization(mlp_units=(4,), name="norm")
    layer.build(SHAPE, (SHAPE[0], 2))
    return layer


@pytest.mark.parametrize("arguments", [{}, {"num_conditions": 2, "mlp_units": (4,)}])
def test_exactly_one_of_table_and_mlp_is_required(arguments):
    with pytest.raises(ValueError, match="ConditionalBatchNormalization.*exactly one of"):
        ConditionalBatchNormalization(**arguments)


@pytest.mark.parametrize("shape", [(2, 3), (2, 2, 2, 2, 2, 3)])
def test_input_of_wrong_rank_is_rejected(shape):
    layer = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS, name="norm")
    with pytest.raises(ValueError, match="ConditionalInstanceNormalization 'norm'.*rank 3 to 5"):
        layer(np.zeros(shape, "float32"), np.zeros(shape[0], "int32"))


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2, 2, 2, 3)])
def test_batch_norm_input_of_wrong_rank_is_rejected(shape):
    layer = ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS, name="norm")
    with pytest.raises(ValueError, match="ConditionalBatchNormalization 'norm'.*rank 2 to 5"):
        layer(np.zeros(shape, "float32"), np.zeros(shape[:1], "int32"))


def test_input_with_other_channels_than_built_is_rejected():
    layer = built_table_layer()
    with pytest.raises(ValueError, match="'norm'.*built for 3 channels.*received an input with 4"):
        layer(np.zeros(SHAPE[:-1] + (4,), "float32"), np.zeros(SHAPE[0], "int32"))


@pytest.mark.parametrize(
    "condition, message",
    [
        (np.zeros((2, NUM_CONDITIONS), "int32"), "integer conditions are ids of shape"),
        (np.zeros(2, "float32"), "float weights must have shape \\(batch, 3\\)"),
        (np.full((2, 5), 0.2, "float32"), "weight vector must have length 3"),
        (np.array([True, False]), "must be integer ids .* received dtype bool"),
        (np.zeros(3, "int32"), "condition has batch size 3 but the input has 2"),
        (np.full((2, 4, 2, 3), 1 / 3, "float32"), "weight map's spatial shape"),
    ],
    ids=["int-matrix", "float-ids", "wrong-length", "bool", "batch", "map-shape"],
)
def test_table_condition_of_wrong_shape_or_dtype_is_rejected(condition, message):
    layer = built_table_layer()
    with pytest.raises(ValueError, match=f"ConditionalInstanceNormalization 'norm'.*{message}"):
        layer(random_inputs(SHAPE), condition)


@pytest.mark.parametrize(
    "condition, message",
    [
        (np.zeros((2, 2), "int32"), "float vector of shape \\(batch, 2\\); received dtype int32"),
        (np.zeros(2, "float32"), "float vector of shape \\(batch, 2\\);.* shape \\(2,\\)"),
        (np.zeros((2, 5), "float32"), "has length 5, but the layer was built for length 2"),
    ],
    ids=["integer", "rank-1", "wrong-length"],
)
def test_mlp_condition_must_be_float_vector_of_built_length(condition, message):
    layer = built_mlp_layer()
    with pytest.raises(ValueError, match=f"ConditionalBatchNormalization 'norm'.*{message}"):
        layer(random_inputs(SHAPE), condition)


@pytest.mark.parametrize(
    "weights, message",
    [
        ([[1.2, -0.2, 0.0], [1.0, 0.0, 0.0]], "must be non-negative; received a weight of -0.2"),
        ([[0.5, 0.2, 0.0], [1.0, 0.0, 0.0]], "must sum to 1 .*received a sum of 0.7"),
        ([[np.nan, 0.5, 0.5], [1.0, 0.0, 0.0]], "NaN or infinite"),
        ([[np.inf, 0.0, 0.0], [1.0, 0.0, 0.0]], "NaN or infinite"),
    ],
    ids=["negative", "sum", "nan", "inf"],
)
def test_weights_that_are_not_convex_are_rejected(weights, message):
    layer = built_table_layer(ConditionalBatchNormalization)
    with pytest.raises(ValueError, match=f"ConditionalBatchNormalization 'norm'.*{message}"):
        layer(random_inputs(SHAPE), np.array(weights, "float32"))


def test_weight_map_that_is_not_convex_is_rejected():
    layer = built_table_layer()
    weight_map = np.full(SHAPE[:-1] + (NUM_CONDITIONS,), 1 / 3, "float32")
    weight_map[1, 2, 3] = [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match="'norm'.*must sum to 1"):
        layer(random_inputs(SHAPE), weight_map)


@pytest.mark.parametrize(
    "weights", [[[0.0, 0.0, 0.0]], [[1.0, -2.0, 0.5]]], ids=["zero", "negative"]
)
def test_normalize_weights_still_requires_non_negative_weights_with_positive_sum(weights):
    layer = built_table_layer(normalize_weights=True)
    with pytest.raises(ValueError, match="'norm'.*(positive sum|non-negative)"):
        layer(random_inputs((1,) + SHAPE[1:]), np.array(weights, "float32"))


@pytest.mark.parametrize("ids", [[0, 3], [-1, 0]], ids=["too-large", "negative"])
def test_out_of_range_ids_are_rejected(ids):
    layer = built_table_layer()
    with pytest.raises(ValueError, match="'norm'.*ids must be in \\[0, 3\\)"):
        layer(random_inputs(SHAPE), np.array(ids, "int32"))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_conditions": 0}, "`num_conditions` must be a positive integer"),
        ({"num_conditions": 2.5}, "`num_conditions` must be a positive integer"),
        ({"mlp_units": (4, 0)}, "`mlp_units` must be a tuple of positive layer sizes"),
        ({"num_conditions": 2, "epsilon": 0.0}, "`epsilon` must be a positive finite number"),
        ({"num_conditions": 2, "trainable_rows": [2]}, "`trainable_rows` must be in \\[0, 2\\)"),
        ({"mlp_units": (), "trainable_rows": [0]}, "`trainable_rows` applies to a gamma/beta"),
    ],
)
def test_bad_constructor_arguments_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        ConditionalInstanceNormalization(**arguments)


@pytest.mark.parametrize(
    "layer_class, arguments, message",
    [
        (ConditionalInstanceNormalization, {"num_conditions": True},
         "`num_conditions` must be a positive integer; received True"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "epsilon": float("nan")},
         "`epsilon` must be a positive finite number.*; received nan"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "epsilon": float("inf")},
         "`epsilon` must be a positive finite number.*; received inf"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "epsilon": "1e-5"},
         "`epsilon` must be a positive finite number.*; received '1e-5'"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "epsilon": True},
         "`epsilon` must be a positive finite number.*; received True"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "epsilon": 1e-50},
         "`epsilon` must be a positive finite number that float32 can hold.*; received 1e-50"),
        (ConditionalBatchNormalization, {"num_conditions": 2, "momentum": 5},
         "`momentum` must be a number in \\[0, 1\\].*received 5"),
        (ConditionalBatchNormalization, {"num_conditions": 2, "momentum": -0.1},
         "`momentum` must be a number in \\[0, 1\\].*received -0.1"),
        (ConditionalBatchNormalization, {"num_conditions": 2, "momentum": float("nan")},
         "`momentum` must be a number in \\[0, 1\\].*received nan"),
        (ConditionalBatchNormalization, {"num_conditions": 2, "momentum": "0.9"},
         "`momentum` must be a number in \\[0, 1\\].*received '0.9'"),
        (ConditionalInstanceNormalization, {"mlp_units": 16},
         "`mlp_units` must be a tuple of positive layer sizes.*received 16"),
        (ConditionalInstanceNormalization, {"mlp_units": "16"},
         "`mlp_units` must be a tuple of positive layer sizes.*received '16'"),
        (ConditionalInstanceNormalization, {"mlp_units": (2.5,)},
         "`mlp_units` must be a tuple of positive layer sizes.*received \\(2.5,\\)"),
        (ConditionalInstanceNormalization, {"mlp_units": (True,)},
         "`mlp_units` must be a tuple of positive layer sizes.*received \\(True,\\)"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "normalize_weights": "no"},
         "`normalize_weights` must be True or False; received 'no'"),
        (ConditionalBatchNormalization, {"num_conditions": 2, "freeze_statistics": "no"},
         "`freeze_statistics` must be True or False; received 'no'"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "trainable_rows": [True]},
         "`trainable_rows` must be integer row ids; received \\[True\\]"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "trainable_rows": [1.5]},
         "`trainable_rows` must be integer row ids; received \\[1.5\\]"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "trainable_rows": "0"},
         "`trainable_rows` must be integer row ids; received '0'"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "mlp_activation": "nope"},
         "`mlp_activation`: .*nope"),
        (ConditionalInstanceNormalization, {"num_conditions": 2, "gamma_initializer": "nope"},
         "`gamma_initializer`: .*nope"),
        (ConditionalBatchNormalization,
         {"num_conditions": 2, "moving_variance_initializer": "nope"},
         "`moving_variance_initializer`: .*nope"),
        (ConditionalGroupNormalization, {"groups": 0, "num_conditions": 2},
         "`groups` must be a positive integer \\(or -1 .*received 0"),
        (ConditionalGroupNormalization, {"groups": -2, "num_conditions": 2},
         "`groups` must be a positive integer \\(or -1 .*received -2"),
        (ConditionalGroupNormalization, {"groups": 2.0, "num_conditions": 2},
         "`groups` must be a positive integer \\(or -1 .*received 2.0"),
        (ConditionalGroupNormalization, {"groups": True, "num_conditions": 2},
         "`groups` must be a positive integer \\(or -1 .*received True"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_argument_of_wrong_type_or_range_is_rejected_by_name(layer_class, arguments, message):
    with pytest.raises(ValueError, match=f"{layer_class.__name__} 'norm': {message}"):
        layer_class(name="norm", **arguments)


@pytest.mark.parametrize("groups", [3, 8])
def test_groups_that_do_not_divide_the_channels_are_rejected_when_built(groups):
    layer = ConditionalGroupNormalization(groups=groups, num_conditions=2, name="norm")
    with pytest.raises(
        ValueError,
        match=f"'norm': `groups` must divide the number of channels; received groups={groups} "
              f"for an input with 4 channels",
    ):
        layer(np.zeros((2, 3, 4), "float32"), np.zeros(2, "int32"))


@pytest.mark.parametrize(
    "call",
    [
        lambda layer: layer.append_conditions(count=True),
        lambda layer: layer.append_conditions(count=0),
        lambda layer: layer.append_conditions(init="random"),
        lambda layer: layer.append_conditions(init=NUM_CONDITIONS),
    ],
    ids=["bool-count", "count", "init", "copy-row"],
)
def test_bad_append_arguments_are_rejected(call):
    with pytest.raises(ValueError, match="ConditionalInstanceNormalization 'norm'"):
        call(built_table_layer())


def test_mlp_layer_cannot_grow():
    with pytest.raises(ValueError, match="'norm'.*only a table-mode layer"):
        built_mlp_layer().append_conditions()


def predict_or_error(condition, bad_condition_input):
    """`model.predict` of a Functional CIN model (traced on TF and JAX, eager on torch):
    the outputs, or `None` if it raised a ValueError."""
    images = keras.Input(SHAPE[1:])
    layer = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS)
    model = keras.Model(
        [images, bad_condition_input], layer(images, bad_condition_input)
    )
    try:
        return to_numpy(model.predict([random_inputs(SHAPE), condition], verbose=0))
    except ValueError:
        return None


def assert_error_or_nan_for_second_sample(outputs):
    if outputs is not None:
        assert np.all(np.isfinite(outputs[0]))
        assert np.all(np.isnan(outputs[1]))


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
@pytest.mark.parametrize("use", ["call", "gamma_beta"])
def test_64_bit_ids_beyond_int32_are_rejected_not_wrapped(dtype, use):
    """2**32 + 1 in int32 is 1, a valid row: it must be refused, not wrapped."""
    layer = built_table_layer()
    ids = np.array([0, 2**32 + 1], dtype)
    with pytest.raises(ValueError, match="'norm'.*ids must be in \\[0, 3\\); received ids from "
                                         "0 to 4294967297"):
        if use == "call":
            layer(random_inputs(SHAPE), ids)
        else:
            layer.gamma_beta(ids)


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="JAX holds no 64-bit integers unless jax_enable_x64 is set: Keras's data "
           "adapter truncates int64 inputs to int32 before any layer sees them",
)
def test_traced_int64_id_beyond_int32_gives_error_or_nan():
    outputs = predict_or_error(
        np.array([1, 2**32 + 1], "int64"), keras.Input((), dtype="int64")
    )
    assert_error_or_nan_for_second_sample(outputs)


@pytest.mark.parametrize("bad_id", [NUM_CONDITIONS, -1])
def test_traced_out_of_range_id_gives_error_or_nan(bad_id):
    outputs = predict_or_error(
        np.array([1, bad_id], "int32"), keras.Input((), dtype="int32")
    )
    assert_error_or_nan_for_second_sample(outputs)


@pytest.mark.parametrize(
    "bad_weights", [[0.9, 0.9, 0.0], [1.5, -0.5, 0.0], [np.nan, 0.5, 0.5]],
    ids=["sum", "negative", "nan"],
)
def test_traced_non_convex_weights_give_error_or_nan(bad_weights):
    weights = np.array([[0.2, 0.3, 0.5], bad_weights], "float32")
    outputs = predict_or_error(weights, keras.Input((NUM_CONDITIONS,)))
    assert_error_or_nan_for_second_sample(outputs)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="torch's predict is eager")
def test_predict_is_traced_so_bad_ids_give_nan():
    """Guards the two tests above: on TF and JAX they must take the NaN branch."""
    outputs = predict_or_error(
        np.array([1, NUM_CONDITIONS], "int32"), keras.Input((), dtype="int32")
    )
    assert outputs is not None
    assert np.all(np.isnan(outputs[1]))
