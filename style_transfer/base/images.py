"""Image files in and out: reading any image Pillow opens as RGB, atomic saving, folder listing.

Every reader returns what a style network consumes: RGB, float32 in [0, 1], shape
(height, width, 3). Training, the stylize command, the notebooks and the tests all go
through these functions, so an image looks the same wherever it is read.
"""

import functools
import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra
from style_transfer.base.files import atomic_write, describe_os_error, not_a_regular_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")

# What `read_image_bytes` opens by default: the formats people send as photos.
UPLOAD_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
# The formats written that keep an alpha channel (`save_image`'s `alpha`); JPEG has none, and
# many readers of BMP ignore it.
ALPHA_FORMATS = ("PNG", "WEBP")

# Formats Pillow decodes by running another program on the file: EPS is handed to
# Ghostscript, an interpreter of PostScript (a programming language). Files are never
# opened as these: a file a user names, whatever its extension, runs no code.
PROGRAM_FORMATS = ("EPS",)

# Greyscale modes with more than 8 bits per pixel; Pillow's own convert("RGB") clips
# them at 255 instead of scaling, so they are scaled here. Mode "I" (32-bit integers)
# is what Pillow uses for 16-bit PNG and TIFF files too, so it is read as 16-bit.
_HIGH_DEPTH_GREY_MAXIMUM = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535}

# An embedded colour profile that moves no colour of a lattice (every 15th level of each
# channel) by more than this many levels of 255 on its way to sRGB is sRGB itself, whoever
# made it: its pixels are kept exactly as they are stored.
SRGB_TOLERANCE_LEVELS = 1


class ImageReadError(BadInput):
    """A file is missing, is not an image, or its image data cannot be decoded."""


class ImageTooLargeError(ImageReadError):
    """An image whose header gives more pixels than the reader accepts (e.g. a decompression bomb)."""


class ImageFolderError(BadInput):
    """A folder of images does not exist or is not a folder."""


class ColourProfileWarning(UserWarning):
    """An image's embedded ICC colour profile cannot be used: its pixels are read as sRGB
    (CMYK ones converted to RGB as those of a CMYK picture without a profile)."""


def open_image(path):
    """Opens an image lazily: reads the header only, decodes no pixels.

    Args:
        path: Image file (str or path-like).

    Returns:
        An unloaded `PIL.Image.Image` positioned on its first frame.

    Raises:
        ImageReadError: The file is missing, is a folder, a device, a pipe or a
            socket, is not an image Pillow can read, or its header gives an empty
            size.
    """
    path = Path(path)
    problem = not_a_regular_file(path)  # A named pipe would block Image.open forever.
    if problem is not None:
        raise ImageReadError(f"Cannot read image {path}: {problem}.")
    try:
        image = Image.open(path, formats=_file_formats())
    except FileNotFoundError:
        raise ImageReadError(f"Cannot read image {path}: the file does not exist.") from None
    except IsADirectoryError:
        raise ImageReadError(f"Cannot read image {path}: it is a folder, not a file.") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"Cannot read image {path}: not an image format Pillow can read.") from None
    except OSError as error:
        raise ImageReadError(f"Cannot read image {path}: {describe_os_error(error)}.") from None
    except (ValueError, Image.DecompressionBombError) as error:
        raise ImageReadError(f"Cannot read image {path}: {_one_line(error)}") from None
    if image.width < 1 or image.height < 1:
        raise ImageReadError(f"Cannot read image {path}: its header gives an empty size {image.size}.")
    return image


def _file_formats():
    """The formats `open_image` opens: every one Pillow reads but `PROGRAM_FORMATS`."""
    Image.init()
    return tuple(name for name in Image.OPEN if name not in PROGRAM_FORMATS)


def load_pil(path, max_size=None, *, shorter_side=None):
    """Reads an image file as an 8-bit RGB `PIL.Image.Image`.

    Same reading rules as `load_image` (colour modes, transparency, EXIF orientation,
    resizing); 16-bit greyscale is scaled to 8 bits.
    """
    image, _ = _decode(path, max_size, shorter_side)
    if image.mode == "F":
        return to_pil(_float_array(image))
    return image


