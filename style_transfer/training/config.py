"""The settings of a training run: one frozen dataclass per training command, and the loss's.

    TrainConfig      `style-transfer train`            `training.train`
    AddStyleConfig   `style-transfer add-style`        `add_style.add_styles`
    ArbitraryConfig  `style-transfer train-arbitrary`  `arbitrary_training.train_arbitrary`
    LossConfig       the perceptual loss of all three  `losses.PerceptualLoss`

Each field's default is the default of the Python API, of the command line (whose
options are built from these fields, `commands/options.py`, with the field's `help`)
and of the run's `run.json`, which stores `to_dict()`. Constructing a config checks
every value, so a bad option fails before anything is loaded or written.

This module imports neither TensorFlow nor Keras: the command line parses and checks
its arguments with it before the heavy libraries load.
"""

import dataclasses
import os
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import (
    MAX_SEED,
    check_choice,
    check_flag,
    check_ranges,
    json_ready,
    option,
    shown_value,
)
from style_transfer.models.limits import (
    APPLICATION_ENCODERS,
    ARCHITECTURES,
    HUB_ENCODER,
    MAX_ALPHA,
    MAX_EMBEDDING_DIM,
    MAX_STYLE_IMAGE_PX,
    MIN_ALPHA,
)

# The ranges of the numeric settings (every option's --help shows its range). The
# model's own sizes (alpha, the embedding, the style images) are the bounds every
# model file is loaded within (`style_transfer.models.limits`), so that every
# model a run writes can be loaded again.
MIN_IMAGE_SIZE_PX = 16
MAX_IMAGE_SIZE_PX = 4096
MAX_BATCH_SIZE = 1024
MAX_STEPS = 10**9
MAX_LEARNING_RATE = 1.0
MIN_LEARNING_RATE = 1e-12
# Loss weights: Magenta's style weights are 1e-4, pytorch/examples' 1e10 (on sums).
MAX_LOSS_WEIGHT = 1e15
MAX_CPU_REPLICAS = 64
_SEED = dict(minimum=0, maximum=MAX_SEED)
_IMAGE_SIZE = dict(minimum=MIN_IMAGE_SIZE_PX, maximum=MAX_IMAGE_SIZE_PX)
_BATCH_SIZE = dict(minimum=1, maximum=MAX_BATCH_SIZE)
_STEPS = dict(minimum=1, maximum=MAX_STEPS)
_LOSS_WEIGHT = dict(minimum=0.0, maximum=MAX_LOSS_WEIGHT)
_LEARNING_RATE = dict(minimum=MIN_LEARNING_RATE, maximum=MAX_LEARNING_RATE)
_ALPHA = dict(minimum=MIN_ALPHA, maximum=MAX_ALPHA)
VGG_NETWORKS = ("vgg16", "vgg19")
POOLINGS = ("avg", "max")
# How the rows of an added style start (see `add_style.add_styles`).
INITS = ("identity", "mean", "nearest")
# How a run uses its devices (`style_transfer.training.distribution`).
DISTRIBUTE = ("none", "mirrored", "multi-worker")


# ------------------------------------------------------------------ checks


def check_loss(loss):
    if not isinstance(loss, LossConfig):
        raise BadInput(f"loss must be a LossConfig; received {type(loss).__name__}.")


