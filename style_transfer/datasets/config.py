"""The settings of `style-transfer stylize-dataset`: one frozen dataclass, its fields the options.

    config = DatasetConfig(copies=2, seed=0, strength=(0.5, 1.0))
    stylize_dataset("photos/", "stylized/", config)      # style_transfer.datasets.pipeline

Each field's default is the Python API's and the command line's (its options are
generated from the fields, `style_transfer.cli.options`). Constructing a config checks
every value that does not depend on the model; `check_model` checks the rest.
Light: no TensorFlow, no Keras, no Beam.
"""

import dataclasses

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import (
    MAX_SEED,
    check_flag,
    check_integer,
    check_seed,
    option,
    parse_number,
)
from style_transfer.painting.config import DEFAULT_MODEL, MIN_PHOTO_PX

OUTPUT_FORMATS = ("png", "jpg", "webp")
# Copies of each image: a bound that keeps a typo (--copies 1000000) from filling a disk.
MAX_COPIES = 1000

_STYLES = "styles"
_PHOTO = "photo options"


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """How to stylize a dataset: the model, how each copy's style is drawn, the outputs.

    Every copy of every image gets its own style weights and strength, drawn from
    (`seed`, the image's path relative to the input, the copy's index), so that
    a run gives the same files whatever the order, the workers or the restarts.

    Args:
        model: A pretrained model's name or a `.keras` file with a table of styles.
        copies: Stylized copies of each image.
        seed: The seed of every draw.
        style: The styles to draw from, by name or index (default: all).
        blend: A fixed blend for every copy ("wave=0.7,scream=0.3") instead of draws.
        concentration: The Dirichlet concentration of the drawn blends of `style`;
            0 draws one style per copy (Geirhos et al. 2019).
        strength: From the photo (0) to the full style (1): a number, or a range
            "LOW,HIGH" drawn uniformly per copy.
        preserve_color: Keep the photos' colours (the painting's luminance only).
        max_size: Downsize photos whose long side is larger (None: full size).
        format: The outputs' format: png (lossless), jpg or webp (quality 95).
    """

    model: str = option(
        DEFAULT_MODEL, "a model of trained styles made by `train`, or the name of a pretrained "
        "one (`style-transfer pretrained list`)", metavar="MODEL.keras|NAME")
    copies: int = option(1, "stylized copies of each image", metavar="N", minimum=1)
    seed: int = option(0, "the seed of every draw: each copy's style comes from the seed, the "
                       "image's relative path and the copy's index", metavar="S", minimum=0,
                       maximum=MAX_SEED)
    style: tuple = option((), "a style to draw from, by name or index (repeat; default: all "
                          "the model's)", action="append", metavar="NAME|INDEX", group=_STYLES)
    blend: str = option(None, "one blend for every copy, e.g. 'wave=0.7,scream=0.3', instead "
                        "of drawn styles", metavar="A=W,B=W", type=str, once=True, group=_STYLES)
    concentration: float = option(
        0.0, "Dirichlet concentration of drawn blends of the styles: 0 draws one style per "
        "copy, 1 any blend uniformly, larger values blends near the equal one", metavar="C",
        minimum=0.0, group=_STYLES)
    strength: tuple = option(
        1.0, "how much of the style, from the photo (0) to the full style (1): S, or "
        "LOW,HIGH drawn uniformly per copy", metavar="S|LOW,HIGH", type=str, group=_PHOTO)
    preserve_color: bool = option(False, "keep the photos' colours and take only the "
                                  "luminance from the paintings", group=_PHOTO)
    max_size: int = option(None, "downsize photos whose long side is larger (default: full "
                           "size)", metavar="PX", type=int, minimum=MIN_PHOTO_PX, group=_PHOTO)
    format: str = option("png", "the outputs' format (png is lossless)", choices=OUTPUT_FORMATS)

    def __post_init__(self):
        self._set("copies", check_integer("copies", self.copies, 1))
        if self.copies > MAX_COPIES:
            raise BadInput(f"`copies` must be at most {MAX_COPIES}; received {self.copies}.")
        self._set("seed", check_seed("seed", self.seed))
        style = (self.style,) if isinstance(self.style, (str, int)) else (self.style or ())
        self._set("style", tuple(str(item) for item in style))
        if self.blend is not None and self.style:
            raise BadInput("`style` and `blend` cannot be combined: a `blend` is every copy's "
                           "style; `style` the styles the copies are drawn from.")
        concentration = self.concentration
        if (isinstance(concentration, bool) or not isinstance(concentration, (int, float))
                or not 0.0 <= concentration < float("inf")):
            raise BadInput(f"`concentration` must be a finite number >= 0 (0: one style per "
                           f"copy); received {concentration!r}.")
        self._set("concentration", float(concentration))
        self._set("strength", _strength_range(self.strength))
        check_flag("preserve_color", self.preserve_color)
        if self.max_size is not None:
            self._set("max_size", check_integer("max_size", self.max_size, MIN_PHOTO_PX))
        if self.format not in OUTPUT_FORMATS:
            raise BadInput(f"`format` must be one of {', '.join(OUTPUT_FORMATS)}; received "
                           f"{self.format!r}.")

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def style_indices(self, style_names):
        """The indices of the styles drawn from (every style if none is chosen).

        Raises:
            BadInput: an unknown style.
        """
        from style_transfer.models.style_names import style_index

        if not self.style:
            return list(range(len(style_names)))
        return sorted({style_index(style, style_names) for style in self.style})

    def settings(self):
        """The settings that decide the outputs, as JSON (recorded in the output folder: a
        run resumes only with the same ones)."""
        return {**dataclasses.asdict(self), "style": list(self.style),
                "strength": list(self.strength)}


def _strength_range(strength):
    """(low, high) in [0, 1] from a number, a pair, or the text "S" or "LOW,HIGH"."""
    if isinstance(strength, str):
        parts = [parse_number(part, "a `strength`") for part in strength.split(",")]
    elif isinstance(strength, (int, float)) and not isinstance(strength, bool):
        parts = [strength]
    else:
        parts = list(strength)
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(isinstance(part, bool) or not isinstance(part, (int, float))
                              for part in parts):
        raise BadInput(f"`strength` must be a number or a range LOW,HIGH; received "
                       f"{strength!r}.")
    low, high = (float(part) for part in parts)
    if not 0.0 <= low <= high <= 1.0:
        raise BadInput(f"`strength` must be in [0, 1] (0: the photo, 1: the full style), "
                       f"a range with LOW <= HIGH; received {strength!r}.")
    return low, high
