"""The demo: trains, draws its grid and loss plot, and stops cleanly where it cannot run."""

import keras
import numpy as np
import pytest
from PIL import Image

from style_transfer import cli
from style_transfer.demo import blend_weights, demo, generated_styles


@pytest.mark.slow
def test_a_short_demo_writes_pictures_that_differ_per_style(tmp_path):
    written = demo(tmp_path / "demo", vgg_weights="random", quick=True, steps=4, progress=False)

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
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--vgg-weights random" in error
    assert not (tmp_path / "demo").exists()


def test_earlier_demo_outputs_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "grid.png").write_bytes(b"an earlier grid")
    arguments = ["demo", "--out", str(out), "--vgg-weights", "random", "--quiet"]
    assert cli.main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--overwrite" in error
    assert (out / "grid.png").read_bytes() == b"an earlier grid"
