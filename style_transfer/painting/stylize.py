"""Running a style network on photos: batches, tiles for huge photos, composite blends.

The network runs on a runtime (`style_transfer.models.runtimes`): by default TensorFlow,
through one compiled `tf.function` per model (input shapes with `None` height, width
and batch, so new sizes do not retrace), in float32 without XLA unless `use_xla` asks
for it; `use_runtime(model, "auto")` (what the painting commands do) paints with the
fastest measured runtime instead, LiteRT (XNNPACK) or onnxruntime on the network
converted once. What each costs, and why XLA, bfloat16 and batching are not the
default: BENCHMARKS.md, "Runtimes" and "Stylize speed and memory".

Style conditions (names, blends, weight maps) come from `style_transfer.painting.conditions`;
figures (the interpolation grid) from `style_transfer.painting.figures`. The command line
(`style-transfer stylize`), the notebooks and the tests all use these functions.
"""

import math
import weakref

import numpy as np
from PIL import Image

from style_transfer.base.errors import BadInput, first_line
from style_transfer.painting import photo_options, tiling
from style_transfer.painting.conditions import check_weights, style_weights

# Pixels per call of the network (batch x height x width). A batch of pictures of
# 256 px and more was measured no faster per picture than single calls, so only
# thumbnails smaller than 256x256 share a call (BENCHMARKS.md).
DEFAULT_BATCH_PIXELS = 256 * 256

_compiled_functions = weakref.WeakKeyDictionary()
_xla_models = weakref.WeakSet()
_model_runtimes = weakref.WeakKeyDictionary()


