"""How to paint: one frozen dataclass per painting command, from which their options come.

    PaintConfig    what every painting shares: the model, the style, the photo options
    StylizeConfig  `style-transfer stylize`: spatial blends and figures on top
    VideoConfig    `style-transfer video`: flicker stabilization on top

Each field's default is the default of the Python API, of the command line (whose
options are generated from the fields with their `help`, `style_transfer.cli.options`)
and of the web page (`style-transfer serve` offers the model fields; the page starts
from the photo options' defaults). Constructing a config checks every value that
does not depend on the model; `check_model` checks the rest once it is loaded.

    config = PaintConfig(model="android-26", style=("19",), strength=0.8)
    model = config.load()
    paint = config.painter(model)          # photo (H, W, 3) in [0, 1] -> painting

Light: no TensorFlow, no Keras (the command line parses and checks with it first).
"""

import dataclasses

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import (
    check_choice,
    check_flag,
    check_ranges,
    option,
    parse_number,
)
from style_transfer.models.pretrained import DEFAULT_MODEL
from style_transfer.models.runtimes import ENVIRONMENT_VARIABLE, RUNTIMES

# The network's two stride-2 convolutions and 9x9 reflection padding need this much.
MIN_PHOTO_PX = 8
# The largest `max_size` (the long side of a photo, in pixels).
MAX_PHOTO_PX = 65536
MASK_MODES = ("composite", "network")
# Engines of `stylize` with style images: the --model file, or Magenta's hub model.
NETWORK_ENGINE = "network"
MAGENTA_ENGINE = "magenta-hub"
ENGINES = (NETWORK_ENGINE, MAGENTA_ENGINE)
STABILIZE_METHODS = ("canvas", "lookahead", "flow", "none")
# The stabilizer's default weight (`style_transfer.painting.stabilize`; BENCHMARKS.md, "Video").
DEFAULT_STABILIZE_WEIGHT = 0.5

_MODEL = "the model"
_TRAINED_STYLES = ("trained styles", "with a model made by `train` (or a pretrained one)")
_STYLE_IMAGES = ("style images", "with a model made by `train-arbitrary`: paint in the "
                 "style of any image")
_PHOTO = "photo options"


