"""Saving and loading style models: one `.keras` file, written atomically, checked on load;
`model_path` resolves what `--model` names (a file or a pretrained model)."""

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


def model_path(model):
    """The `.keras` file that `--model MODEL` names: a model file, or the name of a
    pretrained model (`style_transfer.pretrained`), converted and cached on first use.

    A path that exists, or that ends in `.keras`, is a file (an existing file wins
    over a pretrained model of the same name).

    Raises:
        BadInput: neither an existing file nor a pretrained model's name, or a
            pretrained model that cannot be had (see `pretrained.ensure_cached`).
    """
    from style_transfer import pretrained

    path = Path(model)
    if path.exists() or path.suffix == ".keras":
        return path
    if str(model) in pretrained.REGISTRY:
        return pretrained.ensure_cached(str(model))
    raise BadInput(
        f"--model {str(model)!r} is neither a model file nor a pretrained model; the "
        f"pretrained models are: {', '.join(pretrained.REGISTRY)} "
        f"(`style-transfer pretrained list`)."
    )
