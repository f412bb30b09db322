"""Property-based checks: any shape, constant inputs and large magnitudes give finite outputs."""

import functools

import numpy as np
import pytest
from cbn_testing import to_numpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
    ConditionalLayerNormalization,
)

NUM_CONDITIONS = 3
LAYER_CLASSES = {
    "batch": ConditionalBatchNormalization,
    "instance": ConditionalInstanceNormalization,
    # One group divides any number of channels.
    "group": functools.partial(ConditionalGroupNormalization, groups=1),
    "layer": ConditionalLayerNormalization,
}


@st.composite
def normalization_cases(draw):
    """(layer class name, inputs, condition, training) over ranks 3-5 and batch size 1+."""
    rank = draw(st.integers(3, 5))
    batch_size = draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 4), min_size=rank - 2, max_size=rank - 2))
    channels = draw(st.integers(1, 3))
    shape = (batch_size, *spatial, channels)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    magnitude = draw(st.sampled_from([1e-3, 1.0, 1e4, 1e8]))
    if draw(st.booleans()):
        inputs = np.full(shape, draw(st.sampled_from([0.0, -3.0, 7e5])), "float32")
    else:
        inputs = (magnitude * rng.normal(size=shape)).astype("float32")
    kind = draw(st.sampled_from(["ids", "weights", "weight_map"]))
    if kind == "ids":
        condition = rng.integers(0, NUM_CONDITIONS, size=batch_size).astype("int32")
    else:
        condition_shape = (batch_size, NUM_CONDITIONS) if kind == "weights" else (
            shape[:-1] + (NUM_CONDITIONS,)
        )
        condition = rng.dirichlet(np.ones(NUM_CONDITIONS), size=condition_shape[:-1])
        condition = condition.astype("float32")
    return draw(st.sampled_from(sorted(LAYER_CLASSES))), inputs, condition, draw(st.booleans())


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(normalization_cases())
def test_outputs_are_finite_and_keep_the_input_shape(case):
    layer_name, inputs, condition, training = case
    layer = LAYER_CLASSES[layer_name](num_conditions=NUM_CONDITIONS)

    outputs = to_numpy(layer(inputs, condition, training=training))

    assert outputs.shape == inputs.shape
    assert np.all(np.isfinite(outputs))


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(
    layer_name=st.sampled_from(sorted(LAYER_CLASSES)),
    batch_size=st.integers(1, 3),
    value=st.floats(-1e3, 1e3, allow_nan=False, width=32),
)
def test_constant_input_normalizes_to_beta(layer_name, batch_size, value):
    """Zero variance: (x - mean) is 0, so every position gets its condition's beta, up to
    the float32 rounding of the mean (a few units in the last place of `value`) divided
    by sqrt(epsilon): 0.16 at most here, less than half the gap between any two betas."""
    layer = LAYER_CLASSES[layer_name](num_conditions=NUM_CONDITIONS)
    inputs = np.full((batch_size, 3, 2, 2), value, "float32")
    ids = np.arange(batch_size, dtype="int32") % NUM_CONDITIONS
    layer.build(inputs.shape, ids.shape)
    beta = np.random.default_rng(0).normal(0, 10, size=(NUM_CONDITIONS, 2)).astype("float32")
    layer.beta.assign(beta)

    outputs = to_numpy(layer(inputs, ids, training=True))

    expected = np.broadcast_to(beta[ids][:, None, None, :], inputs.shape)
    rounding = 8 * np.spacing(np.float32(abs(value))) / np.sqrt(layer.epsilon)
    tolerance = 1e-5 + rounding
    # Zeros, or another condition's beta, would be outside the tolerance.
    gaps = np.abs(np.concatenate([beta.ravel(), (beta[:, None] - beta[None]).ravel()]))
    assert tolerance < 0.5 * gaps[gaps > 0].min()
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=tolerance)