def load_image(path, max_size=None, *, shorter_side=None):
    """Reads an image file as a float32 RGB array `(height, width, 3)` in [0, 1].

    Reads every format Pillow opens (JPEG, PNG, BMP, WebP, TIFF; GIF and other
    animations give their first frame) in every colour mode:
    - greyscale ("L", "1") is repeated over the three channels;
    - 16-bit greyscale ("I;16", "I") is divided by 65535, keeping its precision;
    - 32-bit float greyscale ("F") is taken as already in [0, 1] and clipped;
    - palette ("P"), CMYK, YCbCr, HSV and LAB are converted to sRGB;
    - an embedded ICC colour profile of an RGB, greyscale or palette picture that is
      not sRGB (Adobe RGB, Display P3, a grey gamma) converts its colours to sRGB
      (`ColourProfileWarning`, and the pixels taken as sRGB, for a profile that cannot
      be used); pictures in sRGB or without a profile are read as they are stored;
    - a CMYK picture (a JPEG or TIFF from print) is converted to sRGB through its
      embedded CMYK profile (ISO Coated, US Web Coated SWOP, ...); without one, or with
      one that cannot be used (`ColourProfileWarning`), by Pillow's formula
      (R = (255 - C)(255 - K) / 255, likewise G and B), as before profiles were read;
    - transparency (RGBA, LA, PA, palettes with a transparent colour) is composited
      on a white background, so transparent pixels read as white (`load_image_alpha`
      also gives the alpha channel, to put back on a painting with `save_image`).
    The EXIF orientation tag is applied, so the array is upright as a viewer shows it.

    Args:
        path: Image file (str or path-like).
        max_size: If given, a larger image is downsized (Lanczos) so that its longer
            side is `max_size` pixels; smaller images are never enlarged.
        shorter_side: If given, the image is resized (Lanczos, down or up) so that its
            shorter side is `shorter_side` pixels, keeping its aspect ratio. Give at
            most one of `max_size` and `shorter_side`. When either shrinks a JPEG,
            it is decoded at 1/2, 1/4 or 1/8 scale first (never below the target
            size), then resized.

    Returns:
        float32 array `(height, width, 3)` with values in [0, 1].

    Raises:
        ImageReadError (a `BadInput`, so a ValueError): The file is missing, not an
            image, or its data is corrupt or truncated. The message names the file
            and the reason on one line.
    """
    return _float_array(_decode(path, max_size, shorter_side)[0])


def load_image_alpha(path, max_size=None, *, shorter_side=None):
    """`load_image`'s picture and the file's alpha channel, to put back on a painting of it.

    The picture is composited on white, as `load_image` reads it; the alpha channel
    is the file's own, upright and resized (Lanczos) as the picture is.

    Returns:
        (picture, alpha): the float32 array `(height, width, 3)` in [0, 1], and a
        uint8 array `(height, width)` (0 transparent, 255 opaque), or None for an
        image without transparency (RGB, greyscale, CMYK, ...).

    Raises:
        ImageReadError: as `load_image`.
    """
    image, alpha = _decode(path, max_size, shorter_side)
    return _float_array(image), None if alpha is None else np.asarray(alpha)


def read_image_bytes(data, max_pixels, what="upload", formats=UPLOAD_FORMATS):
    """Decodes the bytes of an image file someone sent (an upload), with the rules of `load_image`.

    The header is read first: a picture of more than `max_pixels` is refused
    before any pixel is decoded, so a small file that would expand into
    gigabytes (a decompression bomb) costs nothing. Only `formats` are opened
    (Pillow would otherwise also hand, e.g., EPS files to Ghostscript).

    Args:
        data: The file's bytes.
        max_pixels: Largest width x height accepted.
        what: How messages name the data ("upload", "style image").
        formats: Pillow format names accepted.

    Returns:
        float32 array `(height, width, 3)` in [0, 1].

    Raises:
        ImageTooLargeError: more than `max_pixels` pixels.
        ImageReadError: not an image in one of `formats`, or damaged or truncated data.
    """
    return read_image_bytes_alpha(data, max_pixels, what, formats)[0]


