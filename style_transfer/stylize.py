"""Stylizing photos with a trained model: single styles, convex blends, spatial blends, grids.

Every style condition is reduced to what the network consumes:

- a style (a name or an index) is a one-hot weight vector (num_styles,);
- a blend ("wave=0.7,scream=0.3") is a convex weight vector (num_styles,);
- a spatial blend is a weight map (height, width, num_styles), made from a
  mask by `mask_to_weight_map`.

The network runs through one compiled `tf.function` per model (input shapes
with `None` height, width and batch, so new sizes do not retrace), in float32
without XLA unless `use_xla` asks for it. Measured on a 2-core CPU (BENCHMARKS.md,
"Stylize speed and memory"): XLA is 10-20% faster per picture but compiles again,
about 5 s, for every new size; bfloat16 changes pixels by more than 1/255 on average (and that CPU has no
bfloat16 instructions); batching pictures of 256 px and more was not faster per picture
beyond the run-to-run spread.

The command line (`style-transfer stylize`), the notebooks and the tests all
use these functions.
"""

import itertools
import math
import re
import weakref

import numpy as np
from PIL import Image, ImageDraw

from style_transfer.errors import BadInput

# Weights that should be convex may miss by this much (rounding in "0.33,0.33,0.34").
WEIGHT_TOLERANCE = 1e-3
# Pixels per call of the network (batch x height x width). On the 2-core CPU of
# BENCHMARKS.md a batch of 8 pictures of 256 px took longer per picture than 8
# calls, so only thumbnails smaller than 256x256 share a call.
DEFAULT_BATCH_PIXELS = 256 * 256
# The interpolation figure of Dumoulin et al.: each pair of styles at these weights.
GRID_BLEND_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Larger pictures run in overlapping tiles: TensorFlow's CPU convolution builds an
# im2col buffer of height x width x 9 x 64 floats for the last upsampling conv
# (27.6 GB at 12 megapixels, more than the machine has).
TILE_ABOVE_PIXELS = 2048 * 2048
TILE_PX = 1024
TILE_OVERLAP_PX = 64
# Masks with values all below this are label masks; above, greyscale weights.
MAX_LABELS = 16

_compiled_functions = weakref.WeakKeyDictionary()
_xla_models = weakref.WeakSet()


# --------------------------------------------------------------- style conditions


