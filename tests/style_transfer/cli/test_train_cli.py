"""`style-transfer train` with bad input: one line on stderr, exit code 2, nothing written."""

import json

import numpy as np
import pytest
from PIL import Image

from style_transfer.cli import main as cli
from style_transfer.models import limits
from style_transfer.training.run import RUN_FILE, RUN_FORMAT
from tests.style_transfer.refusals import assert_refused

STYLE_NAMES = ("red", "blue")


@pytest.fixture
def inputs(tmp_path):
    """A content folder, two style images and a path for the run folder."""
    content = tmp_path / "content"
    content.mkdir()
    for index in range(2):
        Image.new("RGB", (40, 40), (60 * index, 120, 200)).save(content / f"photo{index}.png")
    styles = []
    for name, colour in zip(STYLE_NAMES, ((255, 0, 0), (0, 0, 255))):
        styles.append(tmp_path / f"{name}.png")
        Image.new("RGB", (32, 32), colour).save(styles[-1])
    return content, styles, tmp_path / "run"


def _arguments(content, styles, out, *extra):
    return ["train", "--content", str(content), "--styles", *map(str, styles), "--out", str(out),
            "--image-size", "32", "--batch-size", "2", "--steps", "2", "--alpha", "0.25",
            "--vgg-weights", "random", "--quiet", *extra]


def test_a_missing_content_folder_is_refused(inputs, capsys):
    content, styles, out = inputs
    assert_refused(capsys, _arguments(content / "missing", styles, out), out,
                    ["content folder", "missing"])


def test_a_style_file_that_is_not_an_image_is_refused(inputs, capsys):
    content, styles, out = inputs
    text = styles[0].parent / "notes.png"
    text.write_text("not an image")
    assert_refused(capsys, _arguments(content, [styles[0], text], out), out, ["notes.png"])


@pytest.mark.parametrize("size, needed", [((300, 1), 8), ((64, 6), 8), ((64, 12), 16)],
                         ids=["a line", "thin for block4", "thin for block5"])
def test_a_style_image_too_thin_for_the_loss_network_is_refused(inputs, capsys, size, needed):
    content, styles, out = inputs
    thin = styles[0].parent / "thin.png"
    Image.new("RGB", size, (255, 0, 0)).save(thin)
    extra = ["--style-size", "64"]
    if needed == 16:
        extra += ["--style-layers", "block5_conv1"]
    assert_refused(capsys, _arguments(content, [styles[0], thin], out, *extra), out,
                   ["style image", "thin.png", f"at least {needed} on each side",
                    "--style-size"])


def test_more_styles_than_a_model_file_may_hold_are_refused(inputs, capsys, monkeypatch):
    content, styles, out = inputs
    monkeypatch.setattr(limits, "MAX_STYLES", 1)
    assert_refused(capsys, _arguments(content, styles, out), out,
                   ["2 style images make 2 styles", "at most 1"])


def test_zero_styles_are_refused(inputs, capsys):
    content, _, out = inputs
    assert_refused(capsys, _arguments(content, [], out), out, ["no style images"])


def test_duplicate_style_names_are_refused(inputs, capsys):
    content, styles, out = inputs
    arguments = _arguments(content, styles, out, "--style-names", "same", "same")
    assert_refused(capsys, arguments, out, ["two styles named 'same'"])


def test_a_style_name_stylize_could_not_choose_is_refused(inputs, capsys):
    content, styles, out = inputs
    arguments = _arguments(content, styles, out, "--style-names", "wave", "a,b")
    assert_refused(capsys, arguments, out, ["'a,b' cannot be used", "--style-names"])


def test_duplicate_file_stems_are_refused(inputs, capsys, tmp_path):
    content, styles, out = inputs
    other = tmp_path / "elsewhere"
    other.mkdir()
    twin = other / styles[0].name
    twin.write_bytes(styles[1].read_bytes())
    assert_refused(capsys, _arguments(content, [styles[0], twin], out), out,
                    ["two styles named", "--style-names"])


