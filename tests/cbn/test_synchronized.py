"""`ConditionalBatchNormalization(synchronized=True)`: statistics of the global batch.

Under a `tf.distribute` strategy each replica sees part of the batch; synchronized,
the layer normalizes with the mean and variance of the whole batch, as
`keras.layers.BatchNormalization(synchronized=True)` does. TensorFlow fixes its
devices when it starts, so the two-replica comparison runs in a child process that
splits the CPU into two logical devices.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from cbn import ConditionalBatchNormalization

# Runs one training-mode call of Keras BN and of CBN (one condition, gamma 1, beta 0)
# on two replicas, each half of the batch shifted differently, and prints the largest
# differences from Keras BN: of the outputs, of the moving statistics, and of an
# unsynchronized CBN's outputs (which must differ).
TWO_REPLICAS = """
import json, keras, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cbn import ConditionalBatchNormalization
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
batch = rng.normal(size=(4, 5, 5, 3)).astype("float32")
batch[2:] = batch[2:] * 3.0 + 2.0
with strategy.scope():
    layers = {"keras": keras.layers.BatchNormalization(synchronized=True, momentum=0.5),
              "cbn": ConditionalBatchNormalization(1, synchronized=True, momentum=0.5),
              "cbn_local": ConditionalBatchNormalization(1, momentum=0.5)}
    for layer in layers.values():
        layer.build(batch.shape) if layer is layers["keras"] else layer.build(batch.shape, (4,))
halves = strategy.experimental_distribute_values_from_function(
    lambda context: batch[2 * context.replica_id_in_sync_group:][:2])
def replica(images):
    ids = tf.zeros((2,), tf.int32)
    return {name: (layer(images, training=True) if name == "keras"
                   else layer(images, ids, training=True)) for name, layer in layers.items()}
outputs = tf.function(lambda: strategy.run(replica, args=(halves,)))()
outputs = {name: strategy.gather(value, axis=0).numpy() for name, value in outputs.items()}
def moving(layer):
    return np.concatenate([keras.ops.convert_to_numpy(layer.moving_mean),
                           keras.ops.convert_to_numpy(layer.moving_variance)])
print(json.dumps({
    "outputs": float(np.abs(outputs["cbn"] - outputs["keras"]).max()),
    "moving": float(np.abs(moving(layers["cbn"]) - moving(layers["keras"])).max()),
    "local_outputs": float(np.abs(outputs["cbn_local"] - outputs["keras"]).max()),
}))
"""


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_synchronized_statistics_match_keras_batch_norm_on_two_replicas():
    child = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert child.returncode == 0, child.stderr
    differences = json.loads(child.stdout.strip().splitlines()[-1])

    assert differences["outputs"] < 1e-5
    assert differences["moving"] < 1e-6
    # Each replica's own statistics normalize its shifted half differently.
    assert differences["local_outputs"] > 0.1


# One training-mode call of a synchronized CBN with a mask (huge values at the masked
# positions) on two replicas; prints the largest differences from numpy batch norm over the
# unmasked positions of the whole batch, of the outputs and of the moving statistics.
TWO_REPLICAS_MASKED = """
import json, keras, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cbn import ConditionalBatchNormalization
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
batch = rng.normal(size=(4, 6, 3)).astype("float32")
batch[2:] = batch[2:] * 3.0 + 2.0
mask = rng.uniform(size=(4, 6)) < 0.6
mask[:, 0] = True
batch[~mask] = 1e6
with strategy.scope():
    layer = ConditionalBatchNormalization(1, synchronized=True, momentum=0.0)
    layer.build(batch.shape, (4,))
def halves(values):
    return strategy.experimental_distribute_values_from_function(
        lambda context: values[2 * context.replica_id_in_sync_group:][:2])
def replica(tokens, kept):
    return layer(tokens, tf.zeros((2,), tf.int32), training=True, mask=kept)
outputs = tf.function(lambda: strategy.run(replica, args=(halves(batch), halves(mask))))()
outputs = strategy.gather(outputs, axis=0).numpy()
kept = batch.astype("float64")[mask]
mean, variance = kept.mean(0), kept.var(0)
expected = (batch - mean) / np.sqrt(variance + 1e-3)
moving = np.concatenate([keras.ops.convert_to_numpy(layer.moving_mean),
                         keras.ops.convert_to_numpy(layer.moving_variance)])
print(json.dumps({
    "outputs": float(np.abs(outputs - expected)[mask].max()),
    "moving": float(np.abs(moving - np.concatenate([mean, variance])).max()),
}))
"""


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_synchronized_masked_statistics_are_those_of_the_unmasked_positions_of_all_replicas():
    child = subprocess.run([sys.executable, "-c", TWO_REPLICAS_MASKED], capture_output=True,
                           text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                           timeout=300)
    assert child.returncode == 0, child.stderr
    differences = json.loads(child.stdout.strip().splitlines()[-1])

    assert differences["outputs"] < 1e-5
    assert differences["moving"] < 1e-5


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_synchronized_survives_config_and_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 3))
    ids = keras.Input((), dtype="int32")
    outputs = ConditionalBatchNormalization(2, synchronized=True)(inputs, ids)
    model = keras.Model([inputs, ids], outputs)
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")

    layer = loaded.layers[-1]
    assert layer.synchronized is True
    assert ConditionalBatchNormalization.from_config(layer.get_config()).synchronized is True
    batch = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded([batch, np.array([0, 1])])),
        keras.ops.convert_to_numpy(model([batch, np.array([0, 1])])))


def test_synchronized_needs_tensorflow_and_a_boolean():
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(ValueError, match="synchronized=True` needs the TensorFlow"):
            ConditionalBatchNormalization(2, synchronized=True)
    with pytest.raises(ValueError, match="synchronized"):
        ConditionalBatchNormalization(2, synchronized="yes")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_synchronized_statistics_of_a_large_mean_are_those_of_float64():
    # E[x^2] - E[x]^2 in float32 (Keras's synchronized moments) was off by 0.7 here.
    inputs = (1000.0 + np.random.default_rng(0).normal(size=(4, 8, 8, 3))).astype("float32")
    layer = ConditionalBatchNormalization(1, synchronized=True)
    outputs = keras.ops.convert_to_numpy(layer(inputs, np.zeros(4, "int32"), training=True))
    exact = inputs.astype("float64")
    deviation = exact - exact.mean((0, 1, 2))
    expected = deviation / np.sqrt(np.mean(deviation**2, (0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(outputs, expected, atol=1e-3)