@dataclasses.dataclass(frozen=True)
class PaintConfig:
    """What every painting command shares: which model, which style, how much of it.

    Args:
        model: A pretrained model's name or a `.keras` file.
        hub_encoder: For an arbitrary-style model trained with a TF Hub
            encoder: the hub model to run as its encoder (see
            `style_transfer.models.loading.load_model`).
        style: Styles of a table model, by name or index (one picture each).
        blend: A convex blend of a table model's styles, "wave=0.7,scream=0.3".
        normalize: Divide the blend's weights by their sum.
        style_images: Style image files of an arbitrary-style model (blended).
        blend_weights: Convex weights of the style images, one per image.
        strength: From the photo (0) to the full style (1).
        preserve_color: Keep the photo's colours (the painting's luminance only).
        max_size: Downsize pictures whose long side is larger (None: full size).
        xla: Compile the network with XLA.
        runtime: What paints: "auto" (the fastest runtime installed), "tensorflow",
            "onnxruntime" or "litert" (`style_transfer.models.runtimes`); None: the
            default, $STYLE_TRANSFER_RUNTIME or "auto".
    """

    model: str = option(
        DEFAULT_MODEL, "a model made by `train` or `train-arbitrary`, or the name of a "
        "pretrained one (`style-transfer pretrained list`; the default works offline with "
        "the [pretrained] extra)", metavar="MODEL.keras|NAME", group=_MODEL)
    hub_encoder: str = option(
        None, "for a model trained with --encoder-hub: the TF Hub model to run as its encoder "
        "(URL or local SavedModel folder). Running a hub model runs its TensorFlow graph, so "
        "name only one you trust; the model file's own record of its encoder is never "
        "followed", metavar="HANDLE", type=str, group=_MODEL)
    style: tuple = option(
        (), "a style, by name or index (repeat for one picture per style)",
        action="append", metavar="NAME|INDEX", group=_TRAINED_STYLES)
    blend: str = option(None, "a convex blend by names or indices, e.g. 'wave=0.7,scream=0.3'",
                        metavar="A=W,B=W", type=str, once=True, group=_TRAINED_STYLES)
    normalize: bool = option(False, "divide --blend weights by their sum instead of requiring "
                             "sum 1", group=_TRAINED_STYLES)
    style_images: tuple = option(
        (), "a style image; repeat to blend several", flag="--style-image", action="append",
        metavar="IMAGE", group=_STYLE_IMAGES)
    blend_weights: tuple = option(
        None, "convex weights of the style images (default: equal)", metavar="W1,W2,...",
        type=str, group=_STYLE_IMAGES)
    strength: float = option(
        1.0, "how much of the style, from the photo (0) to the full style (1): a model with a "
        "table of styles mixes the painting with the photo; an arbitrary-style model moves "
        "its style embedding toward the photo's own", metavar="S", group=_PHOTO,
        minimum=0.0, maximum=1.0)
    preserve_color: bool = option(
        False, "keep the photo's colours and take only the luminance from the painting "
        "(Gatys et al. 2016)", group=_PHOTO)
    max_size: int = option(None, "downsize pictures whose long side is larger (default: full "
                           "size)", metavar="PX", type=int, minimum=MIN_PHOTO_PX,
                           maximum=MAX_PHOTO_PX, group=_PHOTO)
    xla: bool = option(False, "compile the network with XLA: faster per picture after a "
                       "compilation of a few seconds per picture size; for many pictures of "
                       "one size (video frames, batches)")
    runtime: str = option(None, "what paints: auto (the fastest installed: litert with the "
                          "litert extra, else onnxruntime with the onnx extra, else "
                          "tensorflow), or one of them; a .keras model is converted once and "
                          f"cached (default: ${ENVIRONMENT_VARIABLE}, else auto)",
                          choices=RUNTIMES, type=str)

    def __post_init__(self):
        for name in ("style", "style_images"):
            value = getattr(self, name) or ()
            value = (value,) if isinstance(value, (str, int)) else value
            self._set(name, tuple(str(item) for item in value))
        for name in ("normalize", "preserve_color", "xla"):
            check_flag(name, getattr(self, name))
        check_ranges(self)
        if isinstance(self.blend_weights, str):
            self._set("blend_weights", tuple(parse_number(part, "a blend weight")
                                             for part in self.blend_weights.split(",")))
        if self.blend_weights is not None:
            self._set("blend_weights", tuple(float(weight) for weight in self.blend_weights))
            if len(self.blend_weights) != len(self.style_images):
                raise BadInput(f"`blend_weights` gives {len(self.blend_weights)} weights "
                               f"for {len(self.style_images)} `style_images`; give one per "
                               f"style image.")
        if self.blend is not None and self.style:
            raise BadInput("`style` and `blend` cannot be combined; give one of them.")
        if self.normalize and self.blend is None:
            raise BadInput("`normalize` applies to the weights of a `blend` only.")
        if self.runtime is not None:
            check_choice("runtime", self.runtime, RUNTIMES)
            if self.xla and self.runtime not in ("auto", "tensorflow"):
                raise BadInput(f"`xla` compiles the network for TensorFlow; `runtime` "
                               f"{self.runtime} paints without it: give one of them.")

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def load(self):
        """The model this config names (`style_transfer.models.loading.load_model`)."""
        from style_transfer.models.loading import load_model

        return load_model(self.model, hub_encoder=self.hub_encoder)

    def check_model(self, model):
        """Refuses choices that the loaded `model` cannot paint: style images for a table of
        styles, styles or blends for an arbitrary-style model, an unknown style."""
        from style_transfer.models.style_names import style_index

        if _is_arbitrary(model):
            if self.style or self.blend is not None:
                raise BadInput("an arbitrary-style model paints with `style_images`, not with "
                               "`style` or `blend`.")
            if not self.style_images:
                raise BadInput("an arbitrary-style model paints with `style_images`: give at "
                               "least one.")
            return
        if self.style_images:
            raise BadInput("an arbitrary-style model (made by train-arbitrary) is needed for "
                           "`style_images`; this model has a table of styles: choose a "
                           "`style` or a `blend`.")
        for style in self.style:
            style_index(style, model.style_names)

    def conditions(self, model):
        """[(label, condition)]: one style condition per picture for a table model (every
        style if none is chosen), or the one blend of style images for an arbitrary one."""
        from style_transfer.models.style_names import style_index
        from style_transfer.painting import conditions

        self.check_model(model)
        if _is_arbitrary(model):
            from pathlib import Path

            stems = [Path(path).stem for path in self.style_images]
            return [(stems[0] if len(stems) == 1 else "blend", None)]
        names = model.style_names
        if self.blend is not None:
            weights = conditions.parse_blend(self.blend, names, normalize=self.normalize)
            return [(conditions.style_label(weights, names), weights)]
        indices = [style_index(style, names) for style in self.style] or range(len(names))
        return [(conditions.style_label(index, names), index) for index in indices]

    def painter(self, model, style=None):
        """paint(photo) -> painting, in `style` (a condition of `conditions`; default: the
        first) with this config's photo options (`style_transfer.painting.stylize.painter`)."""
        from style_transfer.base import images
        from style_transfer.painting import stylize

        self.check_model(model)
        if _is_arbitrary(model):
            return stylize.painter(
                model, style_images=[images.load_image(path) for path in self.style_images],
                blend_weights=self.blend_weights, strength=self.strength,
                preserve_color=self.preserve_color)
        if style is None:
            style = self.conditions(model)[0][1]
        self.prepare(model)
        return stylize.painter(model, style, strength=self.strength,
                               preserve_color=self.preserve_color)

    def prepare(self, model):
        """Sets up how `model` paints: XLA, and the runtime (see `runtime`)."""
        from style_transfer.models import runtimes
        from style_transfer.painting import stylize

        if self.xla:
            if getattr(model, "runner", None) is not None:
                raise BadInput("`xla` compiles a .keras model; this model is an exported file.")
            stylize.use_xla(model)
        stylize.use_runtime(model, self.runtime or runtimes.default_runtime(model))


