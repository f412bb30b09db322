"""The layer benchmark's floors (`bench_layers.py --floors`) compute what Keras's layers do:
the same gradients with respect to the input and the weights, on the test's backend."""

import keras
import numpy as np
import pytest

from benchmarks import bench_layers


@pytest.mark.parametrize("floor, layer", [("layer norm alone", keras.layers.LayerNormalization),
                                          ("RMS norm alone", keras.layers.RMSNormalization)])
def test_a_floor_step_gives_keras_layers_gradients(floor, layer):
    assert bench_layers.FLOOR_OF[floor] == layer.__name__
    rng = np.random.default_rng(0)
    inputs = rng.normal(2.0, 3.0, size=(2, 5, 16)).astype("float32")
    upstream = rng.normal(size=inputs.shape).astype("float32")
    backend = keras.backend.backend()
    floor_gradients = [np.asarray(g) for g in
                       bench_layers.floor_step(backend, floor, inputs, upstream)()]
    step = {"tensorflow": bench_layers.tensorflow_grad_step, "jax": bench_layers.jax_grad_step,
            "torch": bench_layers.torch_grad_step}[backend]
    gradients = step(layer(), inputs, None, upstream, {})()
    if backend == "jax":  # ((weights, input), moving statistics) there
        (weights, input_gradient), _ = gradients
        gradients = [input_gradient, *weights]
    keras_gradients = [keras.ops.convert_to_numpy(g) for g in gradients]
    assert len(floor_gradients) == len(keras_gradients)
    for ours, theirs in zip(floor_gradients, keras_gradients):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
