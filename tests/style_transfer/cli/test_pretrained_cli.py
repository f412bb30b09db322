"""The command line with pretrained models: `pretrained list | get`, and `--model NAME` anywhere."""

import numpy as np
import pytest
from PIL import Image

from style_transfer.cli import main as cli
from style_transfer.models import pretrained
from style_transfer.models.loading import load_pretrained, load_style_model


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def cache(shared_cache, monkeypatch):
    # One conversion of android-26 for the whole module.
    monkeypatch.setenv(pretrained.CACHE_ENVIRONMENT_VARIABLE, str(shared_cache))
    return shared_cache


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:40, 0:56]
    picture = np.stack([rows * 6, columns * 4, (rows + columns) * 2], -1)
    picture = picture + rng.integers(0, 30, (40, 56, 3))
    path = tmp_path / "photo.png"
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path)
    return path


def test_pretrained_list_shows_every_model_its_source_licence_and_cache_state(capsys):
    assert cli.main(["pretrained", "list"]) == 0
    shown = capsys.readouterr().out
    for entry in pretrained.REGISTRY.values():
        assert f"{entry.name}: {entry.num_styles} styles, {entry.architecture}" in shown
        assert entry.licence in shown
    assert "http://download.magenta.tensorflow.org/models/" in shown


@pytest.mark.slow
def test_pretrained_get_writes_the_converted_model(tmp_path, capsys):
    out = tmp_path / "android.keras"
    assert cli.main(["pretrained", "get", "android-26", "--out", str(out)]) == 0
    model = load_style_model(out)
    assert model.num_styles == 26 and model.architecture.expand == (8, 4)
    assert cli.main(["pretrained", "get", "android-26", "--out", str(out)]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err


def test_pretrained_get_refuses_an_existing_out_before_converting(tmp_path, capsys,
                                                                  monkeypatch):
    def convert(*args):
        raise AssertionError("converted (or downloaded) for an --out that is refused")

    monkeypatch.setattr(pretrained, "ensure_cached", convert)
    out = tmp_path / "monet.keras"
    out.write_bytes(b"mine")
    assert cli.main(["pretrained", "get", "magenta-monet", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "already exists" in error and "--overwrite" in error
    assert out.read_bytes() == b"mine"


def test_pretrained_get_of_an_unknown_name_lists_the_names(tmp_path, capsys):
    assert cli.main(["pretrained", "get", "picasso", "--out", str(tmp_path / "m.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "android-26, magenta-monet" in error


@pytest.mark.parametrize("source, reason", [("none.onnx", "the file does not exist"),
                                            ("folder", "it is a folder, not a file"),
                                            ("/dev/zero", "(a device, pipe or socket)")])
def test_pretrained_get_from_what_is_not_a_file_says_what_it_is(tmp_path, capsys, source,
                                                                 reason):
    (tmp_path / "folder").mkdir()
    source = source if source.startswith("/") else str(tmp_path / source)
    assert cli.main(["pretrained", "get", "android-26", "--from", source, "--out",
                     str(tmp_path / "m.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.endswith(f"{reason}."), error
    assert not (tmp_path / "m.keras").exists()


def painted_by_the_library(photo, style):
    """android-26's painting of `photo` in `style`, through the Python API, as 8-bit."""
    from style_transfer.models.loading import load_model
    from style_transfer.painting import stylize

    with Image.open(photo) as original:
        array = np.asarray(original, np.float32) / 255
    painted = stylize.stylize(load_model("android-26"), array, style)
    return np.round(painted * 255)


@pytest.mark.slow
def test_stylize_without_a_model_paints_with_android_26(photo, tmp_path):
    out = tmp_path / "style3.png"
    assert cli.main(["stylize", str(photo), "--style", "3", "--out", str(out), "--quiet"]) == 0
    with Image.open(out) as picture:
        assert picture.size == (56, 40)
        painted = np.asarray(picture, np.float32)
    # android-26's style 3 itself: within one 8-bit step of the library's, and far from
    # its neighbour style 4.
    assert np.abs(painted - painted_by_the_library(photo, 3)).max() <= 1
    assert np.abs(painted - painted_by_the_library(photo, 4)).mean() > 10


@pytest.mark.slow
def test_stylize_contact_sheet_shows_the_photo_and_every_style(photo, tmp_path):
    out = tmp_path / "sheet.png"
    assert cli.main(["stylize", "--model", "android-26", str(photo), "--contact-sheet",
                     "--out", str(out), "--quiet"]) == 0
    with Image.open(out) as sheet:
        # 27 tiles of 56 x 40 in 6 columns (5 rows), 2 px apart.
        assert sheet.size == (6 * 56 + 5 * 2, 5 * 40 + 4 * 2)
        sheet = np.asarray(sheet.convert("RGB"), np.float32)

    def tile(index):  # Its lower half: the label is written in the top-left corner.
        row, column = divmod(index, 6)
        return sheet[row * 42 + 20:row * 42 + 40, column * 58:column * 58 + 56]

    with Image.open(photo) as original:
        assert np.abs(tile(0) - np.asarray(original, np.float32)[20:]).max() <= 1
    for style in (0, 13, 25):  # The first, one between and the last, in their places.
        assert np.abs(tile(style + 1) - painted_by_the_library(photo, style)[20:]).max() <= 1


def test_a_name_that_is_neither_a_file_nor_pretrained_is_a_one_line_error(photo, tmp_path,
                                                                           capsys):
    assert cli.main(["stylize", "--model", "monet", str(photo), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "neither a model file nor a pretrained model" in error and "android-26" in error


@pytest.mark.slow
def test_rename_remove_and_export_take_a_pretrained_name(tmp_path):
    renamed = tmp_path / "renamed.keras"
    assert cli.main(["rename-style", "--model", "android-26", "--style", "style_19",
                     "--to", "swirls", "--out", str(renamed)]) == 0
    assert load_style_model(renamed).style_names[19] == "swirls"
    fewer = tmp_path / "fewer.keras"
    assert cli.main(["remove-style", "--model", "android-26", "--style", "style_0",
                     "--out", str(fewer)]) == 0
    assert load_style_model(fewer).num_styles == 25
    assert cli.main(["export", "--model", "android-26", "--format", "savedmodel",
                     "--out", str(tmp_path / "served")]) == 0
    assert (tmp_path / "served" / "saved_model.pb").is_file()


@pytest.mark.slow
def test_add_style_on_android_26_keeps_every_old_style_bit_identical(tmp_path, photo):
    content = tmp_path / "content"
    content.mkdir()
    for index in range(2):
        Image.open(photo).rotate(90 * index, expand=True).save(content / f"{index}.png")
    style = tmp_path / "stripes.png"
    stripes = (np.indices((64, 64)).sum(0) // 8 % 2 * 255).astype(np.uint8)
    Image.fromarray(np.stack([stripes, 255 - stripes, stripes // 2], -1)).save(style)
    out = tmp_path / "android27.keras"
    assert cli.main([
        "add-style", "--model", "android-26", "--styles", str(style), "--content", str(content),
        "--out", str(out), "--steps", "2", "--batch-size", "2", "--image-size", "32",
        "--style-size", "32", "--init", "identity", "--vgg-weights", "random", "--quiet",
    ]) == 0
    base, grown = load_pretrained("android-26"), load_style_model(out)
    assert grown.num_styles == 27 and grown.style_names[-1] == "stripes"
    images = np.random.default_rng(1).uniform(size=(2, 24, 32, 3)).astype("float32")
    for old in (0, 25):
        ids = np.array([old, old])
        np.testing.assert_array_equal(np.asarray(grown(images, ids)), np.asarray(base(images, ids)))
    for base_weight, grown_weight in zip(base.weights, grown.weights):
        if not base_weight.path.endswith(("gamma", "beta")):
            np.testing.assert_array_equal(np.asarray(base_weight), np.asarray(grown_weight))
