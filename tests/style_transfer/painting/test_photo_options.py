"""Photo options: colours preserved (luminance from the painting, chroma from the photo) and
strength (the photo at 0, the painting at 1), in the API and through `stylize.painter`."""

import numpy as np
import pytest
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.painting import photo_options, stylize


def random_image(seed, shape=(20, 28, 3)):
    # Mid-range values, so that moving the luminance keeps colours inside [0, 1].
    return (0.3 + 0.4 * np.random.default_rng(seed).random(shape)).astype(np.float32)


def test_ycbcr_matches_pillows_jpeg_conversion_and_inverts():
    image = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(image).convert("YCbCr"), np.float32)
    ours = photo_options.rgb_to_ycbcr(image / 255.0) * 255 + [0, 128, 128]
    assert np.abs(ours - pillow).max() <= 1.0  # Pillow rounds to integers
    np.testing.assert_allclose(photo_options.ycbcr_to_rgb(photo_options.rgb_to_ycbcr(image / 255)),
                               image / 255, atol=1e-5)


def test_preserve_color_takes_luminance_from_the_painting_and_chroma_from_the_photo():
    photo, painting = random_image(1), random_image(2)
    result = photo_options.preserve_color(photo, painting)
    ycbcr = photo_options.rgb_to_ycbcr(result)
    np.testing.assert_allclose(ycbcr[..., 0], photo_options.rgb_to_ycbcr(painting)[..., 0], atol=1e-5)
    np.testing.assert_allclose(ycbcr[..., 1:], photo_options.rgb_to_ycbcr(photo)[..., 1:], atol=1e-5)


def test_preserve_color_of_a_grey_photo_is_the_grey_of_the_painting():
    grey_photo = np.repeat(random_image(3)[..., :1], 3, axis=-1)
    painting = random_image(4)
    result = photo_options.preserve_color(grey_photo, painting)
    luma = painting @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(result, np.repeat(luma[..., None], 3, axis=-1), atol=1e-5)


@pytest.mark.slow
def test_strength_0_is_the_photo_1_the_painting_and_between_a_pixel_mix(model):
    photo = random_image(5)
    painting = stylize.stylize(model, photo, "wave")
    np.testing.assert_array_equal(stylize.stylize(model, photo, "wave", strength=0.0), photo)
    np.testing.assert_array_equal(stylize.stylize(model, photo, "wave", strength=1.0), painting)
    np.testing.assert_allclose(stylize.stylize(model, photo, "wave", strength=0.25),
                               0.25 * painting + 0.75 * photo, atol=1e-6)


def test_stylize_with_preserve_color_keeps_the_photos_chroma(model):
    photo = random_image(6)
    painting = stylize.stylize(model, photo, "scream")
    kept = stylize.stylize(model, photo, "scream", preserve_color=True)
    np.testing.assert_allclose(kept, photo_options.preserve_color(photo, painting), atol=1e-6)


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan"), "strong"])
def test_strength_outside_0_1_is_refused(model, strength):
    with pytest.raises(BadInput, match="strength"):
        stylize.painter(model, "wave", strength=strength)


@pytest.mark.slow
def test_painter_paints_as_stylize_does(model):
    photo = random_image(7)
    paint = stylize.painter(model, "udnie", strength=0.5, preserve_color=True)
    np.testing.assert_allclose(
        paint(photo), stylize.stylize(model, photo, "udnie", strength=0.5, preserve_color=True),
        atol=1e-6)


def test_painter_refuses_style_images_for_a_table_model_and_a_missing_style(model):
    with pytest.raises(BadInput, match="arbitrary-style model"):
        stylize.painter(model, None, style_images=[random_image(8)])
    with pytest.raises(BadInput, match="choose a style"):
        stylize.painter(model)