def style_index(style, style_names):
    """The index of a style given by name or index (an int or a string of digits).

    Raises:
        BadInput: an unknown name (the message lists the available ones) or an
            index outside [0, num_styles).
    """
    num_styles = len(style_names)
    if isinstance(style, (int, np.integer)) or (isinstance(style, str) and style.strip().isdigit()):
        index = int(style)
        if not 0 <= index < num_styles:
            raise BadInput(
                f"style index {index} is out of range: the model has {num_styles} styles "
                f"(0 to {num_styles - 1})."
            )
        return index
    name = str(style).strip()
    if name in style_names:
        return list(style_names).index(name)
    raise BadInput(
        f"unknown style {name!r}; the model's styles are: {', '.join(style_names)}."
    )


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
        raise BadInput(f"--blend needs style=weight pairs such as 'a=0.7,b=0.3'; received {text!r}.")
    for pair in pairs:
        if "=" not in pair:
            raise BadInput(f"--blend takes style=weight pairs; {pair.strip()!r} has no '='.")
        style, value = pair.rsplit("=", 1)
        try:
            weight = float(value)
        except ValueError:
            raise BadInput(f"--blend weight of {style.strip()!r} is not a number: {value.strip()!r}.") from None
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
    totals = weights.sum(axis=-1, keepdims=True)
    if np.any(totals <= 0):
        raise BadInput("style weights must not all be zero.")
    if normalize:
        weights = weights / totals
    elif np.abs(totals - 1).max() > WEIGHT_TOLERANCE:
        worst = totals.flat[np.abs(totals - 1).argmax()]
        raise BadInput(
            f"style weights must sum to 1; received a sum of {worst:g} "
            f"(pass --normalize to divide them by their sum)."
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


def style_label(style, style_names):
    """A short file-name-safe label: "wave", "wave0.7+scream0.3"."""
    weights = style_weights(style, style_names, normalize=True)
    used = [(style_names[index], float(weights[index])) for index in np.flatnonzero(weights)]
    if len(used) == 1:
        return _safe_name(used[0][0])
    return "+".join(f"{_safe_name(name)}{weight:.3g}" for name, weight in used)


def _safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "style"


# --------------------------------------------------------------------- masks


def mask_to_weight_map(mask, num_styles, mask_style_ids, size):
    """Turns a mask into a convex weight map (height, width, num_styles) for a spatial blend.

    Two kinds of masks:
    - a label mask: pixel value k (or palette index k) paints the k-th style of
      `mask_style_ids`; every value must be in [0, len(mask_style_ids));
    - a greyscale mask for exactly two styles: value v in [0, 255] gives weight
      1 - v/255 to the first and v/255 to the second (soft edges, gradients).
    A mask whose values are all below `MAX_LABELS` (small integers) is a label
    mask; a greyscale mask must reach above that.
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
    values = _mask_values(mask)
    ids = [int(index) for index in mask_style_ids]
    if not ids:
        raise BadInput("--mask-styles must list at least one style.")
    bad = [index for index in ids if not 0 <= index < num_styles]
    if bad:
        raise BadInput(f"mask style index {bad[0]} is out of range for {num_styles} styles.")
    labels = np.unique(values)
    is_label_mask = labels.max() < MAX_LABELS and np.all(labels == np.round(labels))
    if is_label_mask and labels.max() < len(ids):
        per_label = np.stack([(values == label).astype(np.float32) for label in range(len(ids))], -1)
    elif not is_label_mask and len(ids) == 2:
        second = np.clip(values.astype(np.float32) / 255.0, 0.0, 1.0)
        per_label = np.stack([1.0 - second, second], axis=-1)
    else:
        shown = ", ".join(str(int(label)) for label in labels[:8]) + (", ..." if len(labels) > 8 else "")
        raise BadInput(
            f"the mask's labels ({shown}) do not match --mask-styles, which lists "
            f"{len(ids)} styles (labels 0 to {len(ids) - 1}); a greyscale mask needs "
            f"exactly 2 styles."
        )
    height, width = size
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(per_label[..., k], "F").resize((width, height), Image.Resampling.BILINEAR)
            )
            for k in range(len(ids))
        ],
        axis=-1,
    )
    resized = np.clip(resized, 0.0, None)
    resized /= np.maximum(resized.sum(axis=-1, keepdims=True), 1e-12)
    weight_map = np.zeros((height, width, num_styles), dtype=np.float32)
    for k, index in enumerate(ids):
        weight_map[..., index] += resized[..., k]
    return weight_map


def _mask_values(mask):
    if isinstance(mask, Image.Image):
        if mask.mode in ("P", "L", "I", "I;16", "1"):
            return np.asarray(mask).astype(np.int64)
        mask = np.asarray(mask.convert("RGB"))
    values = np.asarray(mask)
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
    return values


# ------------------------------------------------------------- running the net


def compiled_network(model):
    """The model as two compiled functions (cached per model).

    Returns:
        dict with "vector": f(images (B, H, W, 3), weights (B, N)) and "map":
        f(images, weight maps (B, H, W, N)), each returning (B, H, W, 3) float32.
        Batch, height and width are `None` in the signatures: any size reuses
        the same graph (with `use_xla`, XLA compiles once per size).
    """
    functions = _compiled_functions.get(model)
    if functions is None:
        import tensorflow as tf

        num_styles = model.num_styles
        images_spec = tf.TensorSpec((None, None, None, 3), tf.float32)
        jit_compile = model in _xla_models

        @tf.function(
            input_signature=[images_spec, tf.TensorSpec((None, num_styles), tf.float32)],
            jit_compile=jit_compile,
        )
        def with_vectors(images, weights):
            return model(images, weights)

        @tf.function(
            input_signature=[images_spec, tf.TensorSpec((None, None, None, num_styles), tf.float32)],
            jit_compile=jit_compile,
        )
        def with_maps(images, weight_maps):
            return model(images, weight_maps)

        functions = {"vector": with_vectors, "map": with_maps}
        _compiled_functions[model] = functions
    return functions


def use_xla(model, enabled=True):
    """Runs the model's network through XLA (`jit_compile=True`) from now on.

    XLA fuses the normalizations, activations and padding into few passes over
    memory: 10-20% less time per picture on the 2-core CPU of BENCHMARKS.md,
    but each new picture size costs a compilation of about 5 seconds. Worth it
    for many pictures of one size (video frames, the tiles of large photos);
    not for a few photos of different sizes, hence off by default.
    """
    if enabled:
        _xla_models.add(model)
    else:
        _xla_models.discard(model)
    _compiled_functions.pop(model, None)


def run_network(model, images, weights, batch_pixels=DEFAULT_BATCH_PIXELS):
    """Stylizes a batch: images (B, H, W, 3) with weights (B, N) or weight maps (B, H, W, N).

    The batch is split into calls of at most `batch_pixels` pixels (at least
    one picture each); pictures of more than `TILE_ABOVE_PIXELS` run in
    overlapping tiles of `TILE_PX`. Weights are used as given (validate them
    first with `check_weights`).

    Returns:
        float32 array (B, H, W, 3) in [0, 1].
    """
    images = np.asarray(images, dtype=np.float32)
    weights = np.asarray(weights, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise BadInput(f"images must have shape (batch, height, width, 3); received {images.shape}.")
    if len(weights) != len(images):
        raise BadInput(f"{len(images)} images but {len(weights)} style weights.")
    function = compiled_network(model)["map" if weights.ndim == 4 else "vector"]
    height, width = images.shape[1:3]
    if height * width > TILE_ABOVE_PIXELS:
        return np.stack([
            _run_tiled(function, image, condition) for image, condition in zip(images, weights)
        ])
    per_call = max(1, batch_pixels // (height * width))
    outputs = [
        function(images[start:start + per_call], weights[start:start + per_call]).numpy()
        for start in range(0, len(images), per_call)
    ]
    return np.concatenate(outputs, axis=0)


def _run_tiled(function, image, condition):
    """One large picture in overlapping tiles, cross-faded linearly over the overlaps.

    Instance normalization then takes its statistics per tile, not over the
    whole picture; the cross-fade hides the small differences between tiles.
    """
    tile_px, overlap_px = TILE_PX, TILE_OVERLAP_PX
    height, width = image.shape[:2]
    total = np.zeros((height, width, 3), np.float32)
    coverage = np.zeros((height, width, 1), np.float32)
    for top, bottom in _tile_spans(height, tile_px, overlap_px):
        for left, right in _tile_spans(width, tile_px, overlap_px):
            tile_condition = condition[top:bottom, left:right] if condition.ndim == 3 else condition
            output = function(image[None, top:bottom, left:right], tile_condition[None]).numpy()[0]
            ramp = (_ramp(top, bottom, height, overlap_px)[:, None, None]
                    * _ramp(left, right, width, overlap_px)[None, :, None])
            total[top:bottom, left:right] += output * ramp
            coverage[top:bottom, left:right] += ramp
    return total / coverage


def _tile_spans(length, tile_px, overlap_px):
    if length <= tile_px:
        return [(0, length)]
    step = tile_px - overlap_px
    starts = list(range(0, length - tile_px, step)) + [length - tile_px]
    return [(start, start + tile_px) for start in starts]


def _ramp(start, end, length, overlap_px):
    """Weights along one axis of a tile: rising over the overlap, 1 at the picture's edges."""
    position = np.arange(start, end, dtype=np.float32)
    rise = np.ones_like(position) if start == 0 else (position - start + 0.5) / overlap_px
    fall = np.ones_like(position) if end == length else (end - position - 0.5) / overlap_px
    return np.clip(np.minimum(rise, fall), 1e-3, 1.0)


def stylize(model, image, style, normalize=False, batch_pixels=DEFAULT_BATCH_PIXELS):
    """Paints one photo in one style, a blend, or a spatial blend.

    Args:
        model: A `StyleTransferNetwork`.
        image: (H, W, 3) float array in [0, 1], a uint8 array, or a PIL image.
        style: A style name or index, a blend ("wave=0.7,scream=0.3", a dict or
            a weight vector (N,)), or a weight map (H, W, N) (see
            `mask_to_weight_map`).
        normalize: Divide blend weights by their sum.

    Returns:
        The stylized photo, the same size: a float32 array (H, W, 3) in [0, 1],
        or a PIL image if `image` was one.
    """
    return stylize_many(model, image, [style], normalize, batch_pixels)[0]


def stylize_many(model, image, styles, normalize=False, batch_pixels=DEFAULT_BATCH_PIXELS):
    """Paints one photo in several styles (one network call per `batch_pixels`).

    Returns:
        A list with one stylized photo per entry of `styles` (see `stylize`).
    """
    array = as_float_image(image)
    conditions = [_condition(model, style, array.shape[:2], normalize) for style in styles]
    if any(condition.ndim == 3 for condition in conditions):
        # One call takes vectors or maps, not both: spread vectors over the picture.
        conditions = [
            np.broadcast_to(condition, array.shape[:2] + condition.shape[-1:])
            for condition in conditions
        ]
    batch = np.broadcast_to(array, (len(styles),) + array.shape)
    outputs = run_network(model, batch, np.stack(conditions), batch_pixels)
    if isinstance(image, Image.Image):
        from style_transfer.images import to_pil

        return [to_pil(output) for output in outputs]
    return list(outputs)


def composite_blend(model, image, weight_map, batch_pixels=DEFAULT_BATCH_PIXELS):
    """A spatial blend made in pixel space: each style's picture, mixed by `weight_map`.

    `stylize(model, image, weight_map)` blends gamma/beta per pixel inside the
    network in one pass, but instance normalization still averages over the
    whole picture, so a region drifts from its style by the others' presence.
    Here every style used runs on the whole photo and the outputs are mixed
    per pixel: away from the soft edges each region is exactly its style, at
    the cost of one pass per style.

    Args:
        weight_map: Convex weights (H, W, num_styles), e.g. from `mask_to_weight_map`.

    Returns:
        float32 array (H, W, 3) in [0, 1] (a PIL image for a PIL input).
    """
    photo = as_float_image(image)
    weight_map = _condition(model, np.asarray(weight_map, np.float32), photo.shape[:2], False)
    used = [index for index in range(model.num_styles) if weight_map[..., index].max() > 0]
    outputs = stylize_many(model, photo, used, batch_pixels=batch_pixels)
    blended = sum(weight_map[..., index, None] * output for index, output in zip(used, outputs))
    blended = np.clip(blended, 0.0, 1.0).astype(np.float32)
    if isinstance(image, Image.Image):
        from style_transfer.images import to_pil

        return to_pil(blended)
    return blended


def _condition(model, style, size, normalize):
    """A style as a weight vector (N,), or a weight map (H, W, N) checked against `size`."""
    if isinstance(style, np.ndarray) and style.ndim == 3:
        if style.shape != tuple(size) + (model.num_styles,):
            raise BadInput(
                f"a weight map must have shape {tuple(size) + (model.num_styles,)}; "
                f"received {style.shape}."
            )
        return check_weights(style, normalize=normalize)
    return style_weights(style, model.style_names, normalize=normalize)


def as_float_image(image):
    """(H, W, 3) float32 in [0, 1] from a float array, a uint8 array or a PIL image."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise BadInput(f"an image must have shape (height, width, 3); received {array.shape}.")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32)


# ------------------------------------------------------------------ the grid


def interpolation_grid(model, image, styles=None, steps=GRID_BLEND_STEPS, labels=True,
                       batch_pixels=DEFAULT_BATCH_PIXELS):
    """The interpolation figure of Dumoulin et al.: the photo, each style, pairwise blends.

    Layout (tiles the size of `image`):
    - row 0: the photo, then each style of `styles`;
    - one row per pair (a, b) of `styles`: the blends (1 - t) a + t b for t in
      `steps` (0 is style a alone, 1 is style b alone).
    Columns: max(1 + len(styles), len(steps)); empty tiles are white.

    Args:
        model: A `StyleTransferNetwork`.
        image: The photo (see `stylize`).
        styles: Style names or indices (default: every style).
        steps: Blend weights of the second style of each pair.
        labels: Write each tile's style or blend in its top-left corner.

    Returns:
        float32 array (rows * H, cols * W, 3) in [0, 1], and the layout
        `(rows, cols)`.
    """
    names = model.style_names
    indices = [style_index(style, names) for style in (styles if styles is not None else names)]
    photo = as_float_image(image)
    height, width = photo.shape[:2]
    pairs = list(itertools.combinations(indices, 2))
    cols = max(1 + len(indices), len(steps))
    rows = 1 + len(pairs)

    conditions, places, captions = [], [], []
    for column, index in enumerate(indices, start=1):
        conditions.append(style_weights(index, names))
        places.append((0, column))
        captions.append(names[index])
    for row, (first, second) in enumerate(pairs, start=1):
        for column, step in enumerate(steps):
            weights = np.zeros(len(names), dtype=np.float32)
            weights[first] += 1.0 - step
            weights[second] += step
            conditions.append(weights)
            places.append((row, column))
            captions.append(f"{names[first]} {1 - step:.2g} / {names[second]} {step:.2g}")
    outputs = run_network(
        model, np.broadcast_to(photo, (len(conditions),) + photo.shape), np.stack(conditions),
        batch_pixels,
    )

    grid = np.ones((rows * height, cols * width, 3), dtype=np.float32)
    tiles = [(photo, (0, 0), "photo")] + list(zip(outputs, places, captions))
    for tile, (row, column), caption in tiles:
        if labels:
            tile = _with_caption(tile, caption)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = tile
    return grid, (rows, cols)


def _with_caption(tile, caption):
    """The tile with `caption` on a white band in its top-left corner (tile size unchanged)."""
    from style_transfer.images import to_pil

    picture = to_pil(tile)
    draw = ImageDraw.Draw(picture)
    left, top, right, bottom = draw.textbbox((2, 1), caption)
    draw.rectangle((0, 0, min(right + 2, picture.width), min(bottom + 2, picture.height)), fill="white")
    draw.text((2, 1), caption, fill="black")
    return np.asarray(picture, dtype=np.float32) / 255.0


# ----------------------------------------------------------------- arithmetic


def network_flops(model, height, width, executed=False):
    """Floating-point operations of one forward pass (2 per multiply-add, convolutions only).

    By default the architecture's count, as upsample-then-convolve computes it
    (what other implementations execute). With `executed=True`, what this
    implementation runs: each upsampling convolution works at the low resolution
    with 2x2 kernels per output phase (`UpsampleConvBlock`), 16/36 of the
    multiply-adds. Normalization, padding and activations add well under 1% and
    are left out.
    """
    height = math.ceil(height / 4) * 4
    width = math.ceil(width / 4) * 4
    total = 0
    in_channels = 3
    scale = 1
    blocks = list(model.contract) + [
        block for residual in model.residuals for block in (residual.first, residual.second)
    ] + list(model.expand) + [model.to_rgb]
    for block in blocks:
        if block in model.expand and executed:
            low = (height // scale + 1) * (width // scale + 1)
            total += 2 * low * 4 * in_channels * 4 * block.filters
            scale //= 2
            in_channels = block.filters
            continue
        if block in model.expand:
            scale //= 2
        scale *= block.strides
        pixels = (height // scale) * (width // scale)
        total += 2 * pixels * block.kernel_size ** 2 * in_channels * block.filters
        in_channels = block.filters
    return total
