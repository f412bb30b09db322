"""Saving and loading style models: one `.keras` file, written atomically, checked on load."""

import zipfile
from pathlib import Path

import keras

from style_transfer.errors import BadInput
from style_transfer.files import atomic_path
from style_transfer.network import StyleTransferNetwork


def save_model(model, path, overwrite=True):
    """Saves `model` to `path` (.keras) atomically: a crash leaves the old file or none.

    Args:
        model: The model to save.
        path: Destination ending in `.keras`.
        overwrite: If `False`, an existing file is an error.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise BadInput(f"model files end in .keras; received {str(path)!r}.")
    with atomic_path(path, overwrite=overwrite) as temporary:
        model.save(temporary)


def load_style_model(path):
    """Loads a `StyleTransferNetwork` saved by this package.

    Raises:
        BadInput: the file is missing, is not a `.keras` archive, or holds
            some other kind of model.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"model file {str(path)!r} does not exist.")
    if not zipfile.is_zipfile(path):
        raise BadInput(f"{path} is not a .keras model file (not a zip archive).")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for damaged archives.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BadInput(
            f"{path} could not be loaded as a Keras model ({type(error).__name__}: "
            f"{first_line[:200]})."
        ) from None
    if not isinstance(model, StyleTransferNetwork):
        raise BadInput(
            f"{path} holds a {type(model).__name__}, not a style model made by "
            f"`style-transfer train`."
        )
    return model
