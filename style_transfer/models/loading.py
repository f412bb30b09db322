"""Loading models: the one place that decides what a model name or path is.

    load_model("android-26")                      # a pretrained name: converted, cached once
    load_model("styles.keras")                    # a table of styles (`style-transfer train`)
    load_model("arbitrary.keras")                 # an arbitrary-style model (`train-arbitrary`)
    load_model("styles.onnx")                     # an exported table of styles, on its runtime
    load_model("hub.keras", hub_encoder="~/encoder/")   # ... whose encoder is a TF Hub model

Every command and the web page call `load_model`; it reads the file's config
first and builds the model its class names, so no caller asks "table or
arbitrary?" itself. Every model file is untrusted input, read by
`style_transfer.models.saving` within its bounds, in Keras's safe mode.
"""

from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.models import pretrained, runtimes
from style_transfer.models.saving import load_model_file, read_model_config

TABLE = "table"
ARBITRARY = "arbitrary"
EXPORTED = "exported"
# The class a model file names, for each kind of model.
MODEL_CLASSES = {"StyleTransferNetwork": TABLE, "ArbitraryStyleModel": ARBITRARY}
DESCRIPTIONS = {TABLE: "a model of trained styles (made by `style-transfer train`)",
                ARBITRARY: "an arbitrary-style model (made by `style-transfer train-arbitrary`)",
                EXPORTED: "an exported model (made by `style-transfer export`)"}


def model_path(model):
    """The file that `model` names: a model file (`.keras`, or an exported `.onnx` or
    `.tflite`), or the name of a pretrained model (`style_transfer.models.pretrained`),
    converted and cached on first use.

    A path that exists, or that ends in one of those suffixes, is a file (an existing
    file wins over a pretrained model of the same name).

    Raises:
        BadInput: neither an existing file nor a pretrained model's name, or a
            pretrained model that cannot be had (see `pretrained.ensure_cached`).
    """
    path = Path(model)
    if path.exists() or path.suffix == ".keras" or runtimes.is_export(path):
        return path
    if str(model) in pretrained.REGISTRY:
        return pretrained.ensure_cached(str(model))
    raise BadInput(
        f"model {str(model)!r} is neither a model file nor a pretrained model; the "
        f"pretrained models are: {', '.join(pretrained.REGISTRY)} "
        f"(`style-transfer pretrained list`)."
    )


def model_kind(path):
    """`TABLE`, `ARBITRARY` or `EXPORTED`: the kind of model a file holds (a `.keras`
    file's config is read, not its weights).

    Raises:
        BadInput: the file cannot be read, or holds a model of another class.
    """
    if runtimes.is_export(path):
        return EXPORTED
    found = read_model_config(path).get("class_name")
    if found not in MODEL_CLASSES:
        raise BadInput(f"{path} holds a model of class {found}, not a style model of this "
                       f"package ({' or '.join(DESCRIPTIONS.values())}).")
    return MODEL_CLASSES[found]


def load_model(model, *, hub_encoder=None, kind=None):
    """The style model that `model` names: a `StyleTransferNetwork` or an `ArbitraryStyleModel`.

    Args:
        model: A pretrained model's name, or a `.keras` file.
        hub_encoder: For an arbitrary-style model trained with a TF Hub
            encoder: the hub model to run as its encoder (its URL or a local
            SavedModel folder). Running a hub model runs its TensorFlow graph,
            so it is never taken from the file's own record: name one you trust,
            usually the one it was trained with or a local copy.
        kind: `TABLE`, `ARBITRARY` or `EXPORTED` to accept that kind only (None: any).

    Raises:
        BadInput: `model` names no model, the file is damaged, too large or holds
            another kind of model (see `style_transfer.models.saving`), or the
            hub encoder is missing, not needed, or does not fit the weights.
    """
    from style_transfer.models.arbitrary import ArbitraryStyleModel, trusted_hub_encoder
    from style_transfer.models.network import StyleTransferNetwork

    path = model_path(model)
    found = model_kind(path)
    if kind is not None and found != kind:
        raise BadInput(f"{path} holds {DESCRIPTIONS[found]}, not {DESCRIPTIONS[kind]}.")
    if found == EXPORTED:
        if hub_encoder is not None:
            raise BadInput(f"`hub_encoder` applies to arbitrary-style models; {path} holds "
                           f"{DESCRIPTIONS[EXPORTED]}.")
        return runtimes.ExportedNetwork(path)
    if found == TABLE:
        if hub_encoder is not None:
            raise BadInput(f"`hub_encoder` applies to arbitrary-style models; {path} holds "
                           f"{DESCRIPTIONS[TABLE]}.")
        return load_model_file(path, StyleTransferNetwork, DESCRIPTIONS[TABLE])
    with trusted_hub_encoder(path, hub_encoder):
        return load_model_file(path, ArbitraryStyleModel, DESCRIPTIONS[ARBITRARY])


def load_style_model(model):
    """A `StyleTransferNetwork` (a table of styles) from a pretrained name or a `.keras` file."""
    return load_model(model, kind=TABLE)


def load_arbitrary_model(model, hub_encoder=None):
    """An `ArbitraryStyleModel` from a `.keras` file (`hub_encoder`: see `load_model`)."""
    return load_model(model, hub_encoder=hub_encoder, kind=ARBITRARY)


def load_pretrained(model, source_file=None):
    """The pretrained network `model` (a registry name or a `PretrainedModel`).

    Args:
        model: A name in `REGISTRY`, or a `PretrainedModel`.
        source_file: Convert this local file instead of the registered source
            (a checkpoint downloaded on another machine, or an ONNX file of the
            same network); it replaces the cached conversion. (For a package
            source, a later load without it converts the installed file again,
            since the cache then no longer matches it.)

    Raises:
        BadInput: an unknown name, a missing extra, a failed download, or a
            source that fails verification (nothing is cached then).
    """
    return load_style_model(pretrained.ensure_cached(model, source_file))
