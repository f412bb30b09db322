"""What a model may be: the bounds of every size a model file can set, defined once.

A model file may come from anyone, and the numbers in its config decide how much
memory Keras allocates before a single weight is read: the number of styles,
the width multiplier, the embedding size, the layer widths and the number of
residual blocks of the architecture, the style image size, and how deeply the
config nests. They are checked here, before anything is built, by the loader
(`saving.load_model_file`) and by the models' own `from_config` (so that
`keras.saving.load_model` is bounded too). Training accepts the same bounds
(`style_transfer.training.config` reads them from here), so that every model it
writes can be loaded again. Light: no TensorFlow, no Keras.
"""

import math
import numbers

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import shown_value

# Bounds of the numbers in a config that size the network (and the memory Keras
# allocates for it before any weight is read).
MAX_STYLES = 10_000
MIN_ALPHA = 1e-3
MAX_ALPHA = 4.0
MAX_EMBEDDING_DIM = 10_000
MAX_STYLE_IMAGE_PX = 4096
# An architecture's widths (before `alpha`) and residual blocks: Magenta's are 32-128
# wide with 5 blocks, the Android demo's 4-32 wide with 6.
MAX_LAYER_WIDTH = 1024
MAX_RESIDUAL_BLOCKS = 64
# Every weight of the style network, tables and heads included (1 GiB of float32):
# Magenta's network with 10,000 styles at alpha 4 has 155M.
MAX_NETWORK_WEIGHTS = 2**28
# How deeply a model's config.json may nest (a model's nests 6 levels; recursive
# readers would exhaust Python's stack on a few thousand, see `base.json_text`).
MAX_CONFIG_DEPTH = 32
# The layer-width presets of `network.ARCHITECTURES`.
ARCHITECTURES = ("magenta", "android-slim")
# Style encoders of the arbitrary-style model: keras.applications backbones, or a TF Hub model.
APPLICATION_ENCODERS = ("mobilenet_v2", "inception_v3")
HUB_ENCODER = "hub"

# {config field: (lowest, highest, integer?)}: the numbers of a model's config.
BOUNDS = {
    "num_styles": (1, MAX_STYLES, True),
    "alpha": (MIN_ALPHA, MAX_ALPHA, False),
    "embedding_dim": (1, MAX_EMBEDDING_DIM, True),
    "style_image_size": (1, MAX_STYLE_IMAGE_PX, True),
}
# The layer plan of `network.Architecture`: how many widths each part has.
ARCHITECTURE_WIDTHS = {"contract": 3, "expand": 2}


def check_bound(field, value, where=None):
    """Returns `value` if it is a number within `BOUNDS[field]` (an integer where the
    field counts something).

    Args:
        field: A key of `BOUNDS`.
        value: The number.
        where: The file it comes from, for the message (None: a config).

    Raises:
        BadInput: naming the field, the value and the bounds.
    """
    low, high, integer = BOUNDS[field]
    kind = numbers.Integral if integer else numbers.Real
    if (isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value)
            or not low <= value <= high):
        _refuse(where, f"{field}={value!r}", f"{'an integer' if integer else 'a number'} "
                f"from {low:g} to {high:g}")
    return value


