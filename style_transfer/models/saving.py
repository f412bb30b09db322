"""Model files: saving one `.keras` file atomically; loading one as untrusted input;
`model_path` resolves what `--model` names (a file or a pretrained model).

A model file may come from anyone, so loading one never runs code from it and
reads a bounded amount of it:
- it must be a regular file (not a folder, a device such as /dev/zero, or a pipe)
  of at most `MAX_MODEL_FILE_BYTES`, and a zip archive whose members unpack to at
  most `MAX_UNPACKED_BYTES` (the sizes are checked before anything is unpacked);
- the model class its config names is checked before Keras builds anything, its
  config nests at most `MAX_CONFIG_DEPTH` levels, and every number that sizes the
  network is bounded (`style_transfer.models.limits`: styles, widths, blocks, ...);
- Keras loads it in safe mode (no lambdas or other code from the file);
- a style encoder from TF Hub, which would run a TensorFlow graph named by the
  file, is never loaded from the file's record (see `arbitrary.load_arbitrary_model`);
- weights that are NaN or infinite (a diverged training) are refused.
Every problem is a one-line `BadInput` that names the file.
"""

import os
import stat
import zipfile
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.base.files import (
    atomic_path,
    check_destination,
    check_not_an_input,
    describe_os_error,
)
from style_transfer.base.json_text import parse_json
from style_transfer.models.limits import MAX_CONFIG_DEPTH, check_network_size

# A full-width style model is about 7 MB, an arbitrary-style one with InceptionV3 about 100 MB.
MAX_MODEL_FILE_BYTES = 2 * 1024**3
MAX_UNPACKED_BYTES = 4 * 1024**3
MAX_CONFIG_BYTES = 16 * 1024**2
WEIGHTS_MEMBER = "model.weights.h5"


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


def read_model_config(path):
    """The config (`config.json`) of a `.keras` file, read within the bounds above.

    Returns:
        The config dict: "class_name", "registered_name", "config", ...

    Raises:
        BadInput: the path is missing, unreadable, not a regular file, too
            large, not a zip archive, or has no readable config.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer (it is refused below).
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise BadInput(f"model file {path} does not exist.") from None
    except OSError as error:
        raise BadInput(f"cannot read model file {path}: {describe_os_error(error)}.") from None
    try:
        _check_regular_file(os.fstat(descriptor), path)
    except BadInput:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        try:
            with zipfile.ZipFile(file) as archive:
                _check_unpacked_sizes(archive, path)
                text = archive.read("config.json")
                _check_weights_sizes(archive, path)
        except zipfile.BadZipFile:
            raise BadInput(f"{path} is not a .keras model file (not a zip archive).") from None
        except KeyError:
            raise BadInput(f"{path} is not a .keras model file (it has no config.json).") from None
        except OSError as error:
            raise BadInput(f"cannot read model file {path}: {describe_os_error(error)}.") from None
    config = parse_json(text, f"{path} is damaged: its config.json", MAX_CONFIG_DEPTH)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise BadInput(f"{path} is damaged: its config.json is not a Keras model config.")
    return config


def _check_regular_file(status, path):
    if stat.S_ISDIR(status.st_mode):
        raise BadInput(f"{path} is a folder; pass a .keras model file.")
    if not stat.S_ISREG(status.st_mode):
        raise BadInput(f"{path} is not a regular file (a device, pipe or socket); pass a "
                       f".keras model file.")
    if status.st_size > MAX_MODEL_FILE_BYTES:
        raise BadInput(f"{path} is {_size(status.st_size)}, larger than any model file "
                       f"({_size(MAX_MODEL_FILE_BYTES)} at most).")
    if path.suffix != ".keras":
        raise BadInput(f"{path} is not a .keras model file (model files end in .keras).")


def _check_unpacked_sizes(archive, path):
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadInput(f"{path} would unpack to {_size(unpacked)}, more than any model "
                       f"({_size(MAX_UNPACKED_BYTES)} at most).")
    config = next((member for member in members if member.filename == "config.json"), None)
    if config is not None and config.file_size > MAX_CONFIG_BYTES:
        raise BadInput(f"{path} has a config.json of {_size(config.file_size)}; a model's is "
                       f"a few KiB.")


def _check_weights_sizes(archive, path):
    """Refuses weights whose arrays, once decompressed, would exceed the bound (an HDF5
    file can hold compressed arrays far larger than itself)."""
    import h5py

    if WEIGHTS_MEMBER not in archive.namelist():
        return
    total = 0

    def add(name, item):
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += item.size * item.dtype.itemsize

    try:
        with archive.open(WEIGHTS_MEMBER) as member, h5py.File(member, "r") as weights:
            weights.visititems(add)
    except (OSError, ValueError, TypeError):
        raise BadInput(f"{path} is damaged: its {WEIGHTS_MEMBER} is not an HDF5 file.") from None
    if total > MAX_UNPACKED_BYTES:
        raise BadInput(f"{path} holds {_size(total)} of weights, more than any model "
                       f"({_size(MAX_UNPACKED_BYTES)} at most).")


def load_model_file(path, model_class, description):
    """Loads a `.keras` file that must hold a model of class `model_class`.

    Args:
        path: The file.
        model_class: The class (registered with Keras), e.g. `StyleTransferNetwork`.
        description: What the model is, for messages ("a style model made by
            `style-transfer train`").

    Raises:
        BadInput: see the module docstring.
    """
    import keras

    path = Path(path)
    config = read_model_config(path)
    found, registered = config.get("class_name"), config.get("registered_name")
    if found != model_class.__name__:
        raise BadInput(f"{path} holds a model of class {found}, not {description}.")
    if registered != keras.saving.get_registered_name(model_class):
        raise BadInput(f"{path} holds a model registered as {registered!r}, not {description}.")
    check_network_size(config["config"], path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for damaged archives.
        cause = error
        while cause is not None and not isinstance(cause, BadInput):
            cause = cause.__context__
        if cause is not None:
            raise BadInput(f"{path}: {cause}") from None
        raise BadInput(f"{path} could not be loaded as a Keras model ({type(error).__name__}: "
                       f"{_keras_reason(error)}).") from None
    _check_finite_weights(model, path)
    return model


def _keras_reason(error, limit=300):
    """Keras's reason for a failed load, on one line: a first line that ends in ":" ("...
    Example error message for object <Conv2D ...>:") is followed by its cause, and the
    list of objects after it is left out."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    reason = lines[0]
    if reason.endswith(":") and len(lines) > 1:
        reason = f"{reason} {lines[1]}"
    return reason if len(reason) <= limit else reason[:limit - 3] + "..."


def _check_finite_weights(model, path):
    import keras
    import numpy as np

    for weight in model.weights:
        if not np.all(np.isfinite(keras.ops.convert_to_numpy(weight))):
            raise BadInput(f"{path} has NaN or infinite weights ({weight.path}): its training "
                           f"diverged; use an earlier checkpoint or train again.")


def _size(count):
    """A number of bytes for people: "3.2 GiB", "12.0 MiB"."""
    return f"{count / 1024**3:.1f} GiB" if count >= 1024**3 else f"{count / 1024**2:.1f} MiB"


def check_output_path(model_path, out_path, overwrite):
    """Refuses an output that is not .keras, that is the input model (even with
    `overwrite`), or that exists without `overwrite`. `model_path` may be a list of
    every input of the run (the model, style images, ...)."""
    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise BadInput(f"model files end in .keras; received `out` {str(out_path)!r}.")
    check_not_an_input(out_path, model_path)
    check_destination(out_path, overwrite)
