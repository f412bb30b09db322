"""`style-transfer stylize` through `style_transfer.cli.main.main`: outputs, names, errors, exit codes."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from style_transfer.base.images import load_image
from style_transfer.cli.main import main
from style_transfer.painting import stylize
from tests.style_transfer.builders import (
    ADOBE_RGB_COLORANTS,
    ADOBE_RGB_GAMMA,
    NAMES,
    icc_profile,
    photo_array,
    srgb_from_adobe_rgb,
    write_photo,  # noqa: E402
)


@pytest.fixture
def photo(tmp_path):
    return write_photo(tmp_path / "photo.png")


def run(capsys, *argv):
    code = main(["stylize", "--quiet", *argv])
    return code, capsys.readouterr()


@pytest.mark.slow
def test_every_style_by_default_named_after_it(capsys, model_file, photo, tmp_path):
    out = tmp_path / "out"
    code, _ = run(capsys, "--model", model_file, photo, "--out", str(out))
    assert code == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(f"photo__{name}.png" for name in NAMES)
    assert Image.open(out / "photo__wave.png").size == (21, 17)


@pytest.mark.slow
def test_output_matches_the_api(capsys, model, model_file, photo, tmp_path):
    run(capsys, "--model", model_file, photo, "--style", "scream", "--out", str(tmp_path / "o.png"))
    expected = np.round(stylize.stylize(model, load_image(photo), "scream") * 255)
    assert np.abs(np.asarray(Image.open(tmp_path / "o.png"), np.float32) - expected).max() <= 1


@pytest.mark.slow
def test_xla_gives_the_pictures_of_the_default_path(capsys, model, model_file, photo, tmp_path):
    code, _ = run(capsys, "--model", model_file, photo, "--style", "udnie", "--xla",
                  "--out", str(tmp_path / "o.png"))
    assert code == 0
    expected = np.round(stylize.stylize(model, load_image(photo), "udnie") * 255)
    assert np.abs(np.asarray(Image.open(tmp_path / "o.png"), np.float32) - expected).max() <= 1


@pytest.mark.slow
def test_blend_is_named_after_its_weights(capsys, model, model_file, photo, tmp_path):
    code, _ = run(capsys, "--model", model_file, photo, "--blend", "wave=0.7,scream=0.3",
                  "--out", str(tmp_path))
    assert code == 0
    expected = stylize.stylize(model, load_image(photo), {"wave": 0.7, "scream": 0.3})
    assert np.abs(written(tmp_path / "photo__wave0.7+scream0.3.png")
                  - as_8_bit(expected)).max() <= 1


@pytest.mark.slow
def test_normalize_accepts_weights_not_summing_to_one(capsys, model_file, photo, tmp_path):
    code, _ = run(capsys, "--model", model_file, photo, "--blend", "wave=3,udnie=1", "--normalize",
                  "--out", str(tmp_path))
    assert code == 0 and (tmp_path / "photo__wave0.75+udnie0.25.png").is_file()


def written(path):
    with Image.open(path) as picture:
        return np.asarray(picture, np.float32)


def as_8_bit(picture):
    return np.round(picture * 255)


@pytest.mark.slow
def test_mask_spatial_blend(capsys, model, model_file, photo, tmp_path):
    mask = np.zeros((5, 8), np.uint8)
    mask[:, 4:] = 1
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _ = run(capsys, "--model", model_file, photo, "--mask", str(tmp_path / "mask.png"),
                  "--mask-styles", "wave,udnie", "--out", str(tmp_path / "out"))
    assert code == 0
    painted = written(tmp_path / "out" / "photo__mask-wave+udnie.png")
    assert painted.shape == (17, 21, 3)
    # Away from the soft edge, the left half is wave's picture and the right half udnie's.
    wave, udnie = (as_8_bit(stylize.stylize(model, load_image(photo), style))
                   for style in ("wave", "udnie"))
    assert np.abs(painted[:, :7] - wave[:, :7]).max() <= 1
    assert np.abs(painted[:, 14:] - udnie[:, 14:]).max() <= 1
    assert np.abs(wave[:, 14:] - udnie[:, 14:]).mean() > 10


@pytest.mark.slow
def test_a_mask_is_read_upright_as_its_exif_orientation_says(capsys, model_file, photo,
                                                             tmp_path):
    upright = np.zeros((17, 21), np.uint8)
    upright[:, 10:] = 1
    Image.fromarray(upright).save(tmp_path / "upright.png")
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: upright
    stored.save(tmp_path / "rotated.png", exif=exif)
    for name in ("upright", "rotated"):
        code, _ = run(capsys, "--model", model_file, photo, "--mask", str(tmp_path / f"{name}.png"),
                      "--mask-styles", "wave,udnie", "--out", str(tmp_path / f"{name}_out.png"))
        assert code == 0
    np.testing.assert_array_equal(written(tmp_path / "rotated_out.png"),
                                  written(tmp_path / "upright_out.png"))


def record_mask_weights(monkeypatch):
    """The shapes of the weights `conditions` makes of a mask, in a list filled as they are."""
    from style_transfer.painting import conditions

    shapes = []

    def recorded(function):
        def making(*arguments):
            made = function(*arguments)
            shapes.append(np.shape(made[1] if isinstance(made, tuple) else made))
            return made
        return making

    for name in ("mask_to_weight_map", "mask_region_weights"):
        monkeypatch.setattr(conditions, name, recorded(getattr(conditions, name)))
    return shapes


@pytest.mark.slow
def test_a_mask_larger_than_the_photo_makes_no_weights_of_its_own_size(
        capsys, model_file, photo, tmp_path, monkeypatch):
    # Its labels are checked before any photo is read; a weight map of a 12-megapixel mask
    # (height x width x styles floats) took gigabytes and seconds for that check.
    shapes = record_mask_weights(monkeypatch)
    mask = np.zeros((600, 800), np.uint8)
    mask[:, 400:] = 1
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for mode in ("composite", "network"):
        code, _ = run(capsys, "--model", model_file, photo, "--mask", str(tmp_path / "mask.png"),
                      "--mask-styles", "wave,udnie", "--mask-mode", mode,
                      "--out", str(tmp_path / f"{mode}.png"))
        assert code == 0
    assert shapes and max(height * width for height, width, _ in shapes) <= 17 * 21


@pytest.mark.slow
def test_a_composite_mask_makes_weights_of_the_styles_it_uses_not_of_every_style(
        capsys, model, model_file, photo, tmp_path, monkeypatch):
    # The weights of a photo are (height, width, styles of the mask): 2 planes of a model of
    # 3 styles here, of 26 for android-26 (they were a plane per style of the model, and a
    # copy in float64 of it); the pictures are those of the weight map, bit for bit.
    from style_transfer.painting import conditions
    from style_transfer.painting.photo_options import apply

    shapes = record_mask_weights(monkeypatch)
    mask = np.zeros((5, 8), np.uint8)
    mask[:, 3:] = 1
    mask[3:, 6:] = 2
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _ = run(capsys, "--model", model_file, photo, "--mask", str(tmp_path / "mask.png"),
                  "--mask-styles", "udnie,wave,udnie", "--strength", "0.7",
                  "--out", str(tmp_path / "out.png"))
    assert code == 0
    assert shapes == [(8, 8, 2), (17, 21, 2)]  # the labels checked, then the photo's weights
    shapes.clear()
    picture = load_image(photo)
    with Image.open(tmp_path / "mask.png") as opened:
        weight_map = conditions.mask_to_weight_map(opened, 3, [2, 0, 2], (17, 21))
    before = apply(picture, stylize.composite_blend(model, picture, weight_map), 0.7, False)
    np.testing.assert_array_equal(written(tmp_path / "out.png"), as_8_bit(before))


@pytest.mark.slow
def test_grid_is_one_picture_of_rows_by_columns_tiles(capsys, model, model_file, photo,
                                                      tmp_path):
    code, _ = run(capsys, "--model", model_file, photo, "--grid", "--style", "wave",
                  "--style", "scream", "--out", str(tmp_path / "grid.png"))
    assert code == 0
    grid = written(tmp_path / "grid.png")
    assert grid.shape == (2 * 17, 5 * 21, 3)
    # The API's figure, labels included: row 0 the photo, wave, scream; row 1 the blends.
    from style_transfer.painting import figures

    expected = figures.interpolation_grid(model, load_image(photo), ["wave", "scream"])[0]
    assert np.abs(grid - as_8_bit(expected)).max() <= 1
    swapped = figures.interpolation_grid(model, load_image(photo), ["scream", "wave"])[0]
    assert np.abs(grid - as_8_bit(swapped)).mean() > 10


@pytest.mark.slow
def test_styles_lists_the_model_styles(capsys, model_file):
    code, captured = run(capsys, "--model", model_file, "--styles")
    assert code == 0 and captured.out.split() == ["0", "wave", "1", "scream", "2", "udnie"]


@pytest.mark.slow
def test_exif_orientation_and_max_size_are_honoured(capsys, model, model_file, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (30, 60, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif)
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "turned.jpg"), "--style", "0",
                  "--max-size", "40", "--out", str(tmp_path / "out.webp"))
    assert code == 0 and Image.open(tmp_path / "out.webp").size == (20, 40)
    # Turned as shown, in pixels: the painting of the photo turned by hand.
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "turned.jpg"), "--style", "0",
                  "--max-size", "40", "--out", str(tmp_path / "out.png"))
    with Image.open(tmp_path / "turned.jpg") as stored:
        upright = np.asarray(stored.transpose(Image.Transpose.ROTATE_270), np.float32) / 255
    from style_transfer.base.images import resize_long_side

    expected = as_8_bit(stylize.stylize(model, resize_long_side(upright, 40), 0))
    turned_wrong = np.ascontiguousarray(upright[::-1, ::-1])  # Upside down.
    wrong = as_8_bit(stylize.stylize(model, resize_long_side(turned_wrong, 40), 0))
    error = np.abs(written(tmp_path / "out.png") - expected).mean()
    assert error < 2  # Resizing in 8 bits or in floats: a step or two at a few pixels.
    assert np.abs(written(tmp_path / "out.png") - wrong).mean() > 5 * error


@pytest.mark.slow
def test_a_photo_in_adobe_rgb_is_painted_from_its_colours_in_srgb(capsys, model, model_file,
                                                                  tmp_path):
    pixels = photo_array(height=24, width=32)
    Image.fromarray(pixels).save(tmp_path / "phone.png", icc_profile=icc_profile(
        "Adobe RGB (1998)", ADOBE_RGB_GAMMA, ADOBE_RGB_COLORANTS))
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "phone.png"), "--style", "wave",
                  "--out", str(tmp_path / "out.png"))
    assert code == 0
    with Image.open(tmp_path / "out.png") as output:
        assert "icc_profile" not in output.info  # sRGB, as untagged pictures are taken
    # The photo the network painted is the reference's conversion to sRGB.
    photo = load_image(tmp_path / "phone.png")
    np.testing.assert_allclose(photo, srgb_from_adobe_rgb(pixels), atol=1 / 255)
    painted = written(tmp_path / "out.png")
    assert np.abs(painted - as_8_bit(stylize.stylize(model, photo, "wave"))).max() <= 1
    as_if_srgb = as_8_bit(stylize.stylize(model, pixels / np.float32(255), "wave"))
    assert np.abs(painted - as_if_srgb).mean() > 5


@pytest.mark.slow
def test_a_damaged_colour_profile_paints_the_pixels_as_srgb_with_a_one_line_warning(
        capsys, model, model_file, tmp_path):
    pixels = photo_array(height=24, width=32)
    Image.fromarray(pixels).save(tmp_path / "odd.png", icc_profile=b"damaged profile")
    code, captured = run(capsys, "--model", model_file, str(tmp_path / "odd.png"), "--style",
                         "wave", "--out", str(tmp_path / "out.png"))
    assert code == 0
    warning = (f"style-transfer stylize: warning: the colour profile of image "
               f"{tmp_path / 'odd.png'} cannot be used (cannot open profile from string); its "
               f"pixels are read as sRGB.")
    assert captured.err.splitlines() == [warning]
    expected = as_8_bit(stylize.stylize(model, pixels / np.float32(255), "wave"))
    assert np.abs(written(tmp_path / "out.png") - expected).max() <= 1


@pytest.mark.slow
def test_a_transparent_png_keeps_its_alpha_in_png_and_webp_and_jpeg_stays_rgb(
        capsys, model, model_file, tmp_path):
    pixels = photo_array(height=24, width=32)
    alpha = np.full((24, 32), 255, np.uint8)
    alpha[:, :12] = 0
    alpha[20:, 20:] = 100
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(tmp_path / "cut.png")
    on_white = load_image(tmp_path / "cut.png")
    painted = as_8_bit(stylize.stylize(model, on_white, "wave"))
    for name in ("out.png", "out.webp"):
        code, _ = run(capsys, "--model", model_file, str(tmp_path / "cut.png"), "--style", "wave",
                      "--out", str(tmp_path / name))
        assert code == 0
        with Image.open(tmp_path / name) as output:
            assert output.mode == "RGBA"
            np.testing.assert_array_equal(np.asarray(output)[..., 3], alpha)
    # Painted composited on white, as before.
    assert np.abs(written(tmp_path / "out.png")[..., :3] - painted).max() <= 1
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "cut.png"), "--style", "wave",
                  "--out", str(tmp_path / "out.jpg"))
    assert code == 0
    with Image.open(tmp_path / "out.jpg") as output:
        assert output.mode == "RGB" and output.size == (32, 24)
    # A figure is not the photo: no alpha.
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "cut.png"), "--grid", "--style",
                  "wave", "--style", "udnie", "--out", str(tmp_path / "grid.png"))
    assert code == 0
    with Image.open(tmp_path / "grid.png") as output:
        assert output.mode == "RGB"


@pytest.mark.slow
def test_folder_input_any_colour_mode_and_format(capsys, model_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_photo(folder / "grey.png", mode="L")
    write_photo(folder / "palette.gif", mode="P")
    code, _ = run(capsys, "--model", model_file, str(folder), "--style", "udnie", "--format", "jpg",
                  "--out", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grey__udnie.jpg", "palette__udnie.jpg"]


@pytest.mark.slow
def test_one_bad_file_of_many_is_reported_and_the_rest_are_written(capsys, model_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_photo(folder / "a.png")
    (folder / "b.png").write_bytes(b"not a picture")
    write_photo(folder / "c.png")
    code, captured = run(capsys, "--model", model_file, str(folder), "--style", "wave",
                         "--out", str(tmp_path / "out"))
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a__wave.png", "c__wave.png"]
    assert "b.png" in captured.err and "Traceback" not in captured.err


@pytest.mark.slow
def test_existing_output_is_kept_without_overwrite(capsys, model_file, photo, tmp_path):
    target = tmp_path / "o.png"
    target.write_bytes(b"keep me")
    code, captured = run(capsys, "--model", model_file, photo, "--style", "wave", "--out", str(target))
    assert code == 2 and "--overwrite" in captured.err and target.read_bytes() == b"keep me"
    code, _ = run(capsys, "--model", model_file, photo, "--style", "wave", "--out", str(target),
                  "--overwrite")
    assert code == 0 and Image.open(target).size == (21, 17)


@pytest.mark.slow
def test_an_input_is_never_overwritten(capsys, model_file, photo):
    before = open(photo, "rb").read()
    code, _ = run(capsys, "--model", model_file, photo, "--style", "wave", "--out", photo, "--overwrite")
    assert code == 2 and open(photo, "rb").read() == before


# Bad inputs of every command, this one's included, are the cases of bad_input_sweep.py.


@pytest.mark.slow
def test_photos_of_a_folder_keep_their_sub_folders(capsys, model_file, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "album" / folder).mkdir(parents=True)
        write_photo(tmp_path / "album" / folder / "photo.png")
    write_photo(tmp_path / "album" / "top.png")
    code, _ = run(capsys, "--model", model_file, str(tmp_path / "album"), "--style", "wave",
                  "--out", str(tmp_path / "out"))
    assert code == 0
    written = sorted(str(path.relative_to(tmp_path / "out"))
                     for path in (tmp_path / "out").rglob("*.png"))
    assert written == ["a/photo__wave.png", "b/photo__wave.png", "top__wave.png"]


@pytest.mark.slow
def test_an_existing_output_stops_the_run_before_any_picture(capsys, model_file, tmp_path):
    for name in ("a", "b"):
        write_photo(tmp_path / f"{name}.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b__wave.png").write_bytes(b"keep me")
    code, captured = run(capsys, "--model", model_file, str(tmp_path / "a.png"),
                         str(tmp_path / "b.png"), "--style", "wave", "--out", str(tmp_path / "out"))
    assert code == 2 and "b__wave.png" in captured.err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["b__wave.png"]


# ------------------------------------------------------------------ photo options, --json, -


@pytest.mark.slow
def test_strength_and_preserve_color_match_the_api(capsys, model, model_file, photo, tmp_path):
    out = tmp_path / "soft.png"
    code, _ = run(capsys, "--model", model_file, photo, "--style", "wave", "--strength", "0.4",
                  "--preserve-color", "--out", str(out))
    assert code == 0
    expected = stylize.stylize(model, load_image(photo), "wave", strength=0.4,
                               preserve_color=True)
    assert np.abs(np.asarray(Image.open(out), np.float32) - np.round(expected * 255)).max() <= 1


@pytest.mark.slow
def test_strength_0_writes_the_photo(capsys, model_file, photo, tmp_path):
    out = tmp_path / "same.png"
    run(capsys, "--model", model_file, photo, "--style", "wave", "--strength", "0",
        "--out", str(out))
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(photo)))


@pytest.mark.parametrize("strength", ["-0.5", "2"])
def test_strength_outside_0_1_is_an_argument_error(capsys, model_file, photo, tmp_path,
                                                   strength):
    with pytest.raises(SystemExit) as exit:
        run(capsys, "--model", model_file, photo, "--style", "wave", "--strength", strength,
            "--out", str(tmp_path / "o.png"))
    assert exit.value.code == 2 and "--strength" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_json_prints_one_record_per_output(capsys, model_file, photo, tmp_path):
    code = main(["stylize", "--json", "--model", model_file, photo, "--style", "wave",
                 "--style", "udnie", "--out", str(tmp_path / "out")])
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["style"] for record in records] == ["wave", "udnie"]
    for record in records:
        assert record["input"] == photo and record["size"] == [21, 17]
        assert record["output"] == str(tmp_path / "out" / f"photo__{record['style']}.png")
        assert Path(record["output"]).is_file() and record["seconds"] >= 0


def _cli(*argv, stdin=b""):
    """The installed command in a subprocess, for real standard input and output."""
    return subprocess.run([sys.executable, "-m", "style_transfer.cli.main", "stylize", *argv],
                          input=stdin, capture_output=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


@pytest.mark.slow
def test_dash_reads_standard_input_and_writes_standard_output(model, model_file, photo):
    completed = _cli("--model", model_file, "-", "--style", "scream", "--out", "-",
                     stdin=Path(photo).read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    painted = np.asarray(Image.open(io.BytesIO(completed.stdout)), np.float32)
    expected = np.round(stylize.stylize(model, load_image(photo), "scream") * 255)
    assert np.abs(painted - expected).max() <= 1


@pytest.mark.slow
def test_an_unreadable_standard_input_is_named_as_such_not_as_a_temporary_file(model_file):
    completed = _cli("--model", model_file, "-", "--style", "wave", "--out", "-",
                     stdin=b"not a picture")
    error = completed.stderr.decode()
    assert completed.returncode == 2 and completed.stdout == b""
    assert error.startswith("style-transfer stylize: error: Cannot read image standard input")
    assert len(error.strip().splitlines()) == 1 and "style-transfer-" not in error, error


@pytest.mark.slow
def test_standard_output_takes_one_picture_only(capsys, model_file, photo):
    code, captured = run(capsys, "--model", model_file, photo, "--out", "-")
    assert code == 2 and "--out -" in captured.err and "3 pictures" in captured.err


@pytest.mark.slow
def test_an_unreadable_standard_input_among_photos_is_named_as_such(capsys, model_file, photo,
                                                                    tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not a picture")))
    code, captured = run(capsys, "--model", model_file, "-", photo, "--style", "wave",
                         "--out", str(tmp_path / "out"))
    assert code == 1 and (tmp_path / "out" / "photo__wave.png").is_file()
    assert "Cannot read image standard input" in captured.err
    assert "style-transfer-" not in captured.err, captured.err


@pytest.mark.slow
def test_an_unreadable_photo_of_several_is_one_line_without_a_progress_bar(capsys, model_file,
                                                                          photo, tmp_path):
    (tmp_path / "text.png").write_text("not a picture")
    code, captured = run(capsys, "--model", model_file, str(tmp_path / "text.png"), photo,
                         "--style", "wave", "--out", str(tmp_path / "out"))
    assert code == 1 and captured.err.splitlines() == [
        f"style-transfer stylize: Cannot read image {tmp_path / 'text.png'}: not an image "
        f"format Pillow can read.", "style-transfer stylize: 1 of 2 files failed."]


@pytest.mark.slow
@pytest.mark.parametrize("styles", [["wave", "wave"], ["wave", "0"]])
def test_a_style_asked_for_twice_is_named_as_the_problem(capsys, model_file, photo, tmp_path,
                                                         styles):
    assert NAMES[0] == "wave"
    options = [option for style in styles for option in ("--style", style)]
    code, captured = run(capsys, "--model", model_file, photo, *options,
                         "--out", str(tmp_path / "out"))
    assert code == 2 and "a style is asked for twice" in captured.err, captured.err
    assert f"{photo} and {photo}" not in captured.err and not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x.tga", "x.ppm", "x.PDF", "x.jfif"])
def test_out_named_as_a_picture_of_a_format_not_written_is_refused(capsys, model_file, photo,
                                                                    tmp_path, name):
    # It would otherwise become a folder of that name.
    code, captured = run(capsys, "--model", model_file, photo, "--style", "wave",
                         "--out", str(tmp_path / name))
    assert code == 2 and "pictures are written as .png" in captured.err, captured.err
    assert not (tmp_path / name).exists()


@pytest.mark.slow
def test_a_photo_too_thin_once_downsized_names_max_size(capsys, model_file, tmp_path):
    Image.fromarray(np.zeros((10, 2000, 3), np.uint8)).save(tmp_path / "wide.png")
    code, captured = run(capsys, "--model", model_file, str(tmp_path / "wide.png"),
                         "--max-size", "100", "--style", "wave", "--out", str(tmp_path / "o.png"))
    assert code == 2 and captured.err.strip().endswith(
        "wide.png is 100x1 pixels once downsized to --max-size 100; the network needs at "
        "least 8x8."), captured.err


@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
def test_a_folder_named_like_an_export_is_named_a_folder_not_missing(capsys, photo, tmp_path,
                                                                     suffix):
    # `export --format savedmodel --out served.onnx` makes such a folder.
    folder = tmp_path / f"served{suffix}"
    folder.mkdir()
    code, captured = run(capsys, "--model", folder, photo, "--style", "0",
                         "--out", str(tmp_path / "o.png"))
    assert code == 2
    assert "folder" in captured.err and "does not exist" not in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_out_ending_in_a_slash_is_a_folder_whatever_its_suffix(capsys, model_file, photo,
                                                               tmp_path):
    # `--out painted.png/` was written as the file painted.png.
    code, captured = run(capsys, "--model", model_file, photo, "--style", "wave",
                         "--out", f"{tmp_path / 'painted.png'}/")
    assert code == 0, captured.err
    assert (tmp_path / "painted.png" / "photo__wave.png").is_file()


def test_a_line_break_in_a_file_name_does_not_cut_the_error_short(capsys, model_file, tmp_path):
    # Only the first line of an error is shown: "Cannot read image bad" was all it said.
    code, captured = run(capsys, "--model", model_file, str(tmp_path / "bad\nname.png"),
                         "--style", "wave", "--out", str(tmp_path / "o.png"))
    assert code == 2
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "bad\\nname.png" in captured.err and "does not exist" in captured.err, captured.err


@pytest.mark.parametrize("second", ["photo.png", "."], ids=["the file again", "its folder"])
def test_a_photo_given_twice_is_named_as_such(capsys, model_file, photo, tmp_path, second):
    # It said "photo.png and photo.png would both be written ...; rename one".
    code, captured = run(capsys, "--model", model_file, photo, str(tmp_path / second),
                         "--style", "wave", "--out", str(tmp_path / "out"))
    assert code == 2 and "is given twice" in captured.err and "rename" not in captured.err, \
        captured.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["stylize", "video", "stylize-dataset"])
def test_blend_given_twice_is_refused_not_half_dropped(capsys, command, tmp_path):
    # argparse kept the last --blend: the first blend was silently not painted.
    with pytest.raises(SystemExit) as exit:
        main([command, str(tmp_path / "photo.png"), "--blend", "wave=0.5,scream=0.5",
              "--blend", "udnie=1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "--blend: given twice" in err, err
    assert len(err.strip().splitlines()) == 1
