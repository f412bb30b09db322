"""The Keras backend a command runs on, checked before Keras is imported.

`import style_transfer` selects TensorFlow unless `KERAS_BACKEND` already names a
backend. Painting runs on any backend Keras has, but training (its input pipeline is
`tf.data`, its steps TensorFlow functions), `add-style`, `stylize-dataset`, a SavedModel
export and the training demo run on TensorFlow only (ONNX and TFLite exports on TensorFlow,
JAX or PyTorch, an arbitrary-style model's encoder on TensorFlow or PyTorch:
`commands.export` checks them): with `KERAS_BACKEND=jax` or `torch` in the environment they
would stop deep in their work with a traceback. Keras itself answers a misspelt or missing
backend with a traceback on import. A command therefore checks the variable first and
refuses in one line (exit 2), naming what to set.

`skip_optional_integrations` keeps TensorFlow's and Keras's imports from importing
libraries no command uses: both import, when installed, scikit-learn (Keras's
scikit-learn wrappers), pandas (DataFrames as `fit` input), matplotlib (Keras's image
gallery) and JAX (TensorFlow Lite's JAX converter). In an environment that has them (our
own extras install JAX), those imports took 2.5 of the 6.5 s that `import tensorflow,
keras` took (BENCHMARKS.md, "Command-line start-up").
"""

import contextlib
import importlib.util
import os
import sys

from style_transfer.base.errors import BadInput

TENSORFLOW = "tensorflow"
# Keras's backends and the package each one imports.
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch",
                    "numpy": "numpy", "openvino": "openvino"}


def selected_backend():
    """The backend Keras will load: `KERAS_BACKEND`, TensorFlow if unset or empty."""
    return os.environ.get("KERAS_BACKEND") or TENSORFLOW


def check_keras_backend(command, needs_tensorflow=False, runs_on=None):
    """Refuses a `KERAS_BACKEND` the command cannot run on.

    Args:
        command: The command's name, for the message ("train").
        needs_tensorflow: Whether the command runs on TensorFlow only.
        runs_on: The backends the command runs on, if not all of them (`needs_tensorflow`
            is `runs_on=("tensorflow",)`).

    Raises:
        BadInput: the variable names no Keras backend, one that is not installed,
            or one that the command does not run on.
    """
    if needs_tensorflow:
        runs_on = (TENSORFLOW,)
    backend = selected_backend()
    fix = "unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow"
    if backend not in BACKEND_PACKAGES:
        raise BadInput(f"KERAS_BACKEND={backend!r} is not a Keras backend (expected one of "
                       f"{', '.join(BACKEND_PACKAGES)}); {fix}.")
    if runs_on is not None and backend not in runs_on:
        names = [_NAMES[each] for each in runs_on]
        names = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)
        raise BadInput(f"{command} runs on {names} only, and KERAS_BACKEND is {backend!r}; "
                       f"{fix}.")
    if importlib.util.find_spec(BACKEND_PACKAGES[backend]) is None:
        raise BadInput(f"KERAS_BACKEND is {backend!r}, but {BACKEND_PACKAGES[backend]} is not "
                       f"installed; {fix}.")


_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch", "numpy": "NumPy",
          "openvino": "OpenVINO"}


# Imported by TensorFlow or Keras when installed, used by no command (see the module docstring).
OPTIONAL_INTEGRATIONS = ("sklearn", "pandas", "matplotlib")


def skip_optional_integrations():
    """From now on in this process, the first import of TensorFlow or Keras (whichever
    comes first; the other is imported inside it) runs without `OPTIONAL_INTEGRATIONS`,
    and without JAX when it is not the backend: each counts as not installed while they
    import, and imports as usual afterwards. For the command line only: a library that
    did this would take those integrations away from its user's Keras."""
    from style_transfer.base.import_hooks import on_import

    for name in ("tensorflow", "keras"):
        if name not in sys.modules:
            on_import(name, _without_optional_integrations)


@contextlib.contextmanager
def _without_optional_integrations():
    names = OPTIONAL_INTEGRATIONS + (() if selected_backend() == "jax" else ("jax",))
    # `None` in `sys.modules` makes `import name` raise ImportError, which both libraries
    # take as "not installed". Names already imported (or already held off by the import
    # this one is nested in) are left as they are.
    held_off = [name for name in names if name not in sys.modules]
    for name in held_off:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in held_off:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
