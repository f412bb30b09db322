"""What users ask of a stylized photo besides the style: its own colours, and less of the style.

- `preserve_color`: the stylization's luminance with the photo's colours
  (Gatys et al. 2016, "Preserving color in neural artistic style transfer",
  luminance-only transfer, https://arxiv.org/abs/1606.05897). The split is
  YCbCr (ITU-R BT.601, full range, as JPEG uses): Y from the stylization, Cb
  and Cr from the photo.
- `mix_with_photo`: strength s in [0, 1], s * stylized + (1 - s) * photo per
  pixel. For a model with a table of styles this is what strength means: the
  table has no row that paints the photo itself, and moving every gamma/beta
  toward the values that make each normalization an identity (gamma = std,
  beta = mean of its input) ends, at s = 0, in an unnormalized network's
  picture, not the photo (notebooks/07_video_and_photo_options.ipynb shows
  both). Arbitrary-style models interpolate their style embedding instead
  (`style_transfer.models.arbitrary.conditioning_embedding`).

Both work on float arrays (H, W, 3) in [0, 1] and are applied after the
network, so stills and video frames get them the same way. Before them, every
picture the network paints passes `check_painted`, on every path (one photo,
a batch, tiles, video frames, the web page).
"""

import numpy as np

from style_transfer.base.errors import BadInput

# ITU-R BT.601 luma weights; Cb and Cr are scaled differences from luma.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_CB_SCALE = 0.5 / (1.0 - 0.114)
_CR_SCALE = 0.5 / (1.0 - 0.299)


def check_painted(pictures):
    """Returns `pictures` (the network's output) if every value is finite.

    A model whose weights overflow paints NaN; mixed with the photo or saved,
    it would become black or arbitrary pixels that look like a picture.

    Raises:
        BadInput: a NaN or infinite value.
    """
    if not np.all(np.isfinite(pictures)):
        raise BadInput("the model painted NaN or infinite pixels: its weights overflow or are "
                       "damaged; use an earlier checkpoint or train again.")
    return pictures


def rgb_to_ycbcr(image):
    """(H, W, 3) RGB in [0, 1] -> Y, Cb, Cr (Y in [0, 1], Cb and Cr in [-0.5, 0.5])."""
    image = np.asarray(image, np.float32)
    luma = image @ _LUMA
    cb = (image[..., 2] - luma) * _CB_SCALE
    cr = (image[..., 0] - luma) * _CR_SCALE
    return np.stack([luma, cb, cr], axis=-1)


def ycbcr_to_rgb(ycbcr):
    """The inverse of `rgb_to_ycbcr` (not clipped)."""
    ycbcr = np.asarray(ycbcr, np.float32)
    luma, cb, cr = ycbcr[..., 0], ycbcr[..., 1], ycbcr[..., 2]
    red = luma + cr / _CR_SCALE
    blue = luma + cb / _CB_SCALE
    green = (luma - _LUMA[0] * red - _LUMA[2] * blue) / _LUMA[1]
    return np.stack([red, green, blue], axis=-1)


def preserve_color(photo, stylized):
    """The stylization's luminance with the photo's chroma: float32 (H, W, 3) in [0, 1].

    Colours the stylization's luminance cannot carry (a saturated colour on
    a very bright or dark pixel) are clipped to [0, 1].
    """
    photo, stylized = _same_shape(photo, stylized)
    combined = rgb_to_ycbcr(photo)
    combined[..., 0] = rgb_to_ycbcr(stylized)[..., 0]
    return np.clip(ycbcr_to_rgb(combined), 0.0, 1.0)


def check_strength(strength):
    """`strength` as a float in [0, 1]; a `BadInput` naming the value otherwise."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise BadInput(f"strength must be a number in [0, 1]; received {strength!r}.") from None
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"strength must be in [0, 1] (0: the photo, 1: the full style); "
                       f"received {strength!r}.")
    return value


def mix_with_photo(photo, stylized, strength):
    """s * stylized + (1 - s) * photo: the photo at s = 0, the stylization at s = 1."""
    strength = check_strength(strength)
    photo, stylized = _same_shape(photo, stylized)
    if strength == 1.0:
        return stylized
    return (strength * stylized + (1.0 - strength) * photo).astype(np.float32)


def apply(photo, stylized, strength=1.0, preserve_colors=False):
    """Both options in their order: colours first, then the mix with the photo."""
    if preserve_colors:
        stylized = preserve_color(photo, stylized)
    return mix_with_photo(photo, stylized, strength)


def _same_shape(photo, stylized):
    photo = np.asarray(photo, np.float32)
    stylized = np.asarray(stylized, np.float32)
    if photo.shape != stylized.shape or photo.shape[-1:] != (3,):
        raise BadInput(f"the photo {photo.shape} and its stylization {stylized.shape} must be "
                       f"(height, width, 3) of the same size.")
    return photo, stylized


def check_picture_size(height, width):
    """Refuses a picture with a side under the network's `MIN_SIDE_PX`, which no runtime can
    pad (each failed in its own words, or painted what the Keras network refuses)."""
    from style_transfer.models.network import MIN_SIDE_PX

    if min(height, width) < MIN_SIDE_PX:
        raise BadInput(f"the network paints pictures of at least {MIN_SIDE_PX}x{MIN_SIDE_PX} "
                       f"pixels; received {width}x{height}.")
