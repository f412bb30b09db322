"""The demos: paint a bundled photo with a pretrained network in seconds, or train a small one.

`demo` (what `style-transfer demo` runs) needs no training and no download: the
pretrained android-26 network (the [pretrained] extra) paints scikit-image's
photo of a cat. The output folder receives:

    OUT/contact_sheet.png   the photo in each of the 26 styles, labelled
    OUT/blends.png          three styles and their pairwise convex blends
    OUT/spatial_blend.png   one style inside an ellipse, another outside, soft edge

`training_demo` (`style-transfer demo --train`) trains a small multi-style
network in minutes. Content photos come with scikit-image (astronaut, chelsea,
coffee, rocket, motorcycle); the default styles are generated here (colourized
scikit-image textures and a procedural pattern), so nothing is downloaded but the
VGG weights. The output folder receives:

    OUT/grid.png     photos x (each style, then blends of styles)
    OUT/losses.png   the training losses, overall and per style
    OUT/styles/      the generated style images (when no --styles are given)
    OUT/run/         the training run (model.keras, history, TensorBoard logs)
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra
from style_transfer.base.files import atomic_write, check_destination, check_not_an_input
from style_transfer.base.settings import check_seed

CONTENT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")
GRID_PHOTOS = ("chelsea", "astronaut")
# Long side of the content photos written for training; crops are image_size.
CONTENT_SIZE_PX = 256

# A small network and short run, so that the demo ends in minutes on a laptop CPU.
DEMO_SETTINGS = {"image_size": 128, "batch_size": 4, "steps": 300, "alpha": 0.5,
                 "learning_rate": 2e-3}
QUICK_SETTINGS = {"image_size": 64, "batch_size": 2, "steps": 60, "alpha": 0.25,
                  "learning_rate": 2e-3}
GRID_SIZE_PX = {False: 192, True: 96}  # The grid's photos, by `quick`.

OUTPUT_FILES = ("grid.png", "losses.png", "styles", "run")

# The pretrained demo: a bundled photo, tiles of this size, and three styles whose
# looks differ on the contact sheet (19: blue swirls, 3: bright strokes, 10: brown wash).
DEMO_PHOTO = "chelsea"
PRETRAINED_TILE_PX = 256
BLEND_STYLES = (19, 3, 10)
PRETRAINED_OUTPUT_FILES = ("contact_sheet.png", "blends.png", "spatial_blend.png")


def demo(out_dir, *, model=None, overwrite=False):
    """Paints a bundled photo with a pretrained network: every style, blends, a spatial blend.

    Args:
        out_dir: Output folder (see the module docstring); created if needed.
        model: A pretrained model's name or a `.keras` file (default
            `pretrained.DEFAULT_MODEL`) of at least two styles; the blends use
            `BLEND_STYLES` when the model has that many styles, else its first three.
        overwrite: Replace the outputs of an earlier demo in `out_dir`.

    Returns:
        A dict of the written paths: `"contact_sheet"`, `"blends"`, `"spatial_blend"`.

    Raises:
        BadInput: the model cannot be had (e.g. the [pretrained] extra is not
            installed) or has one style, or `out_dir` holds earlier outputs and not `overwrite`.
    """
    from style_transfer.models import runtimes
    from style_transfer.models.loading import load_style_model, model_path
    from style_transfer.models.pretrained import DEFAULT_MODEL
    from style_transfer.painting import conditions, figures, stylize

    out_dir = Path(out_dir)
    check_destination(out_dir, folder=True)
    existing = [name for name in PRETRAINED_OUTPUT_FILES if (out_dir / name).exists()]
    if existing and not overwrite:
        raise BadInput(f"{out_dir} already holds demo outputs ({', '.join(existing)}); "
                       f"`overwrite` replaces them, or choose another `out`.")
    network = load_style_model(model_path(model or DEFAULT_MODEL))
    if network.num_styles < 2:
        raise BadInput(f"the demo paints blends of two styles or more; {model} has "
                       f"{network.num_styles} style: paint it with `style-transfer stylize`.")
    stylize.use_runtime(network, runtimes.default_runtime())  # paints in seconds
    photo = images.resize_long_side(images.sample_photo(DEMO_PHOTO), PRETRAINED_TILE_PX)
    styles = [index for index in BLEND_STYLES if index < network.num_styles]
    if len(styles) < len(BLEND_STYLES):
        styles = list(range(min(len(BLEND_STYLES), network.num_styles)))
    written = {name.removesuffix(".png"): out_dir / name for name in PRETRAINED_OUTPUT_FILES}
    sheet, _ = figures.contact_sheet(network, photo)
    images.save_image(sheet, written["contact_sheet"], overwrite=True)
    grid, _ = figures.interpolation_grid(network, photo, styles)
    images.save_image(grid, written["blends"], overwrite=True)
    full_size = images.sample_photo(DEMO_PHOTO)
    used, weights = conditions.mask_region_weights(
        ellipse_mask(full_size.shape[:2]), network.num_styles, styles[:2], full_size.shape[:2])
    images.save_image(stylize.composite(network, full_size, used, weights),
                      written["spatial_blend"], overwrite=True)
    return written


def ellipse_mask(size, edge_px=12):
    """A greyscale mask (height, width) uint8: 0 inside a centred ellipse, 255 outside.

    The ellipse spans the middle half of each side; the grey ramp `edge_px`
    wide across its border makes the transition between the two styles soft.
    """
    height, width = size
    rows, columns = np.mgrid[0:height, 0:width]
    radius = np.hypot((rows - height / 2) / (height / 4), (columns - width / 2) / (width / 4))
    distance_px = (radius - 1.0) * min(height, width) / 4
    return np.clip(np.round(255 * (distance_px / edge_px + 0.5)), 0, 255).astype(np.uint8)


def training_demo(out_dir, *, style_images=None, vgg_weights="imagenet", steps=None,
                  quick=False, overwrite=False, progress=True, seed=0):
    """Trains a small multi-style model and writes the demo pictures.

    Args:
        out_dir: Output folder (see the module docstring); created if needed.
        style_images: Paths of style images (two or more make blends); `None`
            uses three generated styles.
        vgg_weights: `"imagenet"`, `"random"` or a weights file (see `LossConfig`).
        steps: Training steps (default 300; 60 with `quick`).
        quick: A smaller, faster configuration (64 px crops, alpha 0.25) to try
            the pipeline; the pictures are rougher.
        overwrite: Replace the outputs of an earlier demo in `out_dir`.
        progress: Show the training progress bar.
        seed: Seed of the training run, from 0 to 2**31 - 1 (`MAX_SEED`).

    Returns:
        A dict: the written paths `"grid"`, `"losses"`, `"model"`, and
        `"stylized"`, the grid's pictures {column label: (photos, S, S, 3)}.

    Raises:
        BadInput: unreadable style images, ImageNet weights that cannot be
            downloaded, an `out_dir` holding earlier outputs without `overwrite`, or
            a `seed` out of range (before anything is written).
    """
    from style_transfer.training.config import LossConfig, TrainConfig
    from style_transfer.training.logs import read_history
    from style_transfer.training.losses import vgg_weights_path
    from style_transfer.training.multi_style import train
    from style_transfer.training.run import MODEL_FILE

    seed = check_seed("seed", seed)  # TrainConfig checks it too, but after out_dir is made.
    _pyplot()
    import_extra("skimage.data", "demo", "the demo")
    settings = dict(QUICK_SETTINGS if quick else DEMO_SETTINGS)
    if steps is not None:
        settings["steps"] = steps
    loss_config = LossConfig(vgg_weights=vgg_weights)
    vgg_weights_path(loss_config)  # Stop before writing anything if they cannot be had.
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite, style_images or [])
    with tempfile.TemporaryDirectory(prefix="style_transfer_demo_") as content_dir:
        write_content_photos(content_dir)
        if style_images is None:
            style_images = write_generated_styles(out_dir / "styles")
        config = TrainConfig(
            content_dir=content_dir, style_images=style_images, loss=loss_config,
            checkpoint_every=settings["steps"], sample_every=0, seed=seed, **settings,
        )
        model = train(config, out_dir / "run", progress=progress)
    photos = np.stack([images.center_square(images.sample_photo(name), GRID_SIZE_PX[quick])
                       for name in GRID_PHOTOS])
    grid_path = out_dir / "grid.png"
    loss_path = out_dir / "losses.png"
    stylized = plot_style_grid(model, photos, style_images, grid_path)
    plot_losses(read_history(out_dir / "run"), loss_path)
    return {"grid": grid_path, "losses": loss_path, "model": out_dir / "run" / MODEL_FILE,
            "stylized": stylized}


def _pyplot():
    """matplotlib's pyplot, drawing to files only (no display needed)."""
    matplotlib = import_extra("matplotlib", "demo", "drawing the demo's figures")
    matplotlib.use("Agg")
    return import_extra("matplotlib.pyplot", "demo", "drawing the demo's figures")


