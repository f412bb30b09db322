"""The demos: the pretrained one paints in every style; the training one trains, draws its grid
and loss plot; both stop cleanly where they cannot run."""

import keras
import numpy as np
import pytest
from PIL import Image

from style_transfer.base.errors import BadInput
from style_transfer.cli import main as cli
from style_transfer.demo import (
    BLEND_STYLES,
    blend_weights,
    ellipse_mask,
    generated_styles,
    training_demo,
)
from style_transfer.models.network import StyleTransferNetwork


@pytest.mark.slow
def test_a_short_demo_writes_pictures_that_differ_per_style(tmp_path):
    written = training_demo(tmp_path / "demo", vgg_weights="random", quick=True, steps=4,
                            progress=False)

    for name in ("grid", "losses"):
        with Image.open(written[name]) as picture:
            assert picture.format == "PNG" and min(picture.size) > 200
    assert written["model"].is_file()
    stylized = written["stylized"]
    names = list(generated_styles())
    assert list(stylized)[: len(names)] == names
    assert len(stylized) == len(names) + len(blend_weights(len(names)))
    for first in range(len(names)):
        for second in range(first + 1, len(names)):
            difference = np.abs(stylized[names[first]] - stylized[names[second]]).max()
            assert difference > 1e-4, (names[first], names[second])


def test_blends_are_convex_neighbour_pairs_and_the_even_mix():
    blends = blend_weights(3)
    assert list(blends) == [(0, 1), (1, 2), (0, 1, 2)]
    for weights in blends.values():
        assert weights.min() >= 0 and np.isclose(weights.sum(), 1.0)


def test_generated_styles_are_distinct_rgb_images():
    styles = list(generated_styles(64).values())
    for image in styles:
        assert image.shape == (64, 64, 3) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
    means = [image.mean(axis=(0, 1)) for image in styles]
    assert min(np.abs(a - b).max() for i, a in enumerate(means) for b in means[i + 1:]) > 0.05


def test_without_imagenet_weights_the_demo_says_what_to_pass(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    assert cli.main(["demo", "--train", "--out", str(tmp_path / "demo"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--vgg-weights random" in error
    assert not (tmp_path / "demo").exists()


def test_earlier_demo_outputs_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "grid.png").write_bytes(b"an earlier grid")
    arguments = ["demo", "--train", "--out", str(out), "--vgg-weights", "random", "--quiet"]
    assert cli.main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--overwrite" in error
    assert (out / "grid.png").read_bytes() == b"an earlier grid"


@pytest.mark.slow
def test_the_pretrained_demo_paints_every_style_blends_and_a_spatial_blend(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("STYLE_TRANSFER_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 0
    with Image.open(tmp_path / "demo" / "contact_sheet.png") as sheet:
        # The photo and 26 styles: 6 columns of 256 px tiles, 5 rows of 170 px, 2 px gaps.
        assert sheet.size == (6 * 256 + 5 * 2, 5 * 170 + 4 * 2)
        tiles = np.asarray(sheet.convert("RGB"), np.float32)
    first_styles = [tiles[20:170, 258 * column:258 * column + 256] for column in (1, 2, 3)]
    assert min(np.abs(a - b).mean() for a, b in [first_styles[:2], first_styles[1:]]) > 10
    with Image.open(tmp_path / "demo" / "blends.png") as blends:
        assert blends.size == (5 * 256, 4 * 170)  # photo + 3 styles; 3 pairs x 5 weights
        blends = np.asarray(blends.convert("RGB"), np.float32)
    with Image.open(tmp_path / "demo" / "spatial_blend.png") as spatial:
        assert spatial.size == (451, 300)  # the photo's own size
        spatial = np.asarray(spatial.convert("RGB"), np.float32)
    # In pixels: the blends are the API's figure of BLEND_STYLES, and the spatial blend is
    # the first style inside the ellipse and the second outside it.
    from style_transfer.base import images
    from style_transfer.models.loading import load_model
    from style_transfer.painting import figures, stylize

    network = load_model("android-26")
    photo = images.sample_photo("chelsea")
    expected, _ = figures.interpolation_grid(network, images.resize_long_side(photo, 256),
                                             list(BLEND_STYLES))
    assert np.abs(blends - np.round(expected * 255)).max() <= 1
    inside, outside = (np.round(stylize.stylize(network, photo, style) * 255)
                       for style in BLEND_STYLES[:2])
    centre, corner = (slice(130, 170), slice(205, 245)), (slice(0, 30), slice(0, 40))
    assert np.abs(spatial[centre] - inside[centre]).max() <= 1
    assert np.abs(spatial[corner] - outside[corner]).max() <= 1
    assert np.abs(inside[corner] - outside[corner]).mean() > 10
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 2  # no --overwrite


def test_the_spatial_blend_mask_is_one_style_inside_the_ellipse_and_the_other_outside():
    mask = ellipse_mask((300, 400))
    assert mask[150, 200] == 0 and mask[0, 0] == 255 and mask[150, 0] == 255
    assert 0 < mask[150, 100 - 3] < 255 or 0 < mask[150, 100 + 3] < 255  # a soft edge
    assert len(BLEND_STYLES) == 3


def test_training_options_need_train(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--steps", "3"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--steps belongs to the training demo" in error


@pytest.mark.slow
def test_a_model_of_one_style_is_refused_before_any_picture_is_written(tmp_path, capsys):
    model = StyleTransferNetwork(1, alpha=0.25, style_names=["wave"])
    model.build()
    model.save(tmp_path / "one.keras")
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--model", str(tmp_path / "one.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "two styles or more" in error, error
    assert not out.exists() or not any(out.iterdir())


def test_a_seed_out_of_range_is_refused_before_earlier_outputs_are_replaced(tmp_path):
    out = tmp_path / "demo"
    (out / "styles").mkdir(parents=True)
    (out / "styles" / "style_0.png").write_bytes(b"an earlier style")
    with pytest.raises(BadInput, match=r"`seed` must be an integer from 0 to 2147483647"):
        training_demo(out, vgg_weights="random", quick=True, overwrite=True, seed=2**63)
    assert (out / "styles" / "style_0.png").read_bytes() == b"an earlier style"
