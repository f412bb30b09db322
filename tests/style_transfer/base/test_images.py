"""Reading, saving and listing image files (`style_transfer.base.images`)."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from tests.style_transfer.builders import (
    ADOBE_RGB_COLORANTS,
    ADOBE_RGB_GAMMA,
    SRGB_COLORANTS,
    SRGB_CURVE,
    cmyk_icc_profile,
    icc_profile,
    srgb_from_adobe_rgb,
    srgb_from_press_cmyk,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _random_rgb(height=6, width=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _write(image, path, **options):
    image.save(path, **options)
    return path


def _assert_rgb_float(array, height, width):
    assert array.shape == (height, width, 3)
    assert array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 1.0


# Formats and colour modes.


@pytest.mark.parametrize(
    "name, options",
    [("a.png", {}), ("a.bmp", {}), ("a.tiff", {}), ("a.webp", {"lossless": True})],
)
def test_lossless_formats_load_exact_rgb_values(tmp_path, name, options):
    pixels = _random_rgb()
    path = _write(Image.fromarray(pixels), tmp_path / name, **options)
    loaded = images.load_image(path)
    _assert_rgb_float(loaded, 6, 8)
    np.testing.assert_allclose(loaded, pixels / 255.0, atol=1e-7)


def test_jpeg_loads_close_to_its_pixels(tmp_path):
    path = _write(Image.new("RGB", (16, 16), (200, 100, 50)), tmp_path / "a.jpg", quality=95)
    loaded = images.load_image(path)
    _assert_rgb_float(loaded, 16, 16)
    np.testing.assert_allclose(loaded, np.broadcast_to([200 / 255, 100 / 255, 50 / 255], loaded.shape), atol=0.02)


def test_greyscale_is_repeated_over_the_three_channels(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    loaded = images.load_image(_write(Image.fromarray(grey, "L"), tmp_path / "grey.png"))
    np.testing.assert_allclose(loaded, np.repeat(grey[..., None], 3, axis=-1) / 255.0, atol=1e-7)


def test_one_bit_image_loads_as_black_and_white(tmp_path):
    bits = np.zeros((4, 4), dtype=bool)
    bits[:, 2:] = True
    loaded = images.load_image(_write(Image.fromarray(bits), tmp_path / "bits.png"))
    _assert_rgb_float(loaded, 4, 4)
    np.testing.assert_array_equal(loaded[:, :2], 0.0)
    np.testing.assert_array_equal(loaded[:, 2:], 1.0)


def test_16_bit_png_is_scaled_by_65535(tmp_path):
    grey = np.array([[0, 65535, 32768, 257]], dtype=np.uint16)
    path = _write(Image.fromarray(grey), tmp_path / "deep.png")
    assert Image.open(path).mode in ("I;16", "I")
    loaded = images.load_image(path)
    _assert_rgb_float(loaded, 1, 4)
    np.testing.assert_allclose(loaded[0, :, 0], grey[0] / 65535.0, rtol=1e-6)
    np.testing.assert_array_equal(loaded[..., 0], loaded[..., 2])


def test_32_bit_integer_tiff_is_read_as_16_bit(tmp_path):
    grey = np.array([[0, 65535, 16384]], dtype=np.int32)
    path = _write(Image.fromarray(grey, "I"), tmp_path / "deep.tif")
    loaded = images.load_image(path)
    np.testing.assert_allclose(loaded[0, :, 1], grey[0] / 65535.0, rtol=1e-6)


def test_16_bit_png_loads_as_8_bit_pil_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 65535, 32896]], dtype=np.uint16)
    pil = images.load_pil(_write(Image.fromarray(grey), tmp_path / "deep.png"))
    assert pil.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil)[0, :, 0], [0, 255, 128])


def test_float_tiff_is_clipped_to_unit_range(tmp_path):
    values = np.array([[-0.5, 0.25, 2.0]], dtype=np.float32)
    loaded = images.load_image(_write(Image.fromarray(values, "F"), tmp_path / "float.tif"))
    np.testing.assert_allclose(loaded[0, :, 0], [0.0, 0.25, 1.0])


def test_palette_image_loads_its_palette_colours(tmp_path):
    palette_image = Image.new("P", (3, 1))
    palette_image.putpalette([*RED, *GREEN, *BLUE])
    palette_image.putdata([0, 1, 2])
    loaded = images.load_image(_write(palette_image, tmp_path / "palette.png"))
    np.testing.assert_array_equal(loaded[0] * 255, [RED, GREEN, BLUE])


def test_palette_transparent_colour_becomes_white(tmp_path):
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([*RED, *GREEN])
    palette_image.putdata([0, 1])
    path = _write(palette_image, tmp_path / "palette.png", transparency=1)
    loaded = images.load_image(path)
    np.testing.assert_array_equal(loaded[0] * 255, [RED, WHITE])


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.array([[[0, 0, 255, 255], [0, 0, 255, 0], [0, 0, 255, 128]]], dtype=np.uint8)
    loaded = images.load_image(_write(Image.fromarray(rgba, "RGBA"), tmp_path / "alpha.png"))
    half = (255 * 127) / 255 / 255  # white weighted by 1 - 128/255
    np.testing.assert_allclose(loaded[0], [[0, 0, 1], [1, 1, 1], [half, half, 1]], atol=1 / 255)


def test_greyscale_with_alpha_is_composited_on_white(tmp_path):
    grey_alpha = np.array([[[0, 255], [0, 0]]], dtype=np.uint8)
    loaded = images.load_image(_write(Image.fromarray(grey_alpha, "LA"), tmp_path / "la.png"))
    np.testing.assert_array_equal(loaded[0], [[0, 0, 0], [1, 1, 1]])


def _rgba_with_a_transparent_region(height=6, width=8):
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, : width // 2] = 0
    alpha[0, -1] = 128
    return np.dstack([_random_rgb(height, width), alpha])


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_the_alpha_channel_is_given_with_the_picture_composited_on_white(tmp_path, mode):
    picture = Image.fromarray(_rgba_with_a_transparent_region(), "RGBA")
    if mode == "P":  # A palette with one transparent colour.
        picture = picture.convert("RGB").quantize(8)
        picture.info["transparency"] = 0
    else:
        picture = picture.convert(mode)
    path = _write(picture, tmp_path / "alpha.png")
    loaded, alpha = images.load_image_alpha(path)
    np.testing.assert_array_equal(loaded, images.load_image(path))
    np.testing.assert_array_equal(alpha, np.asarray(picture.convert("RGBA"))[..., 3])
    assert alpha.dtype == np.uint8 and alpha.min() == 0


def test_a_picture_without_transparency_has_no_alpha_channel(tmp_path):
    loaded, alpha = images.load_image_alpha(_write(Image.fromarray(_random_rgb()),
                                                   tmp_path / "rgb.png"))
    assert alpha is None and loaded.shape == (6, 8, 3)


def test_the_alpha_channel_is_turned_and_resized_with_the_picture(tmp_path):
    rgba = _rgba_with_a_transparent_region(20, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show: the transparent left half on top
    path = _write(Image.fromarray(rgba, "RGBA"), tmp_path / "turned.png", exif=exif)
    loaded, alpha = images.load_image_alpha(path, max_size=20)
    assert loaded.shape == (20, 10, 3) and alpha.shape == (20, 10)
    # Transparent on top, opaque below, but for Lanczos's ringing next to the edge.
    assert alpha[:8].max() <= 2 and alpha[12:18].min() >= 253


@pytest.mark.parametrize("name", ["out.png", "out.webp"])
def test_an_alpha_channel_is_saved_exactly_where_the_format_keeps_one(tmp_path, name):
    rgba = _rgba_with_a_transparent_region()
    images.save_image(rgba[..., :3], tmp_path / name, alpha=rgba[..., 3])
    with Image.open(tmp_path / name) as saved:
        assert saved.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(saved)[..., 3], rgba[..., 3])
        if name.endswith(".png"):
            np.testing.assert_array_equal(np.asarray(saved)[..., :3], rgba[..., :3])


@pytest.mark.parametrize("name", ["out.jpg", "out.bmp"])
def test_formats_without_alpha_are_saved_in_rgb(tmp_path, name):
    rgba = _rgba_with_a_transparent_region()
    images.save_image(rgba[..., :3], tmp_path / name, alpha=rgba[..., 3])
    with Image.open(tmp_path / name) as saved:
        assert saved.mode == "RGB"


def test_an_alpha_channel_of_another_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"alpha channel must be uint8 of shape \(6, 8\)"):
        images.save_image(_random_rgb(), tmp_path / "out.png", alpha=np.zeros((8, 6), np.uint8))
    assert not (tmp_path / "out.png").exists()


def test_cmyk_tiff_is_converted_to_rgb(tmp_path):
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 0, 0))
    loaded = images.load_image(_write(cmyk, tmp_path / "cmyk.tif"))
    np.testing.assert_array_equal(loaded[0, 0] * 255, [255, 0, 255])


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    loaded = images.load_image(_write(cmyk, tmp_path / "cmyk.jpg", quality=95))
    _assert_rgb_float(loaded, 16, 16)
    np.testing.assert_allclose(loaded[8, 8], [1, 0, 0], atol=0.02)


def test_lab_tiff_is_converted_to_srgb_grey_for_neutral_colours(tmp_path):
    lab = Image.new("LAB", (2, 2), (255, 128, 128))
    loaded = images.load_image(_write(lab, tmp_path / "lab.tif"))
    np.testing.assert_allclose(loaded[0, 0], [1, 1, 1], atol=2 / 255)


# Embedded ICC colour profiles.

ADOBE_RGB = icc_profile("Adobe RGB (1998)", ADOBE_RGB_GAMMA, ADOBE_RGB_COLORANTS)


@pytest.mark.parametrize("name", ["adobe.png", "adobe.tiff", "adobe.webp"])
def test_an_adobe_rgb_picture_is_converted_to_srgb(tmp_path, name):
    pixels = _random_rgb(16, 16)
    options = {"lossless": True} if name.endswith(".webp") else {}
    path = _write(Image.fromarray(pixels), tmp_path / name, icc_profile=ADOBE_RGB, **options)
    loaded = images.load_image(path)
    np.testing.assert_allclose(loaded, srgb_from_adobe_rgb(pixels), atol=1 / 255)
    # Read as if it were sRGB, its colours were off by tens of levels.
    assert np.abs(loaded - pixels / 255).max() > 40 / 255


def test_an_adobe_rgb_jpeg_reads_as_its_untagged_pixels_converted(tmp_path):
    pixels = _random_rgb(16, 16)
    _write(Image.fromarray(pixels), tmp_path / "plain.jpg", quality=95)
    _write(Image.fromarray(pixels), tmp_path / "adobe.jpg", quality=95, icc_profile=ADOBE_RGB)
    stored = np.round(images.load_image(tmp_path / "plain.jpg") * 255)
    np.testing.assert_allclose(images.load_image(tmp_path / "adobe.jpg"),
                               srgb_from_adobe_rgb(stored), atol=1 / 255)


def test_a_grey_gamma_profile_is_converted_to_srgb_grey(tmp_path):
    grey = np.arange(0, 256, 5, dtype=np.uint8).reshape(4, 13)
    path = _write(Image.fromarray(grey, "L"), tmp_path / "grey.png",
                  icc_profile=icc_profile("Gray Gamma 1.8", 1.8))
    linear = (grey / 255) ** 1.8
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    # Within a level, but for a level and a half in the darkest greys (LittleCMS's tables).
    np.testing.assert_allclose(images.load_image(path), np.repeat(srgb[..., None], 3, -1),
                               atol=1.5 / 255)


def test_transparency_is_composited_on_white_after_the_colour_conversion(tmp_path):
    pixels = _random_rgb(4, 6)
    alpha = np.full((4, 6), 255, np.uint8)
    alpha[:, :3] = 0
    path = _write(Image.fromarray(np.dstack([pixels, alpha]), "RGBA"), tmp_path / "alpha.png",
                  icc_profile=ADOBE_RGB)
    loaded = images.load_image(path)
    np.testing.assert_array_equal(loaded[:, :3], 1.0)
    np.testing.assert_allclose(loaded[:, 3:], srgb_from_adobe_rgb(pixels[:, 3:]), atol=1 / 255)


@pytest.mark.parametrize("profile", [
    None,
    ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    icc_profile("sRGB IEC61966-2.1", SRGB_CURVE, SRGB_COLORANTS),
], ids=["untagged", "littlecms-srgb", "camera-srgb"])
@pytest.mark.parametrize("name", ["photo.png", "photo.jpg"])
def test_srgb_and_untagged_pictures_read_bit_for_bit_as_stored(tmp_path, profile, name):
    pixels = _random_rgb(16, 16)
    options = {} if profile is None else {"icc_profile": profile}
    _write(Image.fromarray(pixels), tmp_path / "untagged.jpg", quality=90)
    path = _write(Image.fromarray(pixels), tmp_path / name, quality=90, **options)
    # What a reader without colour management gives: the stored pixels over 255.
    stored = pixels if name.endswith(".png") else np.asarray(Image.open(tmp_path / "untagged.jpg"))
    np.testing.assert_array_equal(images.load_image(path), stored / np.float32(255))


@pytest.mark.parametrize("profile, reason", [
    (b"not a colour profile", "cannot open profile"),
    (icc_profile("Gray Gamma 2.2", 2.2), "a profile of GRAY colours for RGB pixels"),
], ids=["damaged", "grey-profile-on-rgb"])
def test_a_profile_that_cannot_be_used_reads_the_pixels_as_srgb_with_one_warning(
        tmp_path, profile, reason):
    pixels = _random_rgb()
    path = _write(Image.fromarray(pixels), tmp_path / "photo.png", icc_profile=profile)
    with pytest.warns(images.ColourProfileWarning, match=f"{reason}.*read as sRGB") as caught:
        loaded = images.load_image(path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert str(path) in str(caught[0].message)
    np.testing.assert_array_equal(loaded, pixels / np.float32(255))


# CMYK pictures (print workflows) and their profiles.

PRESS_CMYK = cmyk_icc_profile()


def _random_cmyk(height=16, width=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)


@pytest.mark.parametrize("name, options", [("press.tif", {}), ("press.jpg", {"quality": 95})])
def test_a_cmyk_picture_is_converted_to_srgb_through_its_profile(tmp_path, name, options):
    profile = ImageCms.ImageCmsProfile(io.BytesIO(PRESS_CMYK)).profile  # LittleCMS reads it
    assert (profile.xcolor_space, profile.connection_space) == ("CMYK", "Lab ")
    path = _write(Image.fromarray(_random_cmyk(), "CMYK"), tmp_path / name,
                  icc_profile=PRESS_CMYK, **options)
    with Image.open(path) as stored:
        # A JPEG holds Adobe's inverted CMYK (its APP14 marker), which Pillow un-inverts.
        assert stored.mode == "CMYK" and (name.endswith(".tif") or "adobe" in stored.info)
        cmyk = np.asarray(stored)
    loaded = images.load_image(path)
    # LittleCMS interpolates the profile's table by tetrahedra and the reference
    # multilinearly: 1.5 levels apart at most over 262,144 random pixels.
    np.testing.assert_allclose(loaded, srgb_from_press_cmyk(cmyk), atol=2 / 255)
    # Pillow's formula, which knows no press, was off by tens of levels.
    naive = np.asarray(Image.fromarray(cmyk, "CMYK").convert("RGB")) / 255
    assert np.abs(loaded - naive).max() > 40 / 255


@pytest.mark.parametrize("reader", ["load_pil", "load_image_alpha", "read_image_bytes"])
def test_every_reader_converts_a_cmyk_picture_through_its_profile(tmp_path, reader):
    # Training reads with load_pil; stylize and stylize-dataset with load_image_alpha;
    # the web server's uploads with read_image_bytes.
    cmyk = _random_cmyk(9, 13)
    path = _write(Image.fromarray(cmyk, "CMYK"), tmp_path / "press.tif", icc_profile=PRESS_CMYK)
    if reader == "load_pil":
        picture = np.asarray(images.load_pil(path)) / 255
    elif reader == "load_image_alpha":
        picture, alpha = images.load_image_alpha(path)
        assert alpha is None
    else:
        picture = images.read_image_bytes(path.read_bytes(), max_pixels=1000)
    np.testing.assert_allclose(picture, srgb_from_press_cmyk(cmyk), atol=2 / 255)


@pytest.mark.parametrize("name, options", [("plain.tif", {}), ("plain.jpg", {"quality": 95})])
def test_a_cmyk_picture_without_a_profile_reads_as_before(tmp_path, name, options):
    path = _write(Image.fromarray(_random_cmyk(), "CMYK"), tmp_path / name, **options)
    with Image.open(path) as stored:
        assert "icc_profile" not in stored.info
        # What load_image gave before CMYK profiles were read: Pillow's formula,
        # R = (255 - C)(255 - K) / 255 rounded, likewise G and B.
        before = np.asarray(stored.convert("RGB"))
        cmyk = np.asarray(stored).astype(int)
    np.testing.assert_array_equal(
        before, np.round((255 - cmyk[..., :3]) * (255 - cmyk[..., 3:]) / 255))
    np.testing.assert_array_equal(images.load_image(path), before / np.float32(255))


@pytest.mark.parametrize("profile, reason", [
    (b"not a colour profile", "cannot open profile from string"),
    (PRESS_CMYK[:1000], "cannot build transform"),
    (ADOBE_RGB, "a profile of RGB colours for CMYK pixels"),
], ids=["damaged", "truncated", "rgb-profile-on-cmyk"])
def test_a_cmyk_profile_that_cannot_be_used_warns_once_and_reads_as_without(
        tmp_path, profile, reason):
    picture = Image.fromarray(_random_cmyk(), "CMYK")
    plain = _write(picture, tmp_path / "plain.tif")
    path = _write(picture, tmp_path / "odd.tif", icc_profile=profile)
    with pytest.warns(images.ColourProfileWarning,
                      match=f"{reason}.*converted to RGB as without a profile") as caught:
        loaded = images.load_image(path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert str(path) in str(caught[0].message)
    np.testing.assert_array_equal(loaded, images.load_image(plain))


def test_gif_loads_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    path = tmp_path / "animation.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    loaded = images.load_image(path)
    _assert_rgb_float(loaded, 4, 4)
    np.testing.assert_array_equal(loaded.reshape(-1, 3) * 255, np.tile(RED, (16, 1)))


def test_exif_orientation_6_is_applied(tmp_path):
    # Stored 40 wide, 20 high: dark left half, bright right half. Orientation 6 means
    # "rotate 90 degrees clockwise to display", which puts the left half on top.
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, 20:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _write(Image.fromarray(stored), tmp_path / "rotated.jpg", exif=exif, quality=95)
    loaded = images.load_image(path)
    assert loaded.shape == (40, 20, 3)
    assert loaded[:15].mean() < 0.05 and loaded[25:].mean() > 0.95


# Resizing.


def test_max_size_downsizes_the_long_side_with_lanczos(tmp_path):
    pixels = _random_rgb(height=40, width=100)
    path = _write(Image.fromarray(pixels), tmp_path / "wide.png")
    loaded = images.load_image(path, max_size=50)
    assert loaded.shape == (20, 50, 3)
    expected = np.asarray(Image.fromarray(pixels).resize((50, 20), Image.Resampling.LANCZOS)) / 255.0
    np.testing.assert_allclose(loaded, expected, atol=1e-7)


def test_max_size_never_upsizes(tmp_path):
    path = _write(Image.fromarray(_random_rgb(height=30, width=20)), tmp_path / "small.png")
    assert images.load_image(path, max_size=100).shape == (30, 20, 3)


def test_max_size_of_a_large_jpeg_gives_the_exact_long_side(tmp_path):
    path = _write(Image.new("RGB", (1000, 600), (10, 120, 240)), tmp_path / "large.jpg")
    loaded = images.load_image(path, max_size=128)
    assert loaded.shape == (77, 128, 3)
    np.testing.assert_allclose(loaded.mean(axis=(0, 1)), np.array([10, 120, 240]) / 255, atol=0.02)


def test_shorter_side_resizes_down_and_up_keeping_aspect(tmp_path):
    path = _write(Image.fromarray(_random_rgb(height=30, width=60)), tmp_path / "wide.png")
    assert images.load_image(path, shorter_side=10).shape == (10, 20, 3)
    assert images.load_image(path, shorter_side=60).shape == (60, 120, 3)


@pytest.mark.parametrize("max_size", [0, -3, 2.5])
def test_invalid_max_size_raises(tmp_path, max_size):
    path = _write(Image.fromarray(_random_rgb()), tmp_path / "a.png")
    with pytest.raises(ValueError, match="max_size"):
        images.load_image(path, max_size=max_size)


# Read errors.


def test_missing_file_raises_image_read_error_naming_it(tmp_path):
    with pytest.raises(images.ImageReadError, match="missing.png.*does not exist"):
        images.load_image(tmp_path / "missing.png")


def test_text_file_raises_image_read_error(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    with pytest.raises(images.ImageReadError, match="notes.jpg.*not an image"):
        images.load_image(path)


def test_truncated_file_raises_one_line_image_read_error(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_random_rgb(height=64, width=64)).save(buffer, format="PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    images.open_image(path).close()  # the header is intact
    with pytest.raises(images.ImageReadError) as raised:
        images.load_image(path)
    assert "truncated.png" in str(raised.value) and "\n" not in str(raised.value)


def test_folder_raises_image_read_error(tmp_path):
    with pytest.raises(images.ImageReadError, match="folder"):
        images.load_image(tmp_path)


def test_image_read_error_is_a_value_error():
    assert issubclass(images.ImageReadError, ValueError)


# Saving.


def test_saved_png_round_trips_exactly(tmp_path):
    pixels = _random_rgb()
    path = images.save_image(pixels, tmp_path / "out.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)


def test_float_arrays_are_clipped_and_rounded_to_uint8(tmp_path):
    values = np.array([[[-0.5, 0.2, 1.5], [0.0, 1.0, 0.5]]], dtype=np.float32)
    path = images.save_image(values, tmp_path / "out.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), [[[0, 51, 255], [0, 255, 128]]])


@pytest.mark.parametrize("name, image_format", [("out.jpg", "JPEG"), ("out.JPEG", "JPEG"), ("out.webp", "WEBP"), ("out.bmp", "BMP")])
def test_format_follows_the_extension(tmp_path, name, image_format):
    path = images.save_image(_random_rgb(), tmp_path / name)
    assert Image.open(path).format == image_format


def test_save_refuses_to_overwrite(tmp_path):
    path = images.save_image(np.zeros((4, 4, 3)), tmp_path / "out.png")
    with pytest.raises(BadInput, match="already exists; replacing it takes `overwrite`"):
        images.save_image(np.ones((4, 4, 3)), path)
    assert np.asarray(Image.open(path)).max() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_save_with_overwrite_replaces_the_file(tmp_path):
    path = images.save_image(np.zeros((4, 4, 3)), tmp_path / "out.png")
    images.save_image(np.ones((4, 4, 3)), path, overwrite=True)
    assert np.asarray(Image.open(path)).min() == 255


def test_failed_save_leaves_no_file(tmp_path):
    rgba = Image.new("RGBA", (4, 4))  # JPEG cannot store alpha
    with pytest.raises(BadInput, match="cannot write .*out.jpg: cannot write mode RGBA as JPEG"):
        images.save_image(rgba, tmp_path / "out.jpg")
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_unsupported_extension(tmp_path):
    with pytest.raises(ValueError, match="'.gif'"):
        images.save_image(_random_rgb(), tmp_path / "out.gif")


def test_save_rejects_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        images.save_image(np.full((2, 2, 3), np.nan), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_to_pil_accepts_greyscale_with_channel_axis():
    pil = images.to_pil(np.full((3, 5, 1), 1.0))
    assert pil.mode == "L" and pil.size == (5, 3)


def test_to_pil_rejects_four_channels():
    with pytest.raises(ValueError, match=r"\(3, 5, 4\)"):
        images.to_pil(np.zeros((3, 5, 4)))


# Listing.


def test_find_images_is_recursive_sorted_and_case_insensitive(tmp_path):
    for name in ["b.JPG", "a.png", "sub/c.tiff", "sub/deeper/d.WebP", "notes.txt", "e.gif", "f.bmp", "g.jpeg", "h.tif"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    found = [path.relative_to(tmp_path).as_posix() for path in images.find_images(tmp_path)]
    assert found == ["a.png", "b.JPG", "e.gif", "f.bmp", "g.jpeg", "h.tif", "sub/c.tiff", "sub/deeper/d.WebP"]


def test_find_images_leaves_hidden_files_and_folders_out(tmp_path):
    # macOS's AppleDouble companions, Jupyter's checkpoints, an interrupted write's temporary.
    for name in ["a.png", "._a.png", ".ipynb_checkpoints/b.png", "sub/.c.png.x1y2.partial.png",
                 "sub/.thumbnails/d.jpg", "sub/e.jpg"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [path.relative_to(tmp_path).as_posix() for path in images.find_images(tmp_path)]
    assert found == ["a.png", "sub/e.jpg"]
    # A hidden folder named as the folder itself is listed.
    assert images.find_images(tmp_path / ".ipynb_checkpoints") == [
        tmp_path / ".ipynb_checkpoints" / "b.png"]


def test_find_images_in_missing_folder_raises(tmp_path):
    with pytest.raises(images.ImageFolderError, match="does not exist"):
        images.find_images(tmp_path / "missing")
    assert issubclass(images.ImageFolderError, ValueError)


def test_find_images_in_a_file_raises(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"")
    with pytest.raises(images.ImageFolderError, match="not a folder"):
        images.find_images(path)


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "I;16"])
def test_uploaded_bytes_read_as_the_same_file_loads(tmp_path, mode):
    pixels = np.random.default_rng(0).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        picture = Image.fromarray(np.asarray(picture).astype(np.uint16) * 257)
    picture.save(tmp_path / "upload.png")
    uploaded = images.read_image_bytes((tmp_path / "upload.png").read_bytes(), max_pixels=1000)
    np.testing.assert_array_equal(uploaded, images.load_image(tmp_path / "upload.png"))


@pytest.mark.parametrize("mode", ["RGBA", "RGB"])
def test_uploaded_bytes_give_the_alpha_channel_as_the_same_file_loads(tmp_path, mode):
    picture = Image.fromarray(_rgba_with_a_transparent_region(), "RGBA").convert(mode)
    path = _write(picture, tmp_path / "upload.png")
    uploaded, alpha = images.read_image_bytes_alpha(path.read_bytes(), max_pixels=1000)
    loaded, loaded_alpha = images.load_image_alpha(path)
    np.testing.assert_array_equal(uploaded, loaded)
    if mode == "RGB":
        assert alpha is None and loaded_alpha is None
    else:
        assert alpha.dtype == np.uint8
        np.testing.assert_array_equal(alpha, loaded_alpha)


def test_uploaded_bytes_are_converted_from_their_colour_profile(tmp_path):
    pixels = _random_rgb(9, 13)
    path = _write(Image.fromarray(pixels), tmp_path / "upload.png", icc_profile=ADOBE_RGB)
    uploaded = images.read_image_bytes(path.read_bytes(), max_pixels=1000)
    np.testing.assert_allclose(uploaded, srgb_from_adobe_rgb(pixels), atol=1 / 255)


def test_uploaded_bytes_follow_the_exif_orientation(tmp_path):
    picture = Image.new("RGB", (20, 10), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    picture.save(tmp_path / "rotated.jpg", exif=exif)
    assert images.read_image_bytes((tmp_path / "rotated.jpg").read_bytes(), 1000).shape == (20, 10, 3)


def test_uploads_over_the_pixel_limit_are_refused_from_their_header():
    data = io.BytesIO()
    Image.new("RGB", (100, 50)).save(data, "PNG")
    with pytest.raises(images.ImageTooLargeError, match=r"100 x 50 pixels .* at most 0.004"):
        images.read_image_bytes(data.getvalue(), max_pixels=4000)
    assert images.read_image_bytes(data.getvalue(), max_pixels=5000).shape == (50, 100, 3)


def test_uploads_in_formats_other_than_photos_are_refused():
    data = io.BytesIO()
    Image.new("RGB", (8, 8)).save(data, "PPM")
    with pytest.raises(images.ImageReadError, match="not an image in one of the accepted formats"):
        images.read_image_bytes(data.getvalue(), max_pixels=1000)


def test_a_postscript_file_is_never_handed_to_ghostscript(tmp_path, monkeypatch):
    # Pillow opens EPS files and decodes them by running Ghostscript on them.
    from PIL import EpsImagePlugin

    def ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was run on a user's file")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    path = tmp_path / "photo.jpg"
    path.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n%%EOF\n")
    with pytest.raises(images.ImageReadError, match="not an image format"):
        images.load_image(path)


def test_image_bytes_round_trip_losslessly_as_png():
    pixels = np.random.default_rng(1).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    for level in (1, 6):
        decoded = Image.open(io.BytesIO(images.image_bytes(pixels, compress_level=level)))
        np.testing.assert_array_equal(np.asarray(decoded), pixels)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_image_bytes_carry_an_alpha_channel_exactly(image_format):
    rgba = _rgba_with_a_transparent_region()
    data = images.image_bytes(rgba[..., :3], image_format, alpha=rgba[..., 3])
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(decoded)[..., 3], rgba[..., 3])
    assert Image.open(io.BytesIO(images.image_bytes(rgba[..., :3], "JPEG",
                                                    alpha=rgba[..., 3]))).mode == "RGB"
    with pytest.raises(ValueError, match=r"alpha channel must be uint8 of shape \(6, 8\)"):
        images.image_bytes(rgba[..., :3], image_format, alpha=rgba[:3, :, 3])


def test_an_alpha_channel_is_resized_as_a_pictures_channels_are():
    alpha = _rgba_with_a_transparent_region(30, 40)[..., 3]
    resized = images.resize_alpha(alpha, (12, 16))
    as_picture = images.resize(np.repeat(alpha[..., None], 3, axis=-1) / 255.0, (12, 16))
    assert resized.dtype == np.uint8 and resized.shape == (12, 16)
    np.testing.assert_array_equal(resized, images.to_uint8(as_picture[..., 0]))
    assert images.resize_alpha(alpha, (30, 40)) is alpha
