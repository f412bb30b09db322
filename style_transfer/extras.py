"""The optional parts of the package (`pip install 'cbn-style[EXTRA]'`) and a clear error without them.

    hub     tensorflow-hub: TF Hub style encoders, `--engine magenta-hub`, `HubModule`
    demo    matplotlib, scikit-image: `style-transfer demo` (bundled photos, figures)
    onnx    onnxruntime, tf2onnx: `--runtime onnxruntime`, `export --format onnx`
    litert  ai-edge-litert: `--runtime litert` (stylize's default when installed),
            `export --format tflite` (its check)
"""

import importlib

from style_transfer.errors import BadInput


def import_extra(module, extra, purpose):
    """Imports `module`, which the extra `extra` installs.

    Args:
        module: The module's name ("tensorflow_hub", "matplotlib.pyplot").
        extra: The extra that installs it ("hub").
        purpose: What needs it, the start of the error message ("TF Hub models").

    Raises:
        BadInput: the module is not installed: "PURPOSE need(s) the EXTRA extra:
            pip install 'cbn-style[EXTRA]'".
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or module.split(".")[0] != error.name.split(".")[0]:
            raise  # The module is there but lacks one of its own dependencies: a bug to see.
        raise BadInput(f"{purpose} need the {extra} extra, which is not installed: "
                       f"pip install 'cbn-style[{extra}]'.") from None
