"""What the page asks for, as calls of the Python API.

A request (`PaintRequest`) names a model by its position in the server's list,
gives the sliders' blend weights, the style of each painted region, the soft
edge and the photo options. `paint` turns it into one style condition per
region (the unpainted part takes the sliders' blend) and paints them as
`stylize.composite` does: each condition on the whole photo, mixed per pixel
with soft edges, so every region is exactly its style. A model with a table of
styles conditions on its styles; an arbitrary-style model on the visitor's
style images (their embeddings, blended).
"""

import dataclasses
import math
import threading

import numpy as np

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.settings import field_default, shown_value
from style_transfer.painting import conditions, stylize
from style_transfer.painting.config import PaintConfig

# The photo the style thumbnails are painted on (bundled with scikit-image), and their size.
THUMBNAIL_PHOTO = "chelsea"
THUMBNAIL_PX = 96
# The photos a visitor can pick without uploading one (bundled with scikit-image).
BUNDLED_PHOTOS = ("chelsea", "astronaut", "coffee")
MAX_SOFT_EDGE_PX = 32.0
# Integers of a request (a model's or a style's position) beyond this are refused as such.
MAX_INTEGER = 2**31 - 1
# Style images are kept as centred squares of this side (the model resizes them to its own).
STYLE_IMAGE_PX = 256


class ServedModel:
    """A model the server was started with: a table of styles or an arbitrary-style model."""

    def __init__(self, name, model):
        from style_transfer.models.arbitrary import ArbitraryStyleModel

        self.name = name
        self.model = model
        self.arbitrary = isinstance(model, ArbitraryStyleModel)
        self._thumbnails = None
        self._lock = threading.Lock()

    def describe(self):
        """What the page shows of the model (JSON)."""
        return {
            "name": self.name,
            "kind": "arbitrary" if self.arbitrary else "table",
            "styles": [] if self.arbitrary else list(self.model.style_names),
        }

    def thumbnail(self, style):
        """PNG bytes of a bundled photo painted in style `style` (painted once, kept)."""
        if self.arbitrary:
            raise BadInput(f"{self.name} paints with style images; it has no styles of its own.")
        with self._lock:
            if self._thumbnails is None:
                photo = images.resize_long_side(images.sample_photo(THUMBNAIL_PHOTO), THUMBNAIL_PX)
                pictures = stylize.stylize_many(self.model, photo, range(self.model.num_styles))
                self._thumbnails = [images.image_bytes(picture) for picture in pictures]
        if not 0 <= style < len(self._thumbnails):
            raise BadInput(f"{self.name} has styles 0 to {len(self._thumbnails) - 1}; "
                           f"received {style}.")
        return self._thumbnails[style]

    def warm_up(self):
        """Paints a tiny picture, so that the first preview does not wait for tracing."""
        if not self.arbitrary:
            stylize.stylize(self.model, np.zeros((16, 16, 3), np.float32), 0)


@dataclasses.dataclass(frozen=True)
class PaintRequest:
    """A page's request, checked (see `parse`).

    Args:
        model: Position of the model in the server's list.
        weights: The sliders' values, one per style (or style image); the
            blend is their share of the sum.
        regions: The style (or style image) of each painted region: region k
            (label k of the painted mask) is `regions[k - 1]`.
        soft_edge_px: Softness of the regions' borders, in preview pixels.
        strength, preserve_color: The photo options (`stylize.stylize`).
    """

    model: int
    weights: tuple
    regions: tuple = ()
    soft_edge_px: float = 4.0
    strength: float = field_default(PaintConfig, "strength")
    preserve_color: bool = field_default(PaintConfig, "preserve_color")

    @classmethod
    def parse(cls, body, num_models, max_regions):
        """A `PaintRequest` from the page's JSON object; `BadInput` naming what is wrong."""
        if not isinstance(body, dict):
            raise BadInput("the request must be a JSON object.")
        unknown = set(body) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise BadInput(f"unknown request fields: {', '.join(sorted(unknown))}.")
        model = _integer(body.get("model"), "model")
        if not 0 <= model < num_models:
            raise BadInput(f"model must be 0 to {num_models - 1}; received {model}.")
        weights = body.get("weights")
        if not isinstance(weights, list) or not weights:
            raise BadInput("weights must be a list of numbers, one per style.")
        regions = body.get("regions", [])
        if not isinstance(regions, list) or len(regions) > max_regions:
            raise BadInput(f"regions must be a list of at most {max_regions} styles.")
        soft_edge = _number(body.get("soft_edge_px", cls.soft_edge_px), "soft_edge_px")
        if not 0 <= soft_edge <= MAX_SOFT_EDGE_PX:
            raise BadInput(f"soft_edge_px must be in [0, {MAX_SOFT_EDGE_PX:g}]; received "
                           f"{soft_edge:g}.")
        # The photo options are checked as every painting command checks them.
        photo_options = PaintConfig(strength=_number(body.get("strength", cls.strength),
                                                     "strength"),
                                    preserve_color=body.get("preserve_color", cls.preserve_color))
        return cls(
            model=model,
            weights=tuple(_number(weight, "a weight") for weight in weights),
            regions=tuple(_integer(style, "a region's style") for style in regions),
            soft_edge_px=soft_edge,
            strength=photo_options.strength,
            preserve_color=photo_options.preserve_color,
        )