@dataclasses.dataclass(frozen=True)
class StylizeConfig(PaintConfig):
    """`style-transfer stylize`: `PaintConfig`, spatial blends, figures and Magenta's hub model.

    Args:
        mask: A spatial blend: a label mask (value k -> the k-th of
            `mask_styles`) or, for two styles, a greyscale mask of soft weights.
        mask_styles: The styles of the mask's labels, in order.
        mask_mode: "composite": each style on the whole photo, mixed per pixel
            (regions exactly in their style); "network": per-pixel gamma/beta
            in one pass (shared statistics let regions drift). None: composite,
            or network for an export made with weight maps (it takes maps only).
        grid: One picture: the photo, each style and pairwise blends.
        contact_sheet: One picture: the photo and each style, labelled.
        engine: "network" (the model) or "magenta-hub" (Magenta's published
            TF Hub model, with one style image).
        hub_handle: With the magenta-hub engine: its URL or local folder.
    """

    mask: str = option(None, "spatial blend: a label mask (value k -> k-th of --mask-styles) "
                       "or, for two styles, a greyscale mask of soft weights",
                       metavar="MASK.png", type=str, group=_TRAINED_STYLES)
    mask_styles: str = option(None, "the styles of the mask's labels, in order",
                              metavar="A,B,...", type=str, group=_TRAINED_STYLES)
    mask_mode: str = option(
        None, "composite (the default; network for an export made with --weight-maps): each "
        "style on the whole photo, mixed per pixel (regions exactly in their style); network: "
        "per-pixel gamma/beta in one pass (faster; shared normalization statistics let regions "
        "drift)", choices=MASK_MODES, type=str,
        group=_TRAINED_STYLES)
    grid: bool = option(False, "one picture: the photo, each style and pairwise blends at 0, "
                        "0.25, 0.5, 0.75, 1", exclusive="figure", group=_TRAINED_STYLES)
    contact_sheet: bool = option(False, "one picture: the photo and each style (or each "
                                 "--style), labelled with its index and name, to choose from "
                                 "(photos downsized to 256 px unless --max-size)",
                                 exclusive="figure", group=_TRAINED_STYLES)
    engine: str = option(NETWORK_ENGINE, "'network': the --model file; 'magenta-hub': "
                         "Magenta's published TF Hub model (comparison; one style image, "
                         "strength 1; needs the hub extra)", choices=ENGINES,
                         group=_STYLE_IMAGES)
    hub_handle: str = option(None, "with --engine magenta-hub: its URL or local SavedModel "
                             "folder (default: its Kaggle Models URL, "
                             "arbitrary-image-stylization-v1/TensorFlow1/256/2)",
                             metavar="HANDLE", type=str, group=_STYLE_IMAGES)

    def __post_init__(self):
        super().__post_init__()
        check_flag("grid", self.grid)
        check_flag("contact_sheet", self.contact_sheet)
        if self.mask_mode is not None:
            check_choice("mask_mode", self.mask_mode, MASK_MODES)
        check_choice("engine", self.engine, ENGINES)
        figure = self.figure
        if self.grid and self.contact_sheet:
            raise BadInput("`grid` and `contact_sheet` are two figures; choose one.")
        if self.mask_styles and not self.mask:
            raise BadInput("`mask_styles` needs `mask`.")
        if self.mask_mode and not self.mask:
            raise BadInput("`mask_mode` needs `mask`.")
        if self.mask and (self.blend is not None or self.style or figure):
            raise BadInput("`mask` cannot be combined with `style`, `blend`, `grid` or "
                           "`contact_sheet`.")
        if self.blend is not None and figure:
            raise BadInput(f"`blend` cannot be combined with `{self.figure_field}`.")
        if figure and (self.strength != 1.0 or self.preserve_color):
            raise BadInput(f"`{self.figure_field}` shows the styles themselves; it takes no "
                           f"`strength` or `preserve_color`.")
        if self.engine == MAGENTA_ENGINE:
            table_options = [name for name in ("style", "blend", "normalize", "mask", "grid",
                                               "contact_sheet", "xla") if getattr(self, name)]
            if table_options:
                raise BadInput(f"`{table_options[0]}` does not apply to the magenta-hub "
                               f"`engine` (it paints with one of `style_images`).")
            if self.hub_encoder or self.blend_weights:
                raise BadInput("the magenta-hub `engine` takes one style image at full "
                               "strength; it takes no `hub_encoder` or `blend_weights`.")
            if self.strength != 1.0:
                raise BadInput("the magenta-hub `engine` paints at full strength only; it takes no "
                               "`strength`.")
            if len(self.style_images) != 1:
                raise BadInput("the magenta-hub `engine` takes exactly one of `style_images`.")
        elif self.hub_handle:
            raise BadInput("`hub_handle` applies to the magenta-hub `engine`; the encoder of a "
                           "model trained with a TF Hub encoder is given with `hub_encoder`.")

    @property
    def figure(self):
        """The figure asked for ("grid" or "contact sheet"), or None."""
        return "grid" if self.grid else "contact sheet" if self.contact_sheet else None

    @property
    def figure_field(self):
        return "grid" if self.grid else "contact_sheet"

    def check_model(self, model):
        super().check_model(model)
        if _is_arbitrary(model) and (self.mask or self.figure or self.xla):
            raise BadInput("`mask`, `grid`, `contact_sheet` and `xla` apply to a model of "
                           "trained styles; an arbitrary-style model paints with `style_images`.")