def read_image_bytes_alpha(data, max_pixels, what="upload", formats=UPLOAD_FORMATS):
    """`read_image_bytes`'s picture (same arguments, checks and errors) and the upload's alpha
    channel, to put back on a painting of it.

    Returns:
        (picture, alpha) as `load_image_alpha` gives them: the float32 array
        `(height, width, 3)` in [0, 1], composited on white, and a uint8 array
        `(height, width)` (upright as the picture), or None for an image without
        transparency.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise ImageReadError(f"Cannot read the {what}: not an image in one of the accepted "
                             f"formats ({', '.join(formats)}).") from None
    except Image.DecompressionBombError as error:  # Pillow's own, far larger, limit
        raise ImageTooLargeError(f"The {what} is too large: {_one_line(error)}") from None
    except (OSError, ValueError) as error:
        raise ImageReadError(f"Cannot read the {what}: {_one_line(error)}") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageReadError(f"Cannot read the {what}: its header gives an empty size {image.size}.")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The {what} is {width} x {height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"at most {max_pixels / 1e6:g} megapixels are accepted.")
    picture, alpha = _upright_rgb(image, f"the {what}", None)
    return _float_array(picture), None if alpha is None else np.asarray(alpha)


def to_uint8(picture):
    """Float pixels in [0, 1] as uint8: clipped, scaled and rounded as `to_pil` does, in one
    float32 buffer (video frames: no float64 temporaries)."""
    pixels = np.multiply(picture, 255.0, dtype=np.float32)
    np.clip(pixels, 0.0, 255.0, out=pixels)
    np.rint(pixels, out=pixels)
    return pixels.astype(np.uint8)


def to_pil(image):
    """Converts an RGB or greyscale image array to an 8-bit `PIL.Image.Image`.

    Args:
        image: Array-like `(height, width, 3)`, `(height, width, 1)` or
            `(height, width)`: uint8 in [0, 255], or floats in [0, 1] (clipped to
            [0, 1], then scaled and rounded to uint8).

    Raises:
        ValueError: The shape is not one of the above, or float values are NaN or
            infinite (a diverged network; saving it as black would hide that).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(
            f"Expected an image array of shape (height, width, 3), (height, width, 1) "
            f"or (height, width); got shape {array.shape}."
        )
    if array.dtype != np.uint8:
        array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError("The image array contains NaN or infinite values.")
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(array, "RGB" if array.ndim == 3 else "L")


def save_image(image, path, overwrite=False, alpha=None):
    """Writes an image file atomically (`files.atomic_write`); the format follows the extension.

    A reader never sees a half-written file and a failure leaves no file behind.

    Args:
        image: A `PIL.Image.Image`, or an array accepted by `to_pil` (floats in
            [0, 1] are clipped and rounded to uint8).
        path: Destination; extension .png, .jpg, .jpeg, .webp or .bmp (any case).
            JPEG and WebP are written at quality 95 (WebP's alpha losslessly).
            Missing folders are created.
        overwrite: Replace an existing file instead of refusing.
        alpha: An alpha channel, uint8 `(height, width)` as `load_image_alpha` gives
            it, put on the picture where the format keeps one (`ALPHA_FORMATS`: PNG,
            WebP); JPEG and BMP files are written in RGB without it. None: no alpha.

    Returns:
        The destination as a `Path`.

    Raises:
        BadInput (a ValueError): an unsupported extension, an existing file
            without `overwrite`, or a destination that cannot be written.
        ValueError: An array `to_pil` rejects, or an alpha channel that is not
            uint8 of the picture's size.
    """
    path = Path(path)
    image_format = SAVE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise BadInput(
            f"Cannot save {path}: unsupported extension {path.suffix!r}; "
            f"expected one of {', '.join(SAVE_FORMATS)}."
        )
    if not isinstance(image, Image.Image):
        image = to_pil(image)
    image = _with_alpha(image, alpha, image_format)
    options = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
    with atomic_write(path, overwrite=overwrite) as file:
        image.save(file, format=image_format, **options)
    return path