def check_architecture(architecture, where=None):
    """Checks an architecture's dict (`network.Architecture.to_dict`): three contracting
    and two expanding widths and a residual width from 1 to `MAX_LAYER_WIDTH`, 1 to
    `MAX_RESIDUAL_BLOCKS` residual blocks.

    Raises:
        BadInput: a missing, unknown or out-of-bounds entry.
    """
    if not isinstance(architecture, dict):
        _refuse(where, f"architecture={shown_value(architecture)}", "a dict of layer widths")
    expected = {*ARCHITECTURE_WIDTHS, "residual_blocks", "residual_filters"}
    if set(architecture) != expected:
        _refuse(where, f"architecture keys {sorted(map(str, architecture))}",
                f"exactly {', '.join(sorted(expected))}")
    for name, count in ARCHITECTURE_WIDTHS.items():
        widths = architecture[name]
        if (not isinstance(widths, (list, tuple)) or len(widths) != count
                or not all(_is_count(width, MAX_LAYER_WIDTH) for width in widths)):
            _refuse(where, f"architecture {name}={shown_value(widths)}",
                    f"{count} integers from 1 to {MAX_LAYER_WIDTH}")
    if not _is_count(architecture["residual_filters"], MAX_LAYER_WIDTH):
        _refuse(where, f"architecture residual_filters={shown_value(architecture['residual_filters'])}",
                f"an integer from 1 to {MAX_LAYER_WIDTH}")
    if not _is_count(architecture["residual_blocks"], MAX_RESIDUAL_BLOCKS):
        _refuse(where, f"architecture residual_blocks={shown_value(architecture['residual_blocks'])}",
                f"an integer from 1 to {MAX_RESIDUAL_BLOCKS}")


def network_weights(architecture, alpha, num_styles=None, embedding_dim=None):
    """The number of weights of a style network: its convolutions, and the gamma/beta
    of its conditional normalizations (a table of `num_styles` rows, or linear heads
    from an embedding of `embedding_dim`).

    Args:
        architecture: A checked architecture dict (`check_architecture`).
        alpha: The width multiplier.
        num_styles: Rows of the tables (or None).
        embedding_dim: Length of the style embedding (or None).
    """
    def width(channels):
        return max(1, round(channels * alpha))  # as `StyleTransferNetwork` rounds

    contract = [width(channels) for channels in architecture["contract"]]
    residual = width(architecture["residual_filters"])
    expand = [width(channels) for channels in architecture["expand"]]
    blocks = architecture["residual_blocks"]
    # (kernel side, input channels, filters) of every convolution, in order.
    convolutions = [(9, 3, contract[0]), (3, contract[0], contract[1]),
                    (3, contract[1], contract[2]), *[(3, residual, residual)] * (2 * blocks),
                    (3, residual, expand[0]), (3, expand[0], expand[1]), (9, expand[1], 3)]
    kernels = sum(side * side * inputs * filters for side, inputs, filters in convolutions)
    channels = sum(filters for _, _, filters in convolutions)
    rows = num_styles if embedding_dim is None else embedding_dim + 1  # + the heads' bias
    return kernels + 2 * channels * (rows or 0)


def check_network_size(config, where=None):
    """Refuses a config whose numbers would make Keras allocate more than any model needs:
    each number of `BOUNDS` and the architecture within its bounds, and at most
    `MAX_NETWORK_WEIGHTS` weights in all; and a `training_config` that is not a dict
    (the record of how it was trained, which commands read).

    Args:
        config: The model's config (`get_config()`, or the "config" of a file's config.json).
        where: The file it comes from, for messages (None: a config).

    Raises:
        BadInput: naming the field, its value and the bounds.
    """
    for field in BOUNDS:
        if config.get(field) is not None:
            check_bound(field, config[field], where)
    if "alpha" in config and config["alpha"] is None:  # The only bound without a None default.
        _refuse(where, "alpha None", "a width multiplier, a number")
    record = config.get("training_config")
    if record is not None and not isinstance(record, dict):
        _refuse(where, f"training_config {shown_value(record)}",
                "a dict: the record of how the model was trained")
    architecture = config.get("architecture")
    if architecture is None or (isinstance(architecture, str) and architecture in ARCHITECTURES):
        return  # The default, or a preset.
    check_architecture(architecture, where)
    count = network_weights(architecture, config.get("alpha", 1.0), config.get("num_styles"),
                            config.get("embedding_dim"))
    if count > MAX_NETWORK_WEIGHTS:
        _refuse(where, f"a network of {count:,} weights",
                f"at most {MAX_NETWORK_WEIGHTS:,}")


def _is_count(value, high):
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and 1 <= value <= high)


def _refuse(where, found, expected):
    if where:
        raise BadInput(f"{where} is damaged: its config gives {found} (expected {expected}).")
    raise BadInput(f"received {found}; expected {expected}.")