@dataclasses.dataclass(frozen=True)
class VideoConfig(PaintConfig):
    """`style-transfer video`: `PaintConfig` (one style, blend or set of style images) and
    flicker stabilization (`style_transfer.painting.stabilize`).

    Args:
        stabilize: "canvas" (each frame painted on a canvas that follows the
            camera, still pixels held, then blended with the previous output
            where optical flow is reliable), "flow" (the blend alone) or "none"
            (every frame alone; flickers).
        stabilize_weight: Weight of the warped previous frame, in [0, 1).
        batch_size: Frames painted per call of the network.
    """

    # One picture, so one style: the option stays repeatable only for its one-line refusal.
    style: tuple = option((), "a style, by name or index (one: a video is painted in one style "
                          "or one --blend)", action="append", metavar="NAME|INDEX",
                          group=_TRAINED_STYLES)
    stabilize: str = option("canvas", "canvas: paint each frame on a canvas that follows the "
                            "camera, hold still pixels, and blend with the previous frame where "
                            "optical flow is reliable; lookahead: canvas, then each still pixel "
                            "held steady knowing the next frames (steadier on a still camera; "
                            "files only, about a second of frames held back); flow: the blend "
                            "alone; none: every frame painted alone (flickers)",
                            choices=STABILIZE_METHODS)
    stabilize_weight: float = option(DEFAULT_STABILIZE_WEIGHT, "weight of the warped previous "
                                     "frame, in [0, 1)", metavar="W", minimum=0.0,
                                     maximum=1.0, maximum_excluded=True)
    batch_size: int = option(1, "frames painted per call of the network (decoding, "
                             "stabilizing and encoding run beside it either way)", metavar="N",
                             type=int, minimum=1, maximum=64)

    def __post_init__(self):
        super().__post_init__()
        check_choice("stabilize", self.stabilize, STABILIZE_METHODS)
        if len(self.style) > 1:
            raise BadInput("a video is painted in one `style` (or one `blend`); received "
                           f"{len(self.style)} styles.")

    def check_model(self, model):
        super().check_model(model)
        if not _is_arbitrary(model) and not self.style and self.blend is None:
            raise BadInput(f"choose a `style` or a `blend`; the model's styles are: "
                           f"{', '.join(model.style_names)}.")


def _is_arbitrary(model):
    return getattr(model, "embedding_dim", None) is not None and hasattr(model, "embed")