def paint(served, photo, labels, request, style_images=(), embeddings=None, progress=None,
          cache=None, shift_back=None):
    """Paints `photo` as `request` asks.

    Args:
        served: The `ServedModel`.
        photo: float32 (H, W, 3) in [0, 1].
        labels: The painted regions, uint8 (h, w) at the preview's size (0 is
            unpainted), or None.
        request: A `PaintRequest`.
        style_images: The visitor's style images (arbitrary-style models).
        embeddings: Their embeddings if already computed, else None.
        progress: `progress(fraction)` as the painting advances.
        cache: A `sessions.PictureCache` of this photo's pictures, or None:
            conditions painted before (with the same photo options) are not
            painted again.
        shift_back: For a camera frame painted on a stabilizer's canvas (the
            photo): its `FrameMotion.from_canvas`, applied to each condition's
            picture before the regions, drawn on the frame, are mixed.

    Returns:
        (picture float32 (H, W, 3) in [0, 1], embeddings used or None).

    Raises:
        BadInput: weights that are not one per style or not a blend, a region
            style the model does not have, regions painted without a style.
    """
    num_styles = len(style_images) if served.arbitrary else served.model.num_styles
    if served.arbitrary and not style_images:
        raise BadInput(f"{served.name} paints with style images: add one first.")
    if len(request.weights) != num_styles:
        raise BadInput(f"weights must give one value per style ({num_styles}); received "
                       f"{len(request.weights)}.")
    blend = conditions.check_weights(request.weights, normalize=True)
    for style in request.regions:
        if not 0 <= style < num_styles:
            raise BadInput(f"a region's style must be 0 to {num_styles - 1}; received {style}.")
    styles = [blend] + [_one_hot(style, num_styles) for style in request.regions]
    region_weights = None
    if labels is not None and labels.max() > 0:
        if labels.max() > len(request.regions):
            raise BadInput(f"region {int(labels.max())} is painted but only "
                           f"{len(request.regions)} regions have a style.")
        # Blurred at the labels' own (preview) size, then resized: the full-size
        # picture has the soft edges the preview showed.
        region_weights = conditions.region_weights(labels, len(styles), photo.shape[:2],
                                                   request.soft_edge_px)
        used = [index for index in range(len(styles)) if region_weights[..., index].max() > 0]
        styles, region_weights = [styles[index] for index in used], region_weights[..., used]
    else:
        styles = styles[:1]

    keys = [(request.model, style.tobytes(), request.strength, request.preserve_color)
            for style in styles]
    pictures = [None if cache is None else cache.get(key) for key in keys]
    missing = [index for index, picture in enumerate(pictures) if picture is None]

    def report(done, total):
        if progress is not None:
            progress(done / total)

    painted = []
    if missing and served.arbitrary:
        painted, embeddings = _paint_arbitrary(served.model, photo,
                                               [styles[index] for index in missing], request,
                                               style_images, embeddings, report)
    elif missing:
        painted = stylize.stylize_many(served.model, photo, [styles[index] for index in missing],
                                       strength=request.strength,
                                       preserve_color=request.preserve_color, progress=report)
    for index, picture in zip(missing, painted):
        pictures[index] = picture
        if cache is not None:
            cache.put(keys[index], picture)
    if shift_back is not None:
        pictures = [shift_back(picture) for picture in pictures]
    # As `stylize.composite` mixes them: each region exactly its condition, soft edges.
    picture = pictures[0] if region_weights is None else stylize.mix_regions(pictures,
                                                                             region_weights)
    return picture, embeddings if served.arbitrary else None


def _paint_arbitrary(model, photo, styles, request, style_images, embeddings, report):
    """One picture per blend of the style images' embeddings; (pictures, embeddings)."""
    from style_transfer.models import arbitrary
    from style_transfer.painting.arbitrary_styles import paint_with_embedding

    strength = request.strength
    if embeddings is None:
        embeddings = arbitrary.style_embeddings(model, style_images)
    pictures = []
    for done, weights in enumerate(styles, start=1):
        embedding = arbitrary.blend_embeddings(embeddings, weights)
        embedding = arbitrary.toward_photo_embedding(model, photo, embedding, strength)
        pictures.append(paint_with_embedding(model, photo, embedding, request.preserve_color))
        report(done, len(styles))
    return pictures, embeddings


def labels_from_bytes(data, size):
    """The painted regions the page sends: one byte per preview pixel, row by row."""
    height, width = size
    if len(data) != height * width:
        raise BadInput(f"the painted regions must be {width} x {height} = {width * height} "
                       f"bytes (one label per preview pixel); received {len(data)}.")
    return np.frombuffer(data, np.uint8).reshape(height, width).copy()


def _one_hot(index, size):
    weights = np.zeros(size, np.float32)
    weights[index] = 1.0
    return weights


def _number(value, name):
    try:
        number = float(value) if isinstance(value, (int, float)) else math.nan
    except OverflowError:  # An integer of hundreds of digits.
        number = math.inf
    if isinstance(value, bool) or not math.isfinite(number):
        raise BadInput(f"{name} must be a finite number; received {shown_value(value)}.")
    return number


def _integer(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
        raise BadInput(f"{name} must be an integer from {-MAX_INTEGER} to {MAX_INTEGER}; "
                       f"received {shown_value(value)}.")
    return value

