"""Reading a tensor's values when they exist (eager execution), on every backend."""

import numpy as np
import keras


def to_numpy(tensor):
    """The tensor's values as a numpy array, or `None` while tracing or compiling.

    Lets a layer raise a clear error for bad condition values when it runs
    eagerly; a traced graph has no values to inspect yet.
    """
    if isinstance(tensor, np.ndarray):
        return tensor
    if isinstance(tensor, keras.KerasTensor):  # A Functional model's symbolic input.
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly() and hasattr(tensor, "numpy"):
            return tensor.numpy()
    elif backend == "jax":
        import jax

        if not isinstance(tensor, jax.core.Tracer):
            return np.asarray(tensor)
    elif backend == "torch":
        import torch

        if (
            isinstance(tensor, torch.Tensor)
            and tensor.device.type != "meta"
            and not torch.compiler.is_compiling()
        ):
            return tensor.detach().cpu().numpy()
    return None