@pytest.mark.parametrize("option, value", [
    ("--steps", "0"), ("--image-size", "0"), ("--batch-size", "-1"),
    ("--checkpoint-every", "0"), ("--style-size", "0"),
])
def test_non_positive_sizes_and_counts_are_refused(inputs, capsys, option, value):
    content, styles, out = inputs
    # Each option's range is checked by argparse, which names the option.
    assert_refused(capsys, _arguments(content, styles, out, option, value), out,
                    [f"argument {option}: expected a whole number from"])


def _other_run(out):
    """An output folder holding another run: settings and a checkpoint to protect."""
    out.mkdir()
    (out / RUN_FILE).write_text(json.dumps({
        "format": RUN_FORMAT, "command": "train",
        "config": {"image_size": 64, "style_names": ["x"]}, "inputs": {}}))
    np.savez(out / "checkpoint.npz", step=np.array(5))


def test_a_folder_holding_another_run_is_refused_without_resume(inputs, capsys):
    content, styles, out = inputs
    _other_run(out)
    assert_refused(capsys, _arguments(content, styles, out), out, ["--resume"])


def test_resuming_with_different_settings_is_refused(inputs, capsys):
    content, styles, out = inputs
    _other_run(out)
    assert_refused(capsys, _arguments(content, styles, out, "--resume"), out,
                    ["different settings", "--image-size"])


def test_resuming_with_another_loss_names_its_options(inputs, capsys):
    content, styles, out = inputs
    _other_run(out)
    run = json.loads((out / RUN_FILE).read_text())
    run["config"] = {"loss": {"vgg_weights": "random", "tv_weight": 1.0}}
    (out / RUN_FILE).write_text(json.dumps(run))
    assert_refused(capsys, _arguments(content, styles, out, "--resume"), out,
                    ["different settings", "--tv-weight", "--vgg,"])


def test_a_folder_of_other_files_is_refused(inputs, capsys):
    content, styles, out = inputs
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    assert_refused(capsys, _arguments(content, styles, out), out, ["not empty"])


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--image-size", "--batch-size", "--steps", "--learning-rate", "--alpha",
                   "--vgg", "--vgg-weights", "--pooling", "--content-weight", "--style-weight",
                   "--tv-weight", "--style-size", "--checkpoint-every", "--sample-every",
                   "--seed", "--resume", "--style-names"):
        assert option in text
    for default in ("(default: 256)", "(default: 4)", "(default: 40000)", "(default: 0.001)",
                    "(default: imagenet)", "(default: avg)", "(default: 0.0001)"):
        assert default in text


@pytest.mark.slow
def test_files_left_out_of_the_content_folder_are_named_once_each(inputs, capsys):
    # The run's data and its sample grid read the folder: one warning each, not two.
    import io

    content, styles, out = inputs
    (content / "notes.png").write_text("not an image")
    encoded = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(encoded, format="PNG")
    (content / "cut.png").write_bytes(encoded.getvalue()[: len(encoded.getvalue()) // 2])
    assert cli.main(_arguments(content, styles, out, "--sample-every", "1",
                               "--style-size", "32")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "Skipped" in line]
    assert len(warnings) == 2, warnings
    assert "notes.png" in warnings[0] and "cut.png" in warnings[1]


def test_add_style_never_writes_its_model_over_a_style_image(inputs, capsys, model_file):
    # The grown model was written over the style image with --overwrite.
    content, styles, _ = inputs
    style = styles[0].with_name("mosaic.keras")  # a picture, whatever its name
    styles[0].rename(style)
    assert_refused(capsys, ["add-style", "--model", str(model_file), "--styles", str(style),
                            "--content", str(content), "--out", str(style), "--overwrite",
                            "--steps", "1", "--vgg-weights", "random", "--quiet"],
                   style.parent, ["mosaic.keras", "input"])
