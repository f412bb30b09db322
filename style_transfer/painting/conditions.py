"""Style conditions: what a user asks for, as the weights the network consumes.

- a style (a name or an index) is a one-hot weight vector (num_styles,);
- a blend ("wave=0.7,scream=0.3") is a convex weight vector (num_styles,);
- a spatial blend is a weight map (height, width, num_styles), made from a
  mask by `mask_to_weight_map` (what the network takes), or the mask's styles and
  their weights (height, width, styles used) by `mask_region_weights` (what a
  composite takes: as many planes as the mask uses styles, not the model's all);
- painted regions, each in its own condition, are convex region weights
  (height, width, num_regions) from a label image (`region_weights`).

Everything here is checked before any picture is made; a bad condition is a
`BadInput` naming what was wrong and what is expected.
"""

import hashlib
import re

import numpy as np
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import parse_number
from style_transfer.models.style_names import style_index

# Weights that should be convex may miss by this much (rounding in "0.33,0.33,0.34").
WEIGHT_TOLERANCE = 1e-3
# Masks with values all below this are label masks; above, greyscale weights.
MAX_LABELS = 16
# Labels name files: a longer one (a blend of many styles) is cut and told apart by a digest.
MAX_LABEL_BYTES = 96


def parse_blend(text, style_names, normalize=False):
    """Parses "wave=0.7,scream=0.3" (names or indices) into a weight vector (num_styles,).

    Args:
        text: Comma-separated `style=weight` pairs; a style named twice adds up.
        style_names: The model's style names.
        normalize: Divide the weights by their sum instead of requiring that
            they sum to 1.

    Returns:
        float32 array (num_styles,), non-negative, summing to 1.

    Raises:
        BadInput: a malformed pair, an unknown style, or weights that are not
            convex (see `check_weights`).
    """
    weights = np.zeros(len(style_names), dtype=np.float64)
    pairs = [pair for pair in str(text).split(",") if pair.strip()]
    if not pairs:
        raise BadInput(f"a `blend` needs style=weight pairs such as 'a=0.7,b=0.3'; received "
                       f"{text!r}.")
    for pair in pairs:
        if "=" not in pair:
            raise BadInput(f"a `blend` takes style=weight pairs; {pair.strip()!r} has no '='.")
        style, value = pair.rsplit("=", 1)
        weight = parse_number(value, f"the `blend` weight of {style.strip()!r}")
        weights[style_index(style, style_names)] += weight
    return check_weights(weights, normalize=normalize)


