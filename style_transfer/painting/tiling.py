"""Large photos painted in overlapping tiles, cross-faded where they overlap."""

import numpy as np

# Larger pictures run in overlapping tiles: TensorFlow's CPU convolution builds an
# im2col buffer of height x width x 9 x 64 floats for the last upsampling conv
# (27.6 GB at 12 megapixels, more than the machine has).
TILE_ABOVE_PIXELS = 2048 * 2048
TILE_PX = 1024
TILE_OVERLAP_PX = 64


def run_tiled(function, image, condition, counter):
    """One large picture in overlapping tiles, cross-faded linearly over the overlaps.

    Instance normalization then takes its statistics per tile, not over the
    whole picture; the cross-fade hides the small differences between tiles.
    """
    tile_px, overlap_px = TILE_PX, TILE_OVERLAP_PX
    height, width = image.shape[:2]
    total = np.zeros((height, width, 3), np.float32)
    coverage = np.zeros((height, width, 1), np.float32)
    for top, bottom in tile_spans(height, tile_px, overlap_px):
        for left, right in tile_spans(width, tile_px, overlap_px):
            tile_condition = condition[top:bottom, left:right] if condition.ndim == 3 else condition
            output = np.asarray(function(image[None, top:bottom, left:right],
                                         tile_condition[None]))[0]
            ramp = (_ramp(top, bottom, height, overlap_px)[:, None, None]
                    * _ramp(left, right, width, overlap_px)[None, :, None])
            total[top:bottom, left:right] += output * ramp
            coverage[top:bottom, left:right] += ramp
            counter.step()
    return total / coverage


def tile_spans(length, tile_px, overlap_px):
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