# -------------------------------------------------------------- the configs


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Everything that defines the training loss, stored in the model's `training_config`.

    The defaults are Magenta's `image_stylization` (Dumoulin et al. 2017, the
    `vgg_16/conv*` end points of its `train.py` flags): VGG-16 with average
    pooling; content at the output of the third block (relu3_3) with weight 1;
    style at the outputs of blocks 1-4 (relu1_2, relu2_2, relu3_3, relu4_3)
    with weight 1e-4 each; Gram matrices divided by H W (not by C); both
    losses the mean of squared differences; no total variation.
    pytorch/examples' fast_neural_style uses content relu2_2 and Gram / (C H W)
    with weights 1e5 and 1e10 on sums; set `content_layer` and
    `gram_divides_channels` to follow it instead.

    One default differs from Magenta on purpose: `style_size`. Magenta computes
    the Gram targets from each style image at its own size
    (`image_stylization_create_dataset.py`); here the style image is first
    resized to 256 px on its long side, the size of the training crops, so
    that its Gram statistics describe strokes at the scale the network paints
    at whatever the file's resolution, and a 4000 px painting does not need
    gigabytes of VGG activations. Set `style_size` to the image's long side to
    compute them as Magenta does.

    Args:
        vgg: `"vgg16"` or `"vgg19"` (`keras.applications`).
        vgg_weights: `"imagenet"` (downloaded once and cached by Keras),
            `"random"` (same architecture, seeded untrained weights: for tests;
            far lower quality), or the path of a local weights file (.h5).
        pooling: `"avg"` (Magenta) or `"max"` (the original VGG).
        content_layer: Keras VGG layer name of the content features.
        style_layers: Keras VGG layer names of the style features.
        content_weight: Weight of the content loss.
        style_layer_weights: One weight per style layer.
        tv_weight: Weight of the total variation loss (0 disables it).
        gram_divides_channels: Divide Gram matrices by C as well as H W.
        style_size: Long side, in pixels, to which style images are resized
            before their Gram targets are computed (see above).
        random_seed: Seed of the `"random"` weights.
    """

    vgg: str = option("vgg16", "loss network", choices=VGG_NETWORKS)
    vgg_weights: str = option(
        "imagenet", "loss network weights: 'imagenet' (downloaded once by Keras), 'random' "
        "(for trials only: much lower quality) or a local .h5 file",
        metavar="imagenet|random|PATH")
    pooling: str = option("avg", "loss network pooling (Magenta replaces max by average "
                          "pooling)", choices=POOLINGS)
    content_layer: str = option("block3_conv3", "VGG layer of the content loss")
    style_layers: tuple = option(
        ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"),
        "VGG layers of the style loss", nargs="+", metavar="LAYER")
    content_weight: float = option(1.0, "weight of the content loss", **_LOSS_WEIGHT)
    # On the command line one weight for every style layer (--style-weight).
    style_layer_weights: tuple = option(
        (1e-4, 1e-4, 1e-4, 1e-4), "weight of the style loss of each style layer",
        flag="--style-weight", type=float, metavar="WEIGHT", **_LOSS_WEIGHT)
    tv_weight: float = option(0.0, "weight of the total variation loss", **_LOSS_WEIGHT)
    gram_divides_channels: bool = False
    style_size: int = option(256, "long side to which style images are resized for their "
                             "Gram targets (train-arbitrary: the side of the square style "
                             "images, which the encoder sees too)", metavar="PX",
                             minimum=MIN_IMAGE_SIZE_PX, maximum=MAX_STYLE_IMAGE_PX)
    random_seed: int = option(0, **_SEED)

    def __post_init__(self):
        # Lists from JSON become tuples, so that configs compare and hash. A model file's
        # record of its loss is untrusted: every field is checked for its type too.
        for name in ("style_layers", "style_layer_weights"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise BadInput(f"{name} must be a list, one item per style layer; received "
                               f"{shown_value(value)}.")
            object.__setattr__(self, name, tuple(value))
        if isinstance(self.vgg_weights, os.PathLike):
            object.__setattr__(self, "vgg_weights", str(self.vgg_weights))
        for name, value in (("vgg_weights", self.vgg_weights),
                            ("content_layer", self.content_layer),
                            *((f"style_layers[{index}]", layer)
                              for index, layer in enumerate(self.style_layers))):
            if not isinstance(value, str):
                raise BadInput(f"{name} must be text; received {shown_value(value)}.")
        check_ranges(self)
        check_choice("vgg", self.vgg, VGG_NETWORKS)
        check_choice("pooling", self.pooling, POOLINGS)
        if not self.style_layers:
            raise BadInput("style_layers must name at least one VGG layer.")
        if len(self.style_layer_weights) != len(self.style_layers):
            raise BadInput(
                f"style_layer_weights has {len(self.style_layer_weights)} weights for "
                f"{len(self.style_layers)} style layers."
            )
        if not (self.content_weight or any(self.style_layer_weights) or self.tv_weight):
            raise BadInput("`content_weight`, `style_layer_weights` and `tv_weight` are all 0: "
                           "the loss would be 0 and nothing would train; give one of them a "
                           "positive weight.")
        check_flag("gram_divides_channels", self.gram_divides_channels)

    def to_dict(self):
        """A JSON-serializable dict; `LossConfig.from_dict` reverses it."""
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, config):
        """The config `to_dict` gave (a model file's or run.json's record: untrusted)."""
        if not isinstance(config, dict):
            raise BadInput(f"a loss config is a dict of LossConfig fields; received "
                           f"{shown_value(config)}.")
        unknown = sorted(set(config) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise BadInput(f"LossConfig has no field {unknown[0]!r}.")
        return cls(**config)

    def with_overrides(self, overrides):
        """The same config with the fields in `overrides` changed.

        A single number for `style_layer_weights` weights every style layer the
        same; new `style_layers` without weights keep the first weight for each.
        """
        overrides = dict(overrides)
        unknown = sorted(set(overrides) - {field.name for field in dataclasses.fields(self)})
        if unknown:
            raise BadInput(f"loss_overrides: LossConfig has no field {unknown[0]!r}.")
        layers = overrides.get("style_layers", self.style_layers)
        weights = overrides.get("style_layer_weights")
        if isinstance(weights, (int, float)):
            overrides["style_layer_weights"] = (float(weights),) * len(layers)
        elif "style_layers" in overrides and weights is None:
            overrides["style_layer_weights"] = (self.style_layer_weights[0],) * len(layers)
        return dataclasses.replace(self, **overrides)


# The fields of the three commands, shared where they mean the same thing.
_CONTENT_DIR = dict(help="folder of content photos (searched recursively)", flag="--content",
                    metavar="DIR", path=True)
_STEPS_HELP = "total training steps"
_CHECKPOINT_EVERY = dict(help="write a checkpoint every this many steps", metavar="STEPS",
                         minimum=1, maximum=MAX_STEPS,
                         resumable=True)
_JIT_COMPILE_HELP = ("compile the training step with XLA (minutes to compile, and on a "
                     "small CPU no faster: try it on a GPU)")
# Where a run trains changes its result only by float summation order, so a run may
# resume on other devices.
_DISTRIBUTE = dict(help="devices: one; every local GPU (mirrored); or the machines of the "
                   "TF_CONFIG environment variable (multi-worker). --batch-size is the "
                   "global batch, split over the replicas", choices=DISTRIBUTE,
                   resumable=True)
_CPU_REPLICAS = dict(help="with --distribute mirrored: split the CPU into N logical "
                     "devices (to try a distributed run without GPUs; no faster)",
                     metavar="N", type=int, resumable=True, minimum=1, maximum=MAX_CPU_REPLICAS)
_MIXED_PRECISION_HELP = ("compute in mixed precision (float16 with loss scaling on a GPU, "
                         "bfloat16 on a CPU); variables and losses stay float32")


_DEVICES = "devices"


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RunConfig:
    """What the three run configs share: the devices a run trains on, checks, run.json's
    dict, resolved paths."""

    jit_compile: bool = option(False, _JIT_COMPILE_HELP, group=_DEVICES)
    distribute: str = option("none", **_DISTRIBUTE, group=_DEVICES)
    cpu_replicas: int = option(None, **_CPU_REPLICAS, group=_DEVICES)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            # Paths as strings and lists as tuples: JSON-ready, comparable, hashable.
            text = str if field.metadata.get("path") else (lambda item: item)
            if field.metadata.get("nargs"):
                if isinstance(value, (str, os.PathLike)):
                    # tuple() would split a lone name into its characters.
                    raise BadInput(f"{field.name} is a list; received the single value "
                                   f"{shown_value(str(value))}: pass [{str(value)!r}].")
                self._set(field.name, tuple(text(item) for item in value))
            else:
                self._set(field.name, text(value))
        check_ranges(self)
        check_flag("jit_compile", self.jit_compile)
        check_choice("distribute", self.distribute, DISTRIBUTE)
        if self.cpu_replicas is not None and self.distribute != "mirrored":
            raise BadInput(f"`cpu_replicas` splits one CPU for `distribute` mirrored; "
                           f"received `distribute` {self.distribute}.")

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def to_dict(self):
        """A JSON-serializable dict of every field; `from_dict` reverses it."""
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        if isinstance(values.get("loss"), dict):
            values["loss"] = LossConfig.from_dict(values["loss"])
        return cls(**values)

    def resolved(self):
        """The same config with every file and folder as an absolute path."""
        return dataclasses.replace(self, **{
            field.name: _resolve(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if field.metadata.get("path") and getattr(self, field.name) is not None
        })

    @classmethod
    def default_values(cls):
        """{field: default} of the fields that have one, as run.json stores them."""
        defaults = {field.name: field.default for field in dataclasses.fields(cls)
                    if field.default is not dataclasses.MISSING}
        return json_ready({name: value.to_dict() if isinstance(value, LossConfig) else value
                            for name, value in defaults.items()})

    @classmethod
    def resumable_fields(cls):
        """The fields a resumed run may change: they do not change its result."""
        return [field.name for field in dataclasses.fields(cls) if field.metadata.get("resumable")]


@dataclasses.dataclass(frozen=True, kw_only=True)
class _MixedPrecision:
    """The precision setting of the commands that build their network (not add-style,
    which trains a model in the precision it was saved with)."""

    mixed_precision: bool = option(False, _MIXED_PRECISION_HELP, group=_DEVICES)

    def __post_init__(self):
        super().__post_init__()
        check_flag("mixed_precision", self.mixed_precision)


def _resolve(value):
    if isinstance(value, tuple):
        return tuple(str(Path(item).resolve()) for item in value)
    return str(Path(value).resolve())


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig(_MixedPrecision, _RunConfig):
    """The settings of `training.train`: one network trained on several styles.

    Defaults follow Magenta's image_stylization except the batch size (4, as
    pytorch/examples). `steps`, `checkpoint_every` and `sample_every` may change
    when a run is resumed; everything else must stay as it was.
    """

    content_dir: str = option(**_CONTENT_DIR)
    style_images: tuple = option(help="style images, one per style", flag="--styles",
                                 nargs="*", metavar="IMG", path=True)
    style_names: tuple = option(None, "one name per style (default: the style file names "
                                "without extension)", nargs="+", metavar="NAME")
    image_size: int = option(256, "side of the square training crops, pixels", metavar="PX",
                             **_IMAGE_SIZE)
    batch_size: int = option(4, "samples per step", **_BATCH_SIZE)
    steps: int = option(40_000, _STEPS_HELP + " (Magenta: 40,000 at batch 16)", resumable=True,
                        **_STEPS)
    learning_rate: float = option(1e-3, "Adam learning rate", **_LEARNING_RATE)
    alpha: float = option(1.0, "width multiplier of the network (0.25-0.5 trains fast on a CPU)",
                          **_ALPHA)
    architecture: str = option("magenta", "layer widths: Magenta's standard network (1.67M "
                               "shared weights) or the slim network of TensorFlow's Android "
                               "demo (140K)", choices=ARCHITECTURES)
    loss: LossConfig = option(LossConfig(), "loss options", loss_options="defaults")
    checkpoint_every: int = option(500, **_CHECKPOINT_EVERY)
    sample_every: int = option(500, "log sample stylizations to TensorBoard every this many "
                               "steps (0: never)", metavar="STEPS", resumable=True,
                               minimum=0, maximum=MAX_STEPS)
    seed: int = option(0, "fixes the initial weights, the crops and the style draws", **_SEED)

    def __post_init__(self):
        super().__post_init__()
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_loss(self.loss)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddStyleConfig(_RunConfig):
    """The settings of `add_style.add_styles`: new styles trained into a model's tables.

    `image_size`, `batch_size` and the loss default to what the model was
    trained with (None: the model's); `loss_overrides` changes single
    `LossConfig` fields of the model's loss.
    """

    model: str = option(help="the trained style model, or the name of a pretrained one "
                        "(`style-transfer pretrained list`)", metavar="MODEL.keras|NAME",
                        path=True)
    style_images: tuple = option(help="the new style images, one per new style",
                                 flag="--styles", nargs="*", metavar="IMG", path=True)
    content_dir: str = option(**_CONTENT_DIR)
    style_names: tuple = option(None, "one name per new style (default: the file names "
                                "without extension)", nargs="+", metavar="NAME")
    steps: int = option(2000, _STEPS_HELP, resumable=True, **_STEPS)
    learning_rate: float = option(1e-3, "learning rate of a fresh Adam", **_LEARNING_RATE)
    batch_size: int = option(None, "samples per step (default: the model's)", type=int,
                             **_BATCH_SIZE)
    image_size: int = option(None, "side of the square training crops (default: the model's)",
                             type=int, metavar="PX", **_IMAGE_SIZE)
    loss_overrides: dict = option({}, "loss options (default: the model's own loss)",
                                  loss_options="overrides")
    init: str = option("nearest", "starting rows: ones/zeros, the mean of the old styles, or "
                       "a copy of the old style whose stylizations are nearest (style loss) "
                       "to the new style", choices=INITS)
    checkpoint_every: int = option(500, **_CHECKPOINT_EVERY)
    seed: int = option(0, "fixes the crops and the style draws", **_SEED)

    def __post_init__(self):
        super().__post_init__()
        check_choice("init", self.init, INITS)
        if not isinstance(self.loss_overrides, dict):
            raise BadInput(f"loss_overrides must be a dict of LossConfig fields; received "
                           f"{self.loss_overrides!r}.")
        check_loss(LossConfig().with_overrides(self.loss_overrides))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArbitraryConfig(_MixedPrecision, _RunConfig):
    """The settings of `arbitrary_training.train_arbitrary`: one model for any style image."""

    content_dir: str = option(**_CONTENT_DIR)
    style_dir: str = option(help="folder of style images (searched recursively)",
                            flag="--styles", metavar="DIR", path=True)
    image_size: int = option(256, "side of the square content crops, pixels", metavar="PX",
                             **_IMAGE_SIZE)
    batch_size: int = option(8, "samples per step (Magenta's arbitrary model: 8)",
                             **_BATCH_SIZE)
    steps: int = option(40_000, _STEPS_HELP, resumable=True, **_STEPS)
    learning_rate: float = option(1e-3, "Adam learning rate", **_LEARNING_RATE)
    alpha: float = option(1.0, "width multiplier of the style network", **_ALPHA)
    embedding_dim: int = option(100, "length of the style embedding", minimum=1,
                                maximum=MAX_EMBEDDING_DIM)
    encoder: str = option("mobilenet_v2", "keras.applications style encoder",
                          choices=APPLICATION_ENCODERS, exclusive="encoder")
    # On the command line --encoder-hub HANDLE sets encoder to "hub" as well.
    hub_handle: str = option(None, "use a TF Hub image feature-vector model as the encoder: a "
                             "URL, or a local SavedModel folder (works offline)",
                             flag="--encoder-hub", metavar="HANDLE", type=str,
                             exclusive="encoder")
    encoder_weights: str = option("imagenet", "'imagenet' (downloaded once), 'random' (offline "
                                  "trials only) or the path of a weights file",
                                  metavar="WEIGHTS")
    train_encoder: bool = option(False, "fine-tune the encoder too (slower); otherwise it is "
                                 "frozen")
    loss: LossConfig = option(LossConfig(), "loss options", loss_options="defaults")
    checkpoint_every: int = option(500, **_CHECKPOINT_EVERY)
    seed: int = option(0, "fixes the initial weights, the crops and the style draws", **_SEED)

    def __post_init__(self):
        super().__post_init__()
        check_choice("encoder", self.encoder, (*APPLICATION_ENCODERS, HUB_ENCODER))
        if (self.encoder == HUB_ENCODER) != (self.hub_handle is not None):
            raise BadInput(f"a TF Hub encoder needs a hub_handle, and only it takes one; "
                           f"received encoder={self.encoder!r}, hub_handle={self.hub_handle!r}.")
        if self.encoder == HUB_ENCODER:
            self._set("encoder_weights", None)  # A hub model comes with its own.
        check_flag("train_encoder", self.train_encoder)
        check_loss(self.loss)


