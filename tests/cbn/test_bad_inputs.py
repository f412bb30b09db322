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


EAGER_MISTAKES = {
    "batch-size mismatch": (np.zeros(3, "int32"), "batch size 3 but the input has 2"),
    "wrong number of weights": (np.full((2, 5), 0.2, "float32"), "must have length 3"),
    "NaN weights": (np.array([[np.nan, 0.5, 0.5], [1, 0, 0]], "float32"), "NaN or infinite"),
    "weights not summing to 1": (np.array([[0.5, 0.2, 0], [1, 0, 0]], "float32"), "sum to 1"),
    "float ids": (np.zeros(2, "float32"), "float weights must have shape"),
    "bool ids": (np.array([True, False]), "received dtype bool"),
    "id out of range": (np.array([0, 3], "int32"), "ids must be in"),
}


@pytest.mark.parametrize("name", EAGER_MISTAKES)
@pytest.mark.parametrize("built", [True, False], ids=["built", "first-call"])
def test_an_eager_mistake_is_one_line_from_the_layer_not_kerass_call_report(name, built):
    # With Keras's traceback filtering on (the default), an error raised inside `call`
    # reaches the user wrapped in an 8-line report of the call's arguments.
    condition, message = EAGER_MISTAKES[name]
    layer = (built_table_layer(ConditionalBatchNormalization) if built
             else ConditionalBatchNormalization(num_conditions=NUM_CONDITIONS, name="norm"))
    assert keras.config.is_traceback_filtering_enabled()
    with pytest.raises(ValueError) as error:
        layer(random_inputs(SHAPE), condition)
    assert str(error.value).startswith("ConditionalBatchNormalization 'norm': ")
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize("condition", [np.zeros(0, "int32"), np.zeros((0, 3), "float32")],
                         ids=["ids", "weights"])
def test_batch_statistics_of_an_empty_batch_are_refused_and_leave_the_averages(condition):
    layer = built_table_layer(ConditionalBatchNormalization)
    before = to_numpy(layer.moving_mean)
    with pytest.raises(ValueError, match="'norm': batch statistics need at least one sample; "
                                         "received a batch of 0"):
        layer(np.zeros((0,) + SHAPE[1:], "float32"), condition, training=True)
    np.testing.assert_array_equal(to_numpy(layer.moving_mean), before)
    # At inference an empty batch is an empty result, as in Keras's BatchNormalization.
    assert to_numpy(layer(np.zeros((0,) + SHAPE[1:], "float32"), condition)).shape[0] == 0


def test_batch_statistics_without_positions_are_refused_and_leave_the_averages():
    layer = built_table_layer(ConditionalBatchNormalization)
    before = to_numpy(layer.moving_mean)
    with pytest.raises(ValueError, match="'norm': batch statistics need at least one position; "
                                         "received an input without positions \(input shape "
                                         "\(2, 0, 4, 3\)\)\.$"):
        layer(np.zeros((2, 0, 4, 3), "float32"), np.array([0, 1]), training=True)
    np.testing.assert_array_equal(to_numpy(layer.moving_mean), before)