def check_weights(weights, normalize=False):
    """Validates a convex weight vector (..., num_styles); returns it as float32.

    Raises:
        BadInput: NaN or infinite, negative, a zero sum, or (unless `normalize`)
            a sum other than 1.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(weights)):
        raise BadInput("style weights must be finite numbers; received NaN or infinity.")
    if weights.size and weights.min() < 0:
        raise BadInput(f"style weights must be non-negative; received {weights.min():g}.")
    if weights.size == 0 or np.any(weights.max(axis=-1) <= 0):
        raise BadInput("style weights must not all be zero.")
    with np.errstate(over="ignore"):  # An overflowing sum is refused below as not 1.
        totals = weights.sum(axis=-1, keepdims=True)
    if normalize:
        # Divided by the largest first: weights near the largest float overflow their sum.
        weights = weights / weights.max(axis=-1, keepdims=True)
        weights = weights / weights.sum(axis=-1, keepdims=True)
    elif np.abs(totals - 1).max() > WEIGHT_TOLERANCE:
        worst = totals.flat[np.abs(totals - 1).argmax()]
        raise BadInput(
            f"style weights must sum to 1; received a sum of {worst:g} "
            f"(`normalize` divides them by their sum)."
        )
    return weights.astype(np.float32)


def style_weights(style, style_names, normalize=False):
    """The weight vector (num_styles,) of any style condition.

    Args:
        style: A style name or index (one-hot), a blend string
            ("wave=0.7,scream=0.3"), a dict {name or index: weight}, or a
            weight vector (num_styles,).
        style_names: The model's style names.
        normalize: Divide blend weights by their sum.

    Returns:
        float32 array (num_styles,).
    """
    num_styles = len(style_names)
    if isinstance(style, dict):
        text = ",".join(f"{key}={value}" for key, value in style.items())
        return parse_blend(text, style_names, normalize=normalize)
    if isinstance(style, str) and "=" in style:
        return parse_blend(style, style_names, normalize=normalize)
    if isinstance(style, (str, int, np.integer)):
        weights = np.zeros(num_styles, dtype=np.float32)
        weights[style_index(style, style_names)] = 1.0
        return weights
    weights = np.asarray(style, dtype=np.float32)
    if weights.shape != (num_styles,):
        raise BadInput(
            f"a style weight vector must have shape ({num_styles},); received {weights.shape}."
        )
    return check_weights(weights, normalize=normalize)


def mask_to_weight_map(mask, num_styles, mask_style_ids, size):
    """Turns a mask into a convex weight map (height, width, num_styles) for a spatial blend.

    Two kinds of masks:
    - a label mask: pixel value k (or palette index k) paints the k-th style of
      `mask_style_ids`; every value must be in [0, len(mask_style_ids));
    - a greyscale mask for exactly two styles: value v in [0, 255] gives weight
      1 - v/255 to the first and v/255 to the second (soft edges, gradients); in a
      16-bit mask, v in [0, 65535] gives v/65535.
    A mask whose values are all below `MAX_LABELS` (small integers), or below the
    number of `mask_style_ids` when more than 2 are given, is a label mask; a
    greyscale mask must reach above that.
    The weights are resized to `size` bilinearly (a convex combination, so the
    map stays convex; label borders become a soft transition a few pixels wide).

    Args:
        mask: PIL image, 2-D array, or (H, W, 3) array with equal channels.
        num_styles: The model's number of styles.
        mask_style_ids: Style indices, one per label.
        size: (height, width) of the photo.

    Returns:
        float32 array (height, width, num_styles).

    Raises:
        BadInput: labels that do not match `mask_style_ids`.
    """
    ids, resized = _mask_planes(mask, num_styles, mask_style_ids, size)
    height, width = size
    weight_map = np.zeros((height, width, num_styles), dtype=np.float32)
    for k, index in enumerate(ids):
        weight_map[..., index] += resized[..., k]
    return weight_map


def mask_region_weights(mask, num_styles, mask_style_ids, size):
    """A mask as the styles it paints and their weights: `mask_to_weight_map`'s planes
    of the styles used, and only those.

    What `stylize.composite` takes: a model of 26 styles and a mask of 2 make
    weights (height, width, 2), where the weight map is (height, width, 26). The
    planes are the weight map's, bit for bit (a style listed for two labels adds
    them up as there), in the order of the style indices, without the styles of
    labels the mask does not use (weight 0 everywhere).

    Args:
        mask: PIL image, 2-D array, or (H, W, 3) array with equal channels (the
            kinds of masks of `mask_to_weight_map`).
        num_styles: The model's number of styles.
        mask_style_ids: Style indices, one per label.
        size: (height, width) of the photo.

    Returns:
        (styles, weights): the style indices used, increasing, and a float32 array
        (height, width, len(styles)), convex per pixel.

    Raises:
        BadInput: as `mask_to_weight_map`.
    """
    ids, resized = _mask_planes(mask, num_styles, mask_style_ids, size)
    height, width = size
    styles, planes = [], []
    for index in sorted(set(ids)):
        plane = np.zeros((height, width), dtype=np.float32)
        for k in (k for k, listed in enumerate(ids) if listed == index):
            plane += resized[..., k]
        if plane.max() > 0:
            styles.append(index)
            planes.append(plane)
    return styles, np.stack(planes, axis=-1)


def _mask_planes(mask, num_styles, mask_style_ids, size):
    """(style ids, one weight plane per label resized to `size`, (height, width, labels))."""
    values, white = _mask_values(mask)
    ids = [int(index) for index in mask_style_ids]
    if not ids:
        raise BadInput("`mask_styles` must list at least one style.")
    bad = [index for index in ids if not 0 <= index < num_styles]
    if bad:
        raise BadInput(f"mask style index {bad[0]} is out of range for {num_styles} styles.")
    labels = np.unique(values)
    # With more than MAX_LABELS styles, labels up to their number are labels (a greyscale
    # mask takes 2 styles).
    is_label_mask = (labels.max() < max(MAX_LABELS, len(ids))
                     and np.all(labels == np.round(labels)))
    if is_label_mask and labels.max() < len(ids):
        per_label = np.stack([(values == label).astype(np.float32) for label in range(len(ids))], -1)
    elif not is_label_mask and len(ids) == 2:
        second = np.clip(values.astype(np.float32) / white, 0.0, 1.0)
        per_label = np.stack([1.0 - second, second], axis=-1)
    else:
        shown = ", ".join(str(int(label)) for label in labels[:8]) + (", ..." if len(labels) > 8 else "")
        raise BadInput(
            f"the mask's labels ({shown}) do not match `mask_styles`, which lists "
            f"{len(ids)} styles (labels 0 to {len(ids) - 1}); a greyscale mask needs "
            f"exactly 2 styles."
        )
    return ids, _resize_convex(per_label, size)


def region_weights(labels, num_regions, size, soft_edge_px=0.0):
    """Painted regions as convex weights per pixel (height, width, num_regions), soft-edged.

    What a brush paints: a label image whose value k marks region k (0 is
    usually "everything not painted"). Each region becomes a plane that is 1
    inside it and 0 elsewhere; the planes are blurred (a Gaussian of standard
    deviation `soft_edge_px`, in the label image's pixels), resized bilinearly
    to `size` and divided by their sum, so every pixel's weights stay convex
    and the border between two regions is a gradual transition.

    Args:
        labels: 2-D integer array, values in [0, num_regions).
        num_regions: Number of regions (planes of the result).
        size: (height, width) of the photo.
        soft_edge_px: Softness of the borders; 0 leaves only the few pixels
            of transition that resizing makes.

    Returns:
        float32 array (height, width, num_regions).

    Raises:
        BadInput: not a 2-D label image, a label outside [0, num_regions), or
            a negative softness.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise BadInput(f"region labels must be a 2-D integer image; received {labels.dtype} "
                       f"of shape {labels.shape}.")
    if labels.min() < 0 or labels.max() >= num_regions:
        raise BadInput(f"region labels must be in [0, {num_regions}); received values "
                       f"{labels.min()} to {labels.max()}.")
    if not soft_edge_px >= 0:
        raise BadInput(f"the soft edge must be >= 0 pixels; received {soft_edge_px!r}.")
    planes = np.stack([(labels == region).astype(np.float32) for region in range(num_regions)],
                      axis=-1)
    if soft_edge_px > 0:
        from scipy.ndimage import gaussian_filter

        planes = gaussian_filter(planes, sigma=(soft_edge_px, soft_edge_px, 0), mode="nearest")
    return _resize_convex(planes, size)


def _resize_convex(planes, size):
    """Weight planes (h, w, K) resized bilinearly to `size` and made convex per pixel."""
    height, width = size
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(planes[..., k]), "F").resize(
                    (width, height), Image.Resampling.BILINEAR)
            )
            for k in range(planes.shape[-1])
        ],
        axis=-1,
    )
    resized = np.clip(resized, 0.0, None)
    resized /= np.maximum(resized.sum(axis=-1, keepdims=True), 1e-12)
    return resized


