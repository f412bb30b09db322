"""Helpers shared by the `cbn` tests: inputs, tables and gradients on every backend."""

import functools

import numpy as np
import keras

from cbn import (
    ConditionalBatchNormalization,
    ConditionalGroupNormalization,
    ConditionalInstanceNormalization,
    ConditionalLayerNormalization,
    ConditionalRMSNormalization,
)

# Every layer of the family, for tests that apply to all; group norm with two groups
# (inputs with 4 channels: two channels per group), RMS norm with a beta like the others
# (tests/cbn/test_rms_normalization.py covers it without).
LAYER_CLASSES = [
    ConditionalBatchNormalization,
    ConditionalInstanceNormalization,
    functools.partial(ConditionalGroupNormalization, groups=2),
    ConditionalLayerNormalization,
    functools.partial(ConditionalRMSNormalization, center=True),
]
LAYER_IDS = ["batch", "instance", "group", "layer", "rms"]


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def random_inputs(shape, seed=0, scale=1.0, offset=0.0):
    """float32 inputs with a non-zero mean and non-unit spread per channel."""
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.normal(size=shape)).astype("float32")


def randomize_table(layer, seed=1):
    """Non-trivial gamma/beta rows, so that conditions give different outputs."""
    rng = np.random.default_rng(seed)
    layer.gamma.assign(rng.uniform(0.5, 2.0, size=layer.gamma.shape).astype("float32"))
    if layer.beta is not None:  # RMS normalization without centering has none
        layer.beta.assign(rng.normal(size=layer.beta.shape).astype("float32"))


def gradients(layer, loss_of_outputs, *call_args, **call_kwargs):
    """Gradients of `loss_of_outputs(layer(*call_args))` w.r.t. the layer's trainable
    variables, as a dict `variable.path -> numpy array` (`None` where no gradient flows).
    """
    variables = layer.trainable_variables
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_of_outputs(layer(*call_args, **call_kwargs))
        grads = tape.gradient(loss, [variable.value for variable in variables])
    elif backend == "jax":
        import jax

        non_trainable = [variable.value for variable in layer.non_trainable_variables]

        def loss_of_values(trainable):
            outputs, _ = layer.stateless_call(
                trainable, non_trainable, *call_args, **call_kwargs
            )
            return loss_of_outputs(outputs)

        grads = jax.grad(loss_of_values)([variable.value for variable in variables])
    else:
        import torch

        loss = loss_of_outputs(layer(*call_args, **call_kwargs))
        grads = torch.autograd.grad(
            loss, [variable.value for variable in variables], allow_unused=True
        )
    return {
        variable.path: None if grad is None else to_numpy(grad)
        for variable, grad in zip(variables, grads)
    }