def image_bytes(image, image_format="PNG", compress_level=6, alpha=None):
    """An image encoded in memory (what a server sends instead of writing a file).

    Args:
        image: A `PIL.Image.Image`, or an array accepted by `to_pil`.
        image_format: "PNG" (lossless), "JPEG" or "WEBP" (quality 95).
        compress_level: PNG's zlib level, 0-9 (1 is several times faster than
            the default 6 for a few percent more bytes).
        alpha: An alpha channel put on the picture as `save_image` puts it (PNG,
            WebP; JPEG stays RGB), or None.

    Raises:
        ValueError: An array `to_pil` rejects, or an alpha channel that is not
            uint8 of the picture's size.
    """
    if not isinstance(image, Image.Image):
        image = to_pil(image)
    image = _with_alpha(image, alpha, image_format)
    options = {"compress_level": compress_level} if image_format == "PNG" else {"quality": 95}
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _with_alpha(image, alpha, image_format):
    """`image` (PIL) with `alpha` (uint8 (height, width), checked) as its alpha channel where
    `image_format` keeps one (`ALPHA_FORMATS`); itself when `alpha` is None."""
    if alpha is None:
        return image
    alpha = np.asarray(alpha)
    if alpha.dtype != np.uint8 or alpha.shape != (image.height, image.width):
        raise ValueError(f"An alpha channel must be uint8 of shape "
                         f"{(image.height, image.width)}; got {alpha.dtype} of shape "
                         f"{alpha.shape}.")
    if image_format not in ALPHA_FORMATS:
        return image
    image = image.convert("RGB")
    image.putalpha(Image.fromarray(alpha, "L"))
    return image


def resize(image, size):
    """Resizes a float image (H, W, 3) in [0, 1] to `size` = (height, width), Lanczos.

    Each channel is resized in 32-bit float by Pillow (no rounding to 8 bits); the
    result is clipped to [0, 1] (Lanczos overshoots at sharp edges).
    """
    image = np.asarray(image, dtype=np.float32)
    height, width = size
    if (height, width) == image.shape[:2]:
        return image
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[..., channel]), "F").resize(
            (width, height), Image.Resampling.LANCZOS))
        for channel in range(image.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0)


def resize_alpha(alpha, size):
    """Resizes an alpha channel, uint8 (H, W), to `size` = (height, width) as `resize` resizes
    a picture's channels (Lanczos in 32-bit float, clipped), rounded back to uint8."""
    alpha = np.asarray(alpha)
    if tuple(size) == alpha.shape:
        return alpha
    return to_uint8(resize(alpha[..., None].astype(np.float32) / 255.0, size)[..., 0])


def resize_long_side(image, size):
    """Resizes a float image (H, W, 3) so that its longer side is `size` pixels."""
    return resize(image, long_side_shape(np.shape(image)[:2], size))


def long_side_shape(shape, size):
    """The (height, width) to which `resize_long_side` resizes an image of `shape`."""
    height, width = shape
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def center_square(image, size):
    """The centred square crop of a float image (H, W, 3), resized to (size, size, 3)."""
    image = np.asarray(image, dtype=np.float32)
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(image[top:top + side, left:left + side], (size, size))