@pytest.mark.parametrize(
    "condition, message",
    [
        (np.zeros((2, 2), "int32"), "float vector of shape \\(batch, 2\\); received dtype int32"),
        (np.zeros(2, "float32"), "float vector of shape \\(batch, 2\\);.* shape \\(2,\\)"),
        (np.zeros((2, 5), "float32"), "has length 5, but the layer was built for length 2"),
        (np.zeros((3, 2), "float32"), "the condition has batch size 3 but the input has 2\\.$"),
    ],
    ids=["integer", "rank-1", "wrong-length", "wrong-batch"],
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


# `model.predict` traces the model on TensorFlow and JAX, where values cannot be checked;
# PyTorch runs it eagerly, where they are.
PREDICT_IS_TRACED = keras.backend.backend() != "torch"


def predict_or_error(condition, bad_condition_input):
    """`model.predict` of a Functional CIN model: (the outputs, None), or (None, the
    ValueError's message)."""
    images = keras.Input(SHAPE[1:])
    layer = ConditionalInstanceNormalization(num_conditions=NUM_CONDITIONS)
    model = keras.Model(
        [images, bad_condition_input], layer(images, bad_condition_input)
    )
    try:
        return to_numpy(model.predict([random_inputs(SHAPE), condition], verbose=0)), None
    except ValueError as error:
        return None, str(error)


def assert_nan_when_traced_else_the_error(result, message):
    """Traced: the second sample NaN, the first finite. Eager: the layer's error naming
    the problem (`message`), never another ValueError."""
    outputs, error = result
    if PREDICT_IS_TRACED:
        assert error is None, error
        assert np.all(np.isfinite(outputs[0]))
        assert np.all(np.isnan(outputs[1]))
    else:
        assert outputs is None
        assert "ConditionalInstanceNormalization" in error and message in error, error


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
    result = predict_or_error(np.array([1, 2**32 + 1], "int64"), keras.Input((), dtype="int64"))
    assert_nan_when_traced_else_the_error(result, "ids must be in [0, 3)")


@pytest.mark.parametrize("bad_id", [NUM_CONDITIONS, -1])
def test_traced_out_of_range_id_gives_error_or_nan(bad_id):
    result = predict_or_error(np.array([1, bad_id], "int32"), keras.Input((), dtype="int32"))
    assert_nan_when_traced_else_the_error(result, "ids must be in [0, 3)")


@pytest.mark.parametrize(
    "bad_weights, message",
    [([0.9, 0.9, 0.0], "must sum to 1"), ([1.5, -0.5, 0.0], "must be non-negative"),
     ([np.nan, 0.5, 0.5], "NaN or infinite")],
    ids=["sum", "negative", "nan"],
)
def test_traced_non_convex_weights_give_error_or_nan(bad_weights, message):
    weights = np.array([[0.2, 0.3, 0.5], bad_weights], "float32")
    result = predict_or_error(weights, keras.Input((NUM_CONDITIONS,)))
    assert_nan_when_traced_else_the_error(result, message)


# --------------------------------------------------- configs read from files


def _serialized(layer, inputs, condition):
    layer(inputs, condition)
    return keras.saving.serialize_keras_object(layer)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda config: config["config"].update(num_conditions=10**9),
         "may ask for 1 to 1048576 conditions"),
        (lambda config: config["build_config"]["shapes_dict"].update(
            inputs_shape=[2, 4, 4, 10**6]), "at most 65536 channels"),
        (lambda config: config["config"].update(num_conditions=10**5) or config[
            "build_config"]["shapes_dict"].update(inputs_shape=[2, 4, 4, 60_000]),
         "at most 268,435,456 weights"),
    ],
    ids=["conditions", "channels", "weights"],
)
def test_a_table_layer_config_beyond_the_file_bounds_is_refused_before_allocating(
        change, message):
    config = _serialized(ConditionalBatchNormalization(num_conditions=3, name="norm"),
                         random_inputs(SHAPE), np.array([0, 1], "int32"))
    change(config)
    with pytest.raises(ValueError, match=message):
        keras.saving.deserialize_keras_object(config, safe_mode=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda config: config["config"].update(mlp_units=[10**6]), "`mlp_units`"),
        (lambda config: config["config"].update(mlp_units=[4] * 17), "`mlp_units`"),
        (lambda config: config["build_config"]["shapes_dict"].update(
            condition_shape=[2, 10**5]), "entries of the conditioning vector"),
    ],
    ids=["units", "layers", "vector"],
)
def test_an_mlp_layer_config_beyond_the_file_bounds_is_refused_before_allocating(
        change, message):
    config = _serialized(ConditionalBatchNormalization(mlp_units=(4,), name="norm"),
                         random_inputs(SHAPE), np.zeros((2, 2), "float32"))
    change(config)
    with pytest.raises(ValueError, match=message):
        keras.saving.deserialize_keras_object(config, safe_mode=True)


def test_a_layer_config_within_the_bounds_loads_as_it_was_saved():
    layer = ConditionalBatchNormalization(num_conditions=3, name="norm")
    config = _serialized(layer, random_inputs(SHAPE), np.array([0, 1], "int32"))
    loaded = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert loaded.num_conditions == 3 and tuple(loaded.gamma.shape) == (3, SHAPE[-1])


def test_a_layer_made_in_code_is_not_bounded():
    # A user may build what they like; only a file is bounded.
    layer = ConditionalBatchNormalization(num_conditions=2**21, name="norm")
    assert layer.num_conditions == 2**21


