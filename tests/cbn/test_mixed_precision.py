"""Mixed precision: float32 variables and statistics, outputs in the compute dtype."""

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
from cbn_testing import random_inputs, to_numpy

POLICIES = ["mixed_float16", "mixed_bfloat16"]
SHAPE = (2, 4, 4, 3)


def layers_with_conditions():
    """One layer per layer class and condition source, with a matching condition."""
    ids = np.array([0, 1], "int32")
    weights = np.array([[0.25, 0.75], [1.0, 0.0]], "float32")
    vectors = np.array([[1.0, -1.0], [0.5, 2.0]], "float32")
    return [
        (ConditionalBatchNormalization(num_conditions=2), ids),
        (ConditionalBatchNormalization(num_conditions=2), weights),
        (ConditionalBatchNormalization(mlp_units=(4,)), vectors),
        (ConditionalInstanceNormalization(num_conditions=2), ids),
        (ConditionalInstanceNormalization(num_conditions=2), weights),
        (ConditionalInstanceNormalization(mlp_units=(4,)), vectors),
        (ConditionalGroupNormalization(groups=1, num_conditions=2), weights),
        (ConditionalGroupNormalization(groups=3, mlp_units=(4,)), vectors),
        (ConditionalLayerNormalization(num_conditions=2), ids),
        (ConditionalLayerNormalization(mlp_units=()), vectors),
        (ConditionalRMSNormalization(num_conditions=2), weights),
        (ConditionalRMSNormalization(mlp_units=(), center=True, condition_activation="silu"),
         vectors),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_variables_stay_float32_and_outputs_use_compute_dtype(policy):
    keras.mixed_precision.set_global_policy(policy)
    compute_dtype = keras.mixed_precision.global_policy().compute_dtype
    x = keras.ops.cast(random_inputs(SHAPE), compute_dtype)
    for layer, condition in layers_with_conditions():
        outputs = layer(x, condition, training=True)
        assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
        assert {variable.dtype for variable in layer.weights} == {"float32"}


@pytest.mark.parametrize("policy", POLICIES)
def test_large_inputs_give_finite_normalized_outputs(policy):
    """Values ~1e4 overflow float16 once squared: statistics must be computed in float32."""
    keras.mixed_precision.set_global_policy(policy)
    compute_dtype = keras.mixed_precision.global_policy().compute_dtype
    large = random_inputs(SHAPE, scale=1e4, offset=2e4)
    x = keras.ops.cast(large, compute_dtype)
    for layer, condition in layers_with_conditions():
        outputs = to_numpy(layer(x, condition, training=True)).astype("float32")
        assert np.all(np.isfinite(outputs)), layer.name
        # A fresh layer is the identity affine map: outputs are standardized.
        assert np.abs(outputs).max() < 10.0, layer.name


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_batch_norm_with_half_precision_variables_trains_and_infers(dtype):
    # A half-precision policy (not mixed) holds the moving statistics in that dtype too;
    # the statistics are float32, and TensorFlow does not promote one to the other.
    layer = ConditionalBatchNormalization(num_conditions=2, dtype=dtype, momentum=0.5)
    x = random_inputs(SHAPE, offset=3.0)
    ids = np.array([0, 1], "int32")

    training = to_numpy(layer(x, ids, training=True)).astype("float32")
    inference = to_numpy(layer(x, ids, training=False)).astype("float32")

    mean = x.mean(axis=(0, 1, 2))
    standardized = (x - mean) / np.sqrt(x.var(axis=(0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(training, standardized, atol=0.05)
    np.testing.assert_allclose(to_numpy(layer.moving_mean).astype("float32"), mean / 2,
                               rtol=0.02)
    assert np.all(np.isfinite(inference))


def test_blend_weights_rounded_to_bfloat16_are_still_convex():
    # Keras casts float call arguments to the compute dtype: under mixed_bfloat16 a blend
    # of three thirds arrives as 0.33398 each, summing to 1.002 (past the 1e-3 tolerance
    # of float32 weights): refused eagerly, NaN in a compiled `predict`.
    x = random_inputs(SHAPE)
    thirds = np.full((2, 3), 1 / 3, "float32")
    expected = to_numpy(ConditionalInstanceNormalization(num_conditions=3)(x, thirds))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    images = keras.Input(SHAPE[1:])
    weights = keras.Input((3,))
    model = keras.Model(
        [images, weights], ConditionalInstanceNormalization(num_conditions=3)(images, weights))

    for outputs in [model([x, thirds]), model.predict([x, thirds], verbose=0)]:
        np.testing.assert_allclose(to_numpy(outputs).astype("float32"), expected, atol=0.05)