def find_images(folder):
    """Lists the image files under a folder, recursively, in sorted order.

    Args:
        folder: Folder to search (str or path-like).

    Returns:
        Sorted list of `Path`s whose extension (any case) is one of
        `IMAGE_EXTENSIONS`. Files are not opened: see `open_image` for that.
        Hidden files and folders (names starting with ".") are left out: macOS's
        `._photo.jpg` companions, `.ipynb_checkpoints`, thumbnail caches, and the
        temporaries of an interrupted write (`.NAME.RANDOM.partial.png`).

    Raises:
        ImageFolderError: `folder` does not exist, is not a folder, or it or a
            folder inside it cannot be listed (permission denied).
    """
    folder = Path(folder)
    if not folder.exists():
        raise ImageFolderError(f"Image folder {folder} does not exist.")
    if not folder.is_dir():
        raise ImageFolderError(f"Image folder {folder} is not a folder.")

    def unreadable(error):
        # A folder that cannot be listed would silently drop its images.
        raise ImageFolderError(f"Cannot read folder {error.filename}: "
                               f"{describe_os_error(error)}.")

    found = []
    for root, folders, names in os.walk(folder, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(root) / name for name in names
                  if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(path for path in found if path.is_file())


def _decode(path, max_size, shorter_side):
    """Decodes to an upright, resized PIL image in mode "RGB", or "F" (grey in [0, 1]), and
    its alpha channel (mode "L", upright and resized too) or None."""
    if max_size is not None and shorter_side is not None:
        raise BadInput("Give at most one of max_size and shorter_side.")
    for name, value in (("max_size", max_size), ("shorter_side", shorter_side)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise BadInput(f"{name} must be a positive integer or None; got {value!r}.")

    image = open_image(path)
    image, alpha = _upright_rgb(image, f"image {path}",
                                _target_size(image.size, max_size, shorter_side))
    target_size = _target_size(image.size, max_size, shorter_side)
    if target_size is not None and target_size != image.size:
        image = image.resize(target_size, Image.Resampling.LANCZOS)
        if alpha is not None:
            alpha = alpha.resize(target_size, Image.Resampling.LANCZOS)
    return image, alpha


def _upright_rgb(image, shown, draft_size):
    """Decodes an opened image: EXIF orientation applied, mode "RGB" or "F" (grey in [0, 1]),
    composited on white; and its alpha channel (mode "L") or None."""
    try:
        with image:
            if draft_size is not None:
                # JPEGs decode straight at 1/2, 1/4 or 1/8 scale (never below the
                # target), which makes large photos several times faster to read.
                image.draft(None, draft_size)
            image = ImageOps.exif_transpose(image)
            return _to_rgb_or_float_grey(image, shown)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageReadError(f"Cannot read {shown}: {_one_line(error)}") from None


def _target_size(size, max_size, shorter_side):
    """(width, height) to resize to, or None to keep the size."""
    width, height = size
    if shorter_side is not None:
        scale = shorter_side / min(width, height)
    elif max_size is not None and max(width, height) > max_size:
        scale = max_size / max(width, height)
    else:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb_or_float_grey(image, shown):
    """(mode "RGB" or "F" image, alpha channel or None): see `_upright_rgb`."""
    mode = image.mode
    if mode in _HIGH_DEPTH_GREY_MAXIMUM:
        grey = np.asarray(image, dtype=np.float32) / _HIGH_DEPTH_GREY_MAXIMUM[mode]
        return Image.fromarray(np.clip(grey, 0.0, 1.0), "F"), None
    if mode == "F":
        return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0), "F"), None
    if mode == "LAB":
        lab_to_srgb = ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
        )
        return ImageCms.applyTransform(image, lab_to_srgb), None
    image = _in_srgb(image, shown)
    mode = image.mode
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        rgba = image.convert("RGBA")
        return Image.alpha_composite(white, rgba).convert("RGB"), rgba.getchannel("A")
    return image.convert("RGB"), None


