"""`import cbn` and the layers work on JAX and PyTorch without TensorFlow.

Each check runs in a fresh interpreter whose import system refuses TensorFlow:
a meta-path finder answers every `tensorflow` import with a module whose
loading raises ImportError, as if TensorFlow were not installed. (Merely
probing for it, as PyTorch's compiler does with `importlib.util.find_spec`,
still works.)
"""

import os
import subprocess
import sys

import keras
import pytest

SCRIPT = r"""
import importlib.abc, importlib.machinery, sys

class NotInstalled(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"TensorFlow is blocked in this test: import of {spec.name}")

    def exec_module(self, module):
        raise AssertionError("unreachable")

class RefuseTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, NotInstalled())
        return None

sys.meta_path.insert(0, RefuseTensorFlow())

import numpy as np
import keras
import cbn

x = np.random.default_rng(0).normal(size=(2, 4, 4, 4)).astype("float32")
layer = cbn.ConditionalGroupNormalization(groups=2, num_conditions=2)
outputs = keras.ops.convert_to_numpy(layer(x, np.array([0, 1], "int32")))
assert outputs.shape == x.shape and np.isfinite(outputs).all()
assert "tensorflow" not in sys.modules
print("ran without TensorFlow on", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checked under the JAX and PyTorch runs"
)
def test_layers_run_without_tensorflow_on_this_backend():
    backend = keras.backend.backend()
    env = dict(os.environ, KERAS_BACKEND=backend)
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"ran without TensorFlow on {backend}" in completed.stdout