def compiled_network(model):
    """The model as two compiled functions (cached per model).

    Returns:
        dict with "vector": f(images (B, H, W, 3), weights (B, N)) and "map":
        f(images, weight maps (B, H, W, N)), each returning (B, H, W, 3) float32.
        Height, width and batch are `None` in the signatures: any size reuses the
        same graph (with `use_xla`, XLA compiles once per size). A batch of one
        picture runs the same graph: a graph with a static batch of one let
        TensorFlow fuse instance normalization with the following ReLU, whose
        oneDNN kernel turns NaN into 0, so a model that overflows painted
        normal-looking pictures there (and was at most 8% faster).
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


def use_runtime(model, runtime):
    """Paints `model`'s pictures on `runtime` from now on (`runtimes.RUNTIMES`).

    "tensorflow" (the library's default), "onnxruntime", "litert", or "auto":
    the fastest measured runtime that is installed (`runtimes.resolve`), and
    TensorFlow when `use_xla` asked for XLA. A runtime other than TensorFlow
    converts the network once (cached on disk by content, verified against the
    Keras network) and paints with the weights it had then: call `use_runtime`
    again after changing them.

    Raises:
        BadInput: an unknown runtime, or one whose extra is not installed.
    """
    from style_transfer.models import runtimes

    runtimes.check_runtime(runtime)
    if getattr(model, "runner", None) is not None:  # An exported file paints on its own runtime.
        if runtime not in ("auto", model.runtime):
            raise BadInput(f"{model.path} is painted by {model.runtime}; `runtime` {runtime} "
                           f"applies to .keras models.")
        return
    if runtime not in ("auto", "tensorflow"):
        runtimes.require(runtime)
    runtimes.forget(model)
    _model_runtimes[model] = runtime


def model_runtime(model):
    """The runtime that paints `model` now: "tensorflow", "onnxruntime" or "litert".

    "auto" means TensorFlow for a model that computes in a mixed dtype policy (trained
    with `--mixed-precision`): the float32 conversions cannot reproduce its pictures, so
    each run converted, failed the check and warned before painting with TensorFlow.
    """
    from style_transfer.models import runtimes

    runtime = _model_runtimes.get(model, "tensorflow")
    if model in _xla_models or getattr(model, "embedding_dim", None) is not None:
        return "tensorflow"
    if runtime == "auto" and getattr(model, "compute_dtype", "float32") != "float32":
        return "tensorflow"
    return runtimes.resolve(runtime)


def network_function(model, style="vector"):
    """f(images, style) -> float32 numpy pictures: the model on its runtime (`use_runtime`).

    `style` is "vector" (weights (B, N)) or "map" (weight maps (B, H, W, N)). With
    "auto", a conversion that fails (or does not reproduce the Keras pictures)
    falls back to TensorFlow with a warning; a runtime named explicitly raises.
    """
    if getattr(model, "runner", None) is not None:  # An exported file (runtimes.ExportedNetwork).
        return model.function(style)
    runtime = model_runtime(model)
    if runtime != "tensorflow":
        from style_transfer.models import runtimes

        if _model_runtimes.get(model) != "auto":
            return runtimes.network_runner(model, runtime, style)
        try:
            return runtimes.network_runner(model, runtime, style)
        except Exception as error:  # auto: any failure of the conversion means TensorFlow.
            import warnings

            warnings.warn(f"painting with TensorFlow: the {runtime} conversion failed "
                          f"({type(error).__name__}: {first_line(error)}).", stacklevel=2)
            _model_runtimes[model] = "tensorflow"
    compiled = compiled_network(model)[style]
    return lambda images, condition: compiled(images, condition).numpy()


def use_xla(model, enabled=True):
    """Runs the model's network through XLA (`jit_compile=True`) from now on.

    XLA fuses the normalizations, activations and padding into few passes over
    memory: less time per picture, but each new picture size costs a
    compilation of seconds (BENCHMARKS.md). Worth it for many pictures of one
    size (video frames); not for a few photos of different sizes, hence off by
    default. Large photos (`tiling`) run without it.
    """
    if enabled:
        _xla_models.add(model)
    else:
        _xla_models.discard(model)
    _compiled_functions.pop(model, None)


def run_network(model, images, weights, batch_pixels=DEFAULT_BATCH_PIXELS, progress=None):
    """Stylizes a batch: images (B, H, W, 3) with weights (B, N) or weight maps (B, H, W, N).

    The batch is split into calls of at most `batch_pixels` pixels (at least
    one picture each); pictures of more than `tiling.TILE_ABOVE_PIXELS` run
    layer by layer in tiles (`tiling.run_tiled`: the same painting as one call,
    within float32 rounding). Weights are used as given (validate them first
    with `check_weights`).

    Args:
        progress: Called as `progress(done, total)` after each call of the
            network (a group of pictures), or after each tile of each layer of
            a large picture, e.g. for a progress bar.

    Returns:
        float32 array (B, H, W, 3) in [0, 1].

    Raises:
        BadInput: a picture with a side under 8 pixels, or the network painted NaN
            or infinite values (`photo_options.check_painted`).
    """
    images = np.asarray(images, dtype=np.float32)
    weights = np.asarray(weights, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise BadInput(f"images must have shape (batch, height, width, 3); received {images.shape}.")
    photo_options.check_picture_size(*images.shape[1:3])
    if len(weights) != len(images):
        raise BadInput(f"{len(images)} images but {len(weights)} style weights.")
    function = network_function(model, "map" if weights.ndim == 4 else "vector")

    height, width = images.shape[1:3]
    counter = _CallCounter(progress)
    if height * width > tiling.TILE_ABOVE_PIXELS:
        if getattr(model, "runner", None) is not None:
            # Tiles need the network's layers: their statistics are the whole picture's.
            raise BadInput(
                f"{model.path} paints pictures of up to {tiling.TILE_ABOVE_PIXELS:,} pixels; "
                f"received {width}x{height}: paint it with the .keras model (in tiles) or "
                f"pass `max_size`.")
        counter.total = tiling.tile_count(model, height, width) * len(images)
        return np.stack([
            photo_options.check_painted(tiling.run_tiled(model, image, condition, counter))
            for image, condition in zip(images, weights)])
    per_call = max(1, batch_pixels // (height * width))
    counter.total = math.ceil(len(images) / per_call)
    outputs = []
    for start in range(0, len(images), per_call):
        outputs.append(photo_options.check_painted(
            np.asarray(function(images[start:start + per_call], weights[start:start + per_call]))))
        counter.step()
    return np.concatenate(outputs, axis=0)


class _CallCounter:
    """Counts the network's calls for a `progress(done, total)` callback (or for none)."""

    def __init__(self, progress):
        self.progress = progress
        self.done = 0
        self.total = 0

    def step(self):
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def stylize(model, image, style, normalize=False, batch_pixels=DEFAULT_BATCH_PIXELS,
            strength=1.0, preserve_color=False):
    """Paints one photo in one style, a blend, or a spatial blend.

    Args:
        model: A `StyleTransferNetwork`.
        image: (H, W, 3) float array in [0, 1], a uint8 array, or a PIL image.
        style: A style name or index, a blend ("wave=0.7,scream=0.3", a dict or
            a weight vector (N,)), or a weight map (H, W, N) (see
            `mask_to_weight_map`).
        normalize: Divide blend weights by their sum.
        strength: How much of the style, from the photo (0) to the full
            style (1) (`photo_options.mix_with_photo`).
        preserve_color: Keep the photo's colours, take only the luminance
            from the stylization (`photo_options.preserve_color`).

    Returns:
        The stylized photo, the same size: a float32 array (H, W, 3) in [0, 1],
        or a PIL image if `image` was one.
    """
    return stylize_many(model, image, [style], normalize, batch_pixels, strength,
                        preserve_color)[0]


def stylize_many(model, image, styles, normalize=False, batch_pixels=DEFAULT_BATCH_PIXELS,
                 strength=1.0, preserve_color=False, progress=None):
    """Paints one photo in several styles (one network call per `batch_pixels`).

    Args:
        progress: `progress(done, total)` after each call of the network
            (see `run_network`).

    Returns:
        A list with one stylized photo per entry of `styles` (see `stylize`).
    """
    strength = photo_options.check_strength(strength)
    array = as_float_image(image)
    conditions = [_condition(model, style, array.shape[:2], normalize) for style in styles]
    if any(condition.ndim == 3 for condition in conditions):
        # One call takes vectors or maps, not both: spread vectors over the picture.
        conditions = [
            np.broadcast_to(condition, array.shape[:2] + condition.shape[-1:])
            for condition in conditions
        ]
    batch = np.broadcast_to(array, (len(styles),) + array.shape)
    outputs = run_network(model, batch, np.stack(conditions), batch_pixels, progress)
    outputs = [photo_options.apply(array, output, strength, preserve_color) for output in outputs]
    if isinstance(image, Image.Image):
        from style_transfer.base.images import to_pil

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
    From a mask, `composite(model, image, *conditions.mask_region_weights(...))`
    paints the same picture, bit for bit, from weights of the mask's styles only
    instead of a plane per style of the model (and this function's float64 check
    of them).

    Args:
        weight_map: Convex weights (H, W, num_styles), e.g. from `mask_to_weight_map`.

    Returns:
        float32 array (H, W, 3) in [0, 1] (a PIL image for a PIL input).
    """
    photo = as_float_image(image)
    weight_map = _condition(model, np.asarray(weight_map, np.float32), photo.shape[:2], False)
    used = [index for index in range(model.num_styles) if weight_map[..., index].max() > 0]
    blended = composite(model, photo, used, weight_map[..., used], batch_pixels=batch_pixels)
    if isinstance(image, Image.Image):
        from style_transfer.base.images import to_pil

        return to_pil(blended)
    return blended


def composite(model, image, styles, region_weights, batch_pixels=DEFAULT_BATCH_PIXELS,
              strength=1.0, preserve_color=False, progress=None):
    """Regions painted in their own style conditions, each exactly, mixed with soft edges.

    The generalization of `composite_blend` to regions whose condition is any
    style (a name, an index, a blend): every condition runs on the whole photo
    and the pictures are mixed per pixel by `region_weights` (`mix_regions`).

    Args:
        model: A `StyleTransferNetwork`.
        image: (H, W, 3) float array in [0, 1] or a uint8 array.
        styles: One style condition per region (see `stylize`; not weight maps).
        region_weights: (H, W, len(styles)) convex per pixel, e.g. from
            `conditions.region_weights`.
        strength: As in `stylize_many`.
        preserve_color: As in `stylize_many`.
        progress: As in `stylize_many`.

    Returns:
        float32 array (H, W, 3) in [0, 1].
    """
    photo = as_float_image(image)
    _check_region_weights(region_weights, photo.shape[:2], len(styles))
    check_weights(region_weights)
    pictures = stylize_many(model, photo, styles, batch_pixels=batch_pixels, strength=strength,
                            preserve_color=preserve_color, progress=progress)
    return mix_regions(pictures, region_weights)


def mix_regions(pictures, region_weights):
    """sum_k region_weights[..., k] * pictures[k]: K pictures (H, W, 3) mixed per pixel.

    `region_weights` (H, W, K) should be convex per pixel (`composite` checks
    that); the mix is clipped to [0, 1].
    """
    region_weights = np.asarray(region_weights, np.float32)
    height, width = np.shape(pictures[0])[:2]
    _check_region_weights(region_weights, (height, width), len(pictures))
    mixed = np.zeros((height, width, 3), np.float32)
    for index, picture in enumerate(pictures):
        mixed += region_weights[..., index, None] * picture
    return np.clip(mixed, 0.0, 1.0)


def _check_region_weights(region_weights, size, num_regions):
    expected = tuple(size) + (num_regions,)
    if np.shape(region_weights) != expected:
        raise BadInput(f"region weights must have shape {expected} (one plane per region); "
                       f"received {np.shape(region_weights)}.")


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


def painter(model, style=None, *, style_images=None, blend_weights=None, normalize=False,
            strength=1.0, preserve_color=False):
    """A function that paints photos (video frames) in one style condition, checked once.

    Args:
        model: A `StyleTransferNetwork` with a table of styles, or an
            `ArbitraryStyleModel`.
        style: For a table: a style name or index, or a blend (see `stylize`;
            not a weight map, whose size is a photo's).
        style_images: For an arbitrary-style model: style images (H, W, 3) in
            [0, 1]; their embedding is computed once.
        blend_weights: Convex weights of `style_images` (default equal).
        normalize: Divide blend weights of `style` by their sum.
        strength: As in `stylize` (an arbitrary-style model interpolates its
            embedding toward the photo's own instead of mixing pixels, see
            `arbitrary_styles.conditioning_embedding`).
        preserve_color: As in `stylize`.

    Returns:
        paint(photo): photo (H, W, 3) float32 in [0, 1] -> the painting, same shape.
        `paint.many(photos)` paints a batch (B, H, W, 3) in one call of the
        network (video frames, `style_transfer.painting.video`).

    Raises:
        BadInput: a style the model does not have, style images for a table
            model or none for an arbitrary one, or a strength outside [0, 1].
    """
    from style_transfer.models.arbitrary import ArbitraryStyleModel

    strength = photo_options.check_strength(strength)
    if isinstance(model, ArbitraryStyleModel):
        return _arbitrary_painter(model, style, style_images, blend_weights, strength,
                                  preserve_color)
    if style_images:
        raise BadInput("style images need an arbitrary-style model (made by "
                       "`style-transfer train-arbitrary`); this model has a table of styles: "
                       "choose one with a style name or a blend.")
    if style is None:
        raise BadInput(f"choose a style of the model ({', '.join(model.style_names)}) or a blend.")
    weights = style_weights(style, model.style_names, normalize=normalize)[None]

    def paint_many(photos):
        photos = np.asarray(photos, np.float32)
        batch, height, width = photos.shape[:3]
        painted = run_network(model, photos, np.repeat(weights, batch, axis=0),
                              batch_pixels=batch * height * width)
        if strength == 1.0 and not preserve_color:
            return painted
        return np.stack([photo_options.apply(photo, picture, strength, preserve_color)
                         for photo, picture in zip(photos, painted)])

    def paint(photo):
        return paint_many(as_float_image(photo)[None])[0]

    paint.many = paint_many
    return paint


def _arbitrary_painter(model, style, style_images, blend_weights, strength, preserve_color):
    from style_transfer.models import arbitrary
    from style_transfer.painting.arbitrary_styles import paint_with_embedding

    if style is not None or not style_images:
        raise BadInput("an arbitrary-style model paints with style images: pass style images, "
                       "not a style name or blend.")
    embedding = arbitrary.blend_embeddings(arbitrary.style_embeddings(model, style_images),
                                           blend_weights)

    def paint(photo):
        photo = as_float_image(photo)
        conditioning = arbitrary.toward_photo_embedding(model, photo, embedding, strength)
        return paint_with_embedding(model, photo, conditioning, preserve_color)

    paint.many = lambda photos: np.stack([paint(photo) for photo in photos])
    return paint