def _mask_values(mask):
    """The mask's values (H, W) and the value of white (255, or 65535 in 16 bits)."""
    if isinstance(mask, Image.Image):
        if mask.mode in ("P", "L", "1"):
            return np.asarray(mask).astype(np.int64), 255
        if mask.mode == "I" or mask.mode.startswith("I;16"):
            # 16-bit greyscale (Pillow reads 16-bit PNG and TIFF files as "I;16" or "I").
            return np.asarray(mask).astype(np.int64), 65535
        mask = np.asarray(mask.convert("RGB"))
    values = np.asarray(mask)
    white = 65535 if values.dtype == np.uint16 else 255
    if values.ndim == 3:
        if values.shape[-1] == 4:
            values = values[..., :3]
        if not np.all(values == values[..., :1]):
            raise BadInput(
                "the mask must be greyscale or a label image (one value per pixel); "
                "received a colour image."
            )
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0:
        raise BadInput(f"the mask must be a 2-D image; received shape {values.shape}.")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise BadInput("mask values must be non-negative labels or grey levels.")
    return values, white


def style_label(style, style_names):
    """A short file-name-safe label: "wave", "wave0.7+scream0.3" (letters of any script
    kept: "波", "café"); past `MAX_LABEL_BYTES`, its start and a digest of the whole."""
    weights = style_weights(style, style_names, normalize=True)
    used = [(style_names[index], float(weights[index])) for index in np.flatnonzero(weights)]
    if len(used) == 1:
        label = _safe_name(used[0][0])
    else:
        label = "+".join(f"{_safe_name(name)}{weight:.3g}" for name, weight in used)
    return shortened_label(label)


def shortened_label(label):
    """`label` if it has at most `MAX_LABEL_BYTES`, else its start and a digest of it."""
    if len(label.encode()) <= MAX_LABEL_BYTES:
        return label
    digest = "-" + hashlib.sha256(label.encode()).hexdigest()[:8]
    while len(label.encode()) > MAX_LABEL_BYTES - len(digest):
        label = label[:-1]
    return label + digest


def _safe_name(name):
    # \w is any script's letters and digits: a name in Chinese or Greek stays itself (else
    # every such style would be "style", and two of them one file).
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "style"