@settings(max_examples=4, deadline=None)
@given(layer_name=st.sampled_from(sorted(LAYER_CLASSES)), batch_size=st.integers(1, 3))
# E[x^2] - E[x]^2 (the torch backend's moments) is negative here: NaN before clamping.
@example(layer_name="batch", batch_size=1)
def test_a_large_constant_input_normalizes_to_finite_values(layer_name, batch_size):
    layer = LAYER_CLASSES[layer_name](num_conditions=NUM_CONDITIONS)
    inputs = np.full((batch_size, 3, 2, 2), 355469.0, "float32")
    ids = np.arange(batch_size, dtype="int32") % NUM_CONDITIONS
    assert np.all(np.isfinite(to_numpy(layer(inputs, ids, training=True))))


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(
    layer_name=st.sampled_from(sorted(LAYER_CLASSES)),
    batch_size=st.integers(1, 3),
    condition_dim=st.integers(1, 3),
    magnitude=st.sampled_from([1.0, 1e4]),
)
def test_mlp_mode_outputs_are_finite_and_keep_the_input_shape(
    layer_name, batch_size, condition_dim, magnitude
):
    rng = np.random.default_rng(batch_size)
    inputs = (magnitude * rng.normal(size=(batch_size, 3, 2))).astype("float32")
    vectors = (magnitude * rng.normal(size=(batch_size, condition_dim))).astype("float32")
    layer = LAYER_CLASSES[layer_name](mlp_units=(4,))

    outputs = to_numpy(layer(inputs, vectors, training=True))

    assert outputs.shape == inputs.shape
    assert np.all(np.isfinite(outputs))


@pytest.mark.parametrize("size", [16, 2], ids=["map", "small map"])
@pytest.mark.parametrize("layer_name, axes", [
    ("instance", (1, 2)), ("group", (1, 2, 3)), ("layer", (3,)), ("batch", (0, 1, 2)),
])
def test_a_large_mean_with_unit_spread_normalizes_as_in_float64(layer_name, axes, size):
    # 1000 +- 1: a one-pass variance in float32 (PyTorch's channels-last group-norm kernel)
    # cancels to noise here; instance norm came out wrong by 900. A small map (no more
    # positions than channels) takes other reductions on PyTorch and JAX.
    layer = LAYER_CLASSES[layer_name](num_conditions=NUM_CONDITIONS, epsilon=1e-5)
    inputs = (1000.0 + np.random.default_rng(0).normal(size=(2, size, size, 16))).astype(
        "float32")
    outputs = to_numpy(layer(inputs, np.array([0, 1], "int32"), training=True))
    exact = inputs.astype("float64")
    deviation = exact - exact.mean(axes, keepdims=True)
    expected = deviation / np.sqrt(np.mean(deviation**2, axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(outputs, expected, atol=2e-3)


def _layer_norm_in_float64(inputs, epsilon):
    exact = inputs.astype("float64")
    deviation = exact - exact.mean(-1, keepdims=True)
    return deviation / np.sqrt(np.mean(deviation**2, -1, keepdims=True) + epsilon)


def test_tokens_with_means_within_two_deviations_normalize_as_in_float64():
    # Layer norm's forward statistics take one pass over such tokens on TensorFlow and JAX
    # (`cbn/_fused.py`, `_guarded_token_moments`): mean(x^2) - mean(x)^2 must stay exact here.
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.5, 3.0, size=(4, 32, 1))
    means = spread * rng.uniform(-1.6, 1.6, size=(4, 32, 1))
    inputs = (means + spread * rng.normal(size=(4, 32, 384))).astype("float32")
    # Every token within two deviations, or the batch takes two passes.
    exact = inputs.astype("float64")
    assert np.all(exact.mean(-1) ** 2 < 4 * exact.var(-1) * 0.9)
    layer = ConditionalLayerNormalization(num_conditions=NUM_CONDITIONS, epsilon=1e-5)
    outputs = to_numpy(layer(inputs, np.array([0, 1, 2, 0], "int32"), training=True))
    np.testing.assert_allclose(outputs, _layer_norm_in_float64(inputs, 1e-5),
                               rtol=1e-5, atol=1e-5)


def test_one_token_with_a_large_mean_keeps_every_token_exact():
    # One token of 1000 +- 1 among unit-spread ones: its one-pass variance would cancel to
    # noise, so the whole batch takes the two-pass statistics.
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(2, 8, 64)).astype("float32")
    inputs[1, 5] += 1000.0
    layer = ConditionalLayerNormalization(num_conditions=NUM_CONDITIONS, epsilon=1e-5)
    outputs = to_numpy(layer(inputs, np.array([0, 1], "int32"), training=True))
    expected = _layer_norm_in_float64(inputs, 1e-5)
    np.testing.assert_allclose(outputs[1, 5], expected[1, 5], atol=2e-3)
    np.testing.assert_allclose(outputs[0], expected[0], rtol=1e-5, atol=1e-5)