def _prepare_out_dir(out_dir, overwrite, style_images):
    from style_transfer.training.run import RUN_FILE

    check_destination(out_dir, folder=True)
    # The old run/ and styles/ are removed below: no input may be among them.
    for name in OUTPUT_FILES:
        for style_image in style_images:
            check_not_an_input(out_dir / name, style_image, folder=True)
    existing = [name for name in OUTPUT_FILES if (out_dir / name).exists()]
    if existing and not overwrite:
        raise BadInput(
            f"{out_dir} already holds demo outputs ({', '.join(existing)}); `overwrite` "
            f"replaces them, or choose another `out`."
        )
    run_dir = out_dir / "run"
    if run_dir.exists() and not (run_dir / RUN_FILE).exists():
        raise BadInput(f"{run_dir} exists and is not a training run; remove it or choose "
                       f"another `out`.")
    for name in ("run", "styles"):
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
    out_dir.mkdir(parents=True, exist_ok=True)


# ---------------------------------------------------------------- pictures in


def write_content_photos(folder):
    """Writes the scikit-image photos (long side `CONTENT_SIZE_PX`) as PNG files in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in CONTENT_PHOTOS:
        photo = Image.fromarray(np.round(images.sample_photo(name) * 255).astype(np.uint8))
        photo.thumbnail((CONTENT_SIZE_PX, CONTENT_SIZE_PX), Image.LANCZOS)
        images.save_image(photo, folder / f"{name}.png", overwrite=True)


def generated_styles(size_px=256):
    """Three styles made without downloads: {name: float32 (size, size, 3) image}.

    Two scikit-image textures painted with strong colour maps, and a pattern of
    wavy bands: distinct colours and textures, so that the styles are easy to
    tell apart in the grid.
    """
    import skimage.data

    plt = _pyplot()

    def colourize(texture, colour_map):
        texture = texture[:size_px, :size_px].astype(np.float32)
        ranks = texture.ravel().argsort().argsort().reshape(texture.shape)
        equalized = ranks / (ranks.size - 1)  # Spread the grey levels over the whole map.
        return plt.get_cmap(colour_map)(equalized)[..., :3].astype(np.float32)

    rows, columns = np.mgrid[0:size_px, 0:size_px] / size_px
    phase = 10 * np.pi * (rows + columns) + 2.5 * np.sin(6 * np.pi * columns)
    band = (np.floor(phase / np.pi) % 3).astype(int)
    palette = np.array([[0.98, 0.80, 0.10], [0.85, 0.10, 0.35], [0.10, 0.10, 0.35]])
    waves = palette[band] * (0.75 + 0.25 * np.cos(phase)[..., None] ** 2)
    return {
        "brick": colourize(skimage.data.brick(), "copper"),
        "gravel": colourize(skimage.data.gravel(), "cool"),
        "waves": waves.astype(np.float32),
    }


def write_generated_styles(folder):
    """Writes `generated_styles()` as PNG files in `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        images.save_image(image, folder / f"{name}.png", overwrite=True)
        for name, image in generated_styles().items()
    ]


# --------------------------------------------------------------- pictures out


def blend_weights(num_styles):
    """The blends the grid shows: {label: convex weights (num_styles,)}.

    Each pair of neighbouring styles half and half, and all styles equally.
    """
    blends = {}
    for first in range(num_styles - 1):
        weights = np.zeros(num_styles, np.float32)
        weights[[first, first + 1]] = 0.5
        blends[(first, first + 1)] = weights
    if num_styles > 2:
        blends[tuple(range(num_styles))] = np.full(num_styles, 1 / num_styles, np.float32)
    return blends


def plot_style_grid(model, photos, style_images, path):
    """Draws photos (rows) in every style, then in blends of styles (columns); saves a PNG.

    The first row shows the style images; each blend is computed with the blended
    gamma/beta, `model(photos, weights)`.

    Returns:
        The stylized photos of each column, {label: (photos, S, S, 3) array}.
    """
    num_styles = model.num_styles
    names = model.style_names
    size = photos.shape[1]
    thumbnails = [images.center_square(images.load_image(path, max_size=2 * size), size)
                  for path in style_images]
    columns = [(name, np.eye(num_styles, dtype=np.float32)[index])
               for index, name in enumerate(names)]
    columns += [(" + ".join(names[i] for i in styles), weights)
                for styles, weights in blend_weights(num_styles).items()]
    stylized = {}
    for label, weights in columns:
        batch_weights = np.repeat(weights[None], len(photos), axis=0)
        stylized[label] = np.asarray(model(photos, batch_weights))

    plt = _pyplot()
    figure, axes = plt.subplots(
        len(photos) + 1, len(columns) + 1,
        figsize=(1.9 * (len(columns) + 1), 1.9 * (len(photos) + 1)), squeeze=False,
    )
    for axis in axes.ravel():
        axis.axis("off")
    for column, (label, weights) in enumerate(columns, start=1):
        axes[0, column].set_title(label, fontsize=8)
        if weights.max() == 1.0:
            axes[0, column].imshow(thumbnails[int(weights.argmax())])
    axes[0, 0].set_title("style", fontsize=8)
    for row, photo in enumerate(photos, start=1):
        axes[row, 0].imshow(photo)
        for column, pictures in enumerate(stylized.values(), start=1):
            axes[row, column].imshow(np.clip(pictures[row - 1], 0, 1))
    figure.suptitle("Photos in each trained style, then in blends (blended gamma/beta)",
                    fontsize=9)
    figure.tight_layout()
    _save_figure(plt, figure, path)
    return stylized


def plot_losses(history, path, window=10):
    """Plots the training losses (moving means over `window` steps) to a PNG file."""
    plt = _pyplot()
    figure, (overall, per_style) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = history["step"]
    for part in ("total", "content", "style", "tv"):
        if np.any(history[part] > 0):
            overall.plot(steps, _moving_mean(history[part], window), label=part)
    overall.set(xlabel="step", ylabel="loss (batch mean)", yscale="log",
                title="Losses during training")
    overall.legend()
    for column in history:
        if column.startswith("style:"):
            per_style.plot(steps, _moving_mean(history[column], window),
                           label=column.removeprefix("style:"))
    per_style.set(xlabel="step", ylabel="total loss of the style's samples", yscale="log",
                  title="Per style")
    per_style.legend()
    figure.tight_layout()
    _save_figure(plt, figure, path)


def _save_figure(plt, figure, path):
    with atomic_write(path, overwrite=True) as file:
        figure.savefig(file, format="png", dpi=110)
    plt.close(figure)


def _moving_mean(values, window):
    """Mean of the last `window` values that are not NaN (a style absent from a batch)."""
    present = ~np.isnan(values)
    sums = np.cumsum(np.where(present, values, 0.0))
    counts = np.cumsum(present)
    sums[window:] = sums[window:] - sums[:-window]
    counts[window:] = counts[window:] - counts[:-window]
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