def _in_srgb(image, shown):
    """An RGB, greyscale, palette or CMYK image (alpha kept) with its colours converted from
    its embedded ICC profile to sRGB: mode "RGB" or "RGBA"; the image itself when it has no
    profile, another colour mode, or a profile that is sRGB already
    (`SRGB_TOLERANCE_LEVELS`). A profile that cannot be used (damaged, or of another
    colour space than the pixels) warns (`ColourProfileWarning`, one line) and leaves the
    pixels as they are: taken as sRGB, or CMYK ones for the caller's `convert("RGB")`, as
    without a profile."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "L", "LA", "P", "CMYK"):
        return image
    if image.mode == "P":  # The palette's colours are in the profile's space.
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    colour_mode = {"L": "L", "LA": "L", "CMYK": "CMYK"}.get(image.mode, "RGB")
    try:
        transform = _to_srgb_transform(bytes(profile), colour_mode)
    except (OSError, ValueError, ImageCms.PyCMSError) as error:
        reason = _one_line(error).rstrip(".")
        instead = ("converted to RGB as without a profile" if colour_mode == "CMYK"
                   else "read as sRGB")
        warnings.warn(f"the colour profile of {shown} cannot be used ({reason}); its pixels "
                      f"are {instead}.", ColourProfileWarning, stacklevel=2)
        return image
    if transform is None:
        return image
    converted = ImageCms.applyTransform(image.convert(colour_mode), transform)
    if image.mode in ("RGBA", "LA"):
        converted.putalpha(image.getchannel("A"))
    return converted


@functools.lru_cache(maxsize=16)
def _to_srgb_transform(profile, colour_mode):
    """The transform of `colour_mode` ("RGB", "L" or "CMYK") pixels from the ICC `profile`
    (bytes) to 8-bit sRGB, or None when the profile is sRGB already (cached: the photos of
    one camera share a profile; LittleCMS transforms may be applied by several threads at
    once, the web server's, since each call copies the transform's cache).

    The rendering intent is perceptual, the one the profile's maker tuned for photos (its
    'A2B0' table, where a CMYK profile has several); LittleCMS converts perceptually to
    its sRGB profile (version 4) with black point compensation, so a press's black (L*
    5 to 20) reads as sRGB's black, not as a dark grey. Matrix-shaper RGB and grey
    profiles convert the same in every intent.

    Raises:
        OSError, ImageCms.PyCMSError: a profile that cannot be read, or not of the
            colour space of the pixels.
    """
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    expected = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}[colour_mode]
    space = source.profile.xcolor_space.strip()
    if space != expected:
        raise OSError(f"a profile of {space or 'no'} colours for {expected} pixels")
    # buildTransform's default rendering intent: perceptual.
    transform = ImageCms.buildTransform(source, _srgb_profile(), colour_mode, "RGB")
    if colour_mode == "CMYK":  # never sRGB
        return transform
    levels = np.arange(0, 256, 15, dtype=np.uint8)
    if colour_mode == "RGB":
        lattice = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1)
        lattice = lattice.reshape(1, -1, 3)
        probe, expected_rgb = Image.fromarray(lattice, "RGB"), lattice
    else:
        probe = Image.fromarray(levels[None], "L")
        expected_rgb = np.repeat(levels[None, :, None], 3, axis=-1)
    moved = np.abs(np.asarray(ImageCms.applyTransform(probe, transform), np.int16)
                   - expected_rgb.astype(np.int16))
    return None if moved.max() <= SRGB_TOLERANCE_LEVELS else transform


@functools.cache
def _srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _float_array(image):
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=-1)
    return np.asarray(image, dtype=np.float32) / 255.0


def _one_line(error):
    message = " ".join(str(error).split()) or type(error).__name__
    return message if message.endswith(".") else message + "."


def sample_photo(name):
    """A colour photo bundled with scikit-image, float32 (H, W, 3) in [0, 1]."""
    data = import_extra("skimage.data", "demo", "scikit-image's sample photos")
    photo = getattr(data, name)()
    if isinstance(photo, tuple):  # stereo_motorcycle: (left, right, disparity)
        photo = photo[0]
    return photo.astype(np.float32) / 255.0


def folder_fingerprint(folder):
    """{"count", "sha256"} of the image files under `folder`: their paths, sizes and mtimes.

    Stat only, no reading: an added, removed, renamed or rewritten photo changes it
    (the content stream is a function of the sorted file list and the files), and a
    folder of 100,000 photos is fingerprinted in a second. A file rewritten with
    the same size and modification time is the one change it misses.

    Raises:
        BadInput: the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"content folder {str(folder)!r} does not exist or is not a folder.")
    digest = hashlib.sha256()
    files = find_images(folder)
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                      .encode())
    return {"count": len(files), "sha256": digest.hexdigest()}