@pytest.mark.parametrize("layer_class", [
    ConditionalInstanceNormalization,
    lambda **kwargs: ConditionalGroupNormalization(groups=3, **kwargs),
], ids=["instance", "group"])
@pytest.mark.parametrize("size", [2, 8], ids=["small map", "large map"])
def test_per_sample_statistics_of_an_empty_batch_are_an_empty_result(layer_class, size):
    layer = layer_class(num_conditions=NUM_CONDITIONS)
    inputs = np.zeros((0, size, size, 3), "float32")
    for condition in (np.zeros(0, "int32"), np.zeros((0, size, size, NUM_CONDITIONS), "float32")):
        assert to_numpy(layer(inputs, condition, training=True)).shape == inputs.shape
    if keras.backend.backend() == "torch":  # the closed-form backward (`_torch_group_norm.py`)
        import torch

        x = torch.zeros(inputs.shape, requires_grad=True)
        layer(x, np.zeros(0, "int32")).sum().backward()
        assert x.grad.shape == inputs.shape


@pytest.mark.parametrize("condition", [None, np.array(["a", "b"])], ids=["None", "strings"])
@pytest.mark.parametrize("layer", [built_table_layer, built_mlp_layer], ids=["table", "mlp"])
def test_a_condition_that_is_not_numbers_is_refused_by_the_layer(layer, condition):
    with pytest.raises(ValueError) as error:
        layer()(random_inputs(SHAPE), condition)
    assert str(error.value).startswith(("ConditionalInstanceNormalization 'norm': ",
                                        "ConditionalBatchNormalization 'norm': "))
    assert "received dtype" in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_python_list_condition_reads_as_its_numpy_array():
    layer = built_table_layer()
    inputs = random_inputs(SHAPE)
    weights = [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    np.testing.assert_array_equal(to_numpy(layer(inputs, [0, 2])),
                                  to_numpy(layer(inputs, np.array([0, 2]))))
    np.testing.assert_array_equal(to_numpy(layer(inputs, weights)),
                                  to_numpy(layer(inputs, np.array(weights, "float32"))))
    with pytest.raises(ValueError, match="'norm': condition ids must be in \\[0, 3\\)"):
        layer(inputs, [0, 3])


@pytest.mark.slow  # a compiled predict: 0.6 s on JAX
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_traced_narrow_ids_of_a_table_larger_than_their_dtype_are_in_range(dtype):
    """300 conditions and int8 ids: 300 must not wrap to int8 (44) in the range check."""
    tokens = keras.Input((4, 3))
    ids = keras.Input((), dtype=dtype)
    layer = ConditionalInstanceNormalization(num_conditions=300)
    model = keras.Model([tokens, ids], layer(tokens, ids))
    condition = np.array([1, 100], dtype)
    outputs = model.predict([random_inputs((2, 4, 3)), condition], verbose=0)
    np.testing.assert_allclose(outputs, to_numpy(layer(random_inputs((2, 4, 3)), condition)),
                               atol=1e-6)


@pytest.mark.slow  # traces two TensorFlow functions: 1-3 s
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="sizes unknown until run time: a TensorFlow graph traced for any size")
def test_a_condition_of_another_size_than_an_input_of_unknown_size_does_not_broadcast():
    import tensorflow as tf

    layer = built_table_layer()
    inputs = random_inputs(SHAPE)
    traced = {dtype: tf.function(layer, input_signature=[
        tf.TensorSpec([None, None, None, SHAPE[-1]]), tf.TensorSpec(shape, dtype)])
        for dtype, shape in [("float32", [None, None, None, NUM_CONDITIONS]), ("int32", [None])]}
    blend = np.full(SHAPE[:-1] + (NUM_CONDITIONS,), 1 / NUM_CONDITIONS, "float32")
    assert np.all(np.isfinite(to_numpy(traced["float32"](inputs, blend))))
    # A 1 x 1 map, or one of batch 1, would blend every position or sample alike: NaN.
    for weights in (blend[:, :1, :1], blend[:1]):
        assert np.all(np.isnan(to_numpy(traced["float32"](inputs, weights))))
    # One id for a batch of two would pick every sample's row.
    np.testing.assert_array_equal(to_numpy(traced["int32"](inputs, np.array([0, 2], "int32"))),
                                  to_numpy(layer(inputs, np.array([0, 2]))))
    with pytest.raises(tf.errors.InvalidArgumentError):
        traced["int32"](inputs, np.array([2], "int32"))
