"""Pictures of what a style network does: the interpolation grid, contact sheets, sample grids.

`interpolation_grid` is the figure of Dumoulin et al. (the photo, each style, and
pairwise blends); `contact_sheet` shows one photo in every style, labelled, to
choose from; `stylization_grid` shows photos (rows) in styles (columns) under the
style thumbnails, as training logs it to TensorBoard.
"""

import itertools

import numpy as np
from PIL import ImageDraw

from style_transfer.base.images import to_pil
from style_transfer.models.style_names import style_index
from style_transfer.painting.conditions import style_weights
from style_transfer.painting.stylize import DEFAULT_BATCH_PIXELS, as_float_image, run_network

# The interpolation figure of Dumoulin et al.: each pair of styles at these weights.
GRID_BLEND_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


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


def contact_sheet(model, image, styles=None, columns=None, labels=True, gap_px=2,
                  batch_pixels=DEFAULT_BATCH_PIXELS):
    """The photo and each style on it, side by side and labelled: a sheet to choose from.

    Tiles the size of `image` (downsize it first for a model with many
    styles): the photo, then each style in order, `columns` tiles per row.

    Args:
        model: A `StyleTransferNetwork`.
        image: The photo (see `stylize`).
        styles: Style names or indices (default: every style).
        columns: Tiles per row (default: the smallest count that keeps the
            sheet about as wide as it is tall, for square tiles).
        labels: Write each style's index and name in its tile's top-left corner.
        gap_px: White space between tiles.

    Returns:
        float32 array in [0, 1], and the layout `(rows, columns)`.
    """
    names = model.style_names
    indices = [style_index(style, names) for style in (styles if styles is not None else names)]
    photo = as_float_image(image)
    tiles = len(indices) + 1
    if columns is None:
        columns = int(np.ceil(np.sqrt(tiles)))
    outputs = run_network(
        model, np.broadcast_to(photo, (len(indices),) + photo.shape),
        np.stack([style_weights(index, names) for index in indices]), batch_pixels,
    )
    pictures = [photo, *outputs]
    captions = ["photo", *(f"{index}: {names[index]}" for index in indices)]
    if labels:
        pictures = [_with_caption(picture, caption)
                    for picture, caption in zip(pictures, captions)]
    rows = [pictures[start:start + columns] for start in range(0, tiles, columns)]
    return image_grid(rows, gap_px), (len(rows), columns)


def _with_caption(tile, caption):
    """The tile with `caption` on a white band in its top-left corner (tile size unchanged)."""
    picture = to_pil(tile)
    draw = ImageDraw.Draw(picture)
    left, top, right, bottom = draw.textbbox((2, 1), caption)
    draw.rectangle((0, 0, min(right + 2, picture.width), min(bottom + 2, picture.height)), fill="white")
    draw.text((2, 1), caption, fill="black")
    return np.asarray(picture, dtype=np.float32) / 255.0


def stylization_grid(model, content_images, style_thumbnails, gap_px=4):
    """A picture: a row of style thumbnails over one row per content image in each style.

    Args:
        model: A `StyleTransferNetwork`.
        content_images: (num_contents, S, S, 3) in [0, 1].
        style_thumbnails: One (S, S, 3) image per style shown (the first styles
            of the model).

    Returns:
        A float image (height, width, 3) in [0, 1].
    """
    num_contents, num_styles = len(content_images), len(style_thumbnails)
    photos = np.repeat(content_images, num_styles, axis=0)
    style_ids = np.tile(np.arange(num_styles, dtype="int32"), num_contents)
    stylized = np.asarray(model(photos, style_ids)).reshape(
        (num_contents, num_styles, *content_images.shape[1:])
    )
    blank = np.ones_like(content_images[0])
    rows = [[blank, *style_thumbnails]]
    rows += [[photo, *row] for photo, row in zip(content_images, stylized)]
    return image_grid(rows, gap_px)


def image_grid(rows, gap_px=4):
    """Tiles rows of equally sized images (H, W, 3) into one picture with white gaps."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    grid = np.ones((len(rows) * (height + gap_px) - gap_px,
                    columns * (width + gap_px) - gap_px, 3), np.float32)
    for row_index, row in enumerate(rows):
        for column_index, image in enumerate(row):
            top, left = row_index * (height + gap_px), column_index * (width + gap_px)
            grid[top : top + height, left : left + width] = image
    return grid
