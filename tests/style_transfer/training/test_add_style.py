"""Adding, removing and renaming styles: old styles stay bit-identical, only new rows train."""


import keras
import numpy as np
import pytest
from PIL import Image

from cbn import conditional_layers
from style_transfer.cli import main as cli
from style_transfer.models import editing, limits
from style_transfer.models.loading import load_style_model
from style_transfer.models.saving import save_model
from style_transfer.training import add_style
from style_transfer.training.config import AddStyleConfig
from tests.style_transfer.refusals import assert_refused
from tests.style_transfer.training_inputs import FAST_LOSS, write_style_model

OLD_NAMES = ["stripes", "speckles"]
STEPS = 4
SETTINGS = {"steps": STEPS, "learning_rate": 5e-2, "checkpoint_every": 2, "seed": 1}


def _outputs(model, photos, style_id):
    return keras.ops.convert_to_numpy(model(photos, np.full((len(photos),), style_id, "int32")))


def _weights(model):
    return {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}


def _is_table(path):
    return path.endswith("/norm/gamma") or path.endswith("/norm/beta")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Content photos, a new style image and a 2-style model whose styles differ."""
    folder = tmp_path_factory.mktemp("add_style")
    rng = np.random.default_rng(0)
    (folder / "content").mkdir()
    rows, columns = np.mgrid[0:40, 0:40] / 40.0
    for index in range(3):
        photo = np.stack([rows, columns, 1 - rows * columns], -1) * (0.5 + 0.2 * index)
        photo = np.clip(photo + 0.1 * rng.random((40, 40, 3)), 0, 1)
        Image.fromarray((photo * 255).astype(np.uint8)).save(folder / "content" / f"p{index}.png")
    checks = (np.indices((32, 32)).sum(0) // 4 % 2)[..., None] * np.array([0.9, 0.2, 0.1])
    Image.fromarray((checks * 255).astype(np.uint8)).save(folder / "checks.png")
    write_style_model(folder / "model.keras", OLD_NAMES)
    return folder


@pytest.fixture(scope="module")
def base(folder):
    return load_style_model(folder / "model.keras")


@pytest.fixture(scope="module")
def grown(folder):
    config = AddStyleConfig(model=folder / "model.keras", style_images=[folder / "checks.png"],
                            content_dir=folder / "content", **SETTINGS)
    return add_style.add_styles(config, folder / "grown.keras", progress=False)


@pytest.fixture(scope="module")
def photos():
    return np.random.default_rng(5).random((2, 32, 32, 3)).astype("float32")


@pytest.mark.slow
def test_old_styles_stylize_bit_identically_after_adding_a_style(base, grown, photos):
    for style_id in range(len(OLD_NAMES)):
        assert np.array_equal(_outputs(base, photos, style_id), _outputs(grown, photos, style_id))


@pytest.mark.slow
def test_the_new_style_differs_from_every_old_style(base, grown, photos):
    new_output = _outputs(grown, photos, len(OLD_NAMES))
    for style_id in range(len(OLD_NAMES)):
        assert np.abs(new_output - _outputs(base, photos, style_id)).max() > 1e-3


@pytest.mark.slow
def test_only_the_new_rows_train(base, grown):
    before, after = _weights(base), _weights(grown)
    assert before.keys() == after.keys()
    copied_from = OLD_NAMES.index(grown.training_config["added_styles"][0]["init"].split()[-1])
    new_rows_moved = []
    for path, old in before.items():
        if _is_table(path):
            assert after[path].shape == (3, old.shape[1])
            assert np.array_equal(after[path][:2], old), path
            new_rows_moved.append(not np.array_equal(after[path][2], old[copied_from]))
        else:
            assert np.array_equal(after[path], old), path
    assert all(new_rows_moved)


@pytest.mark.slow
def test_the_grown_model_round_trips_through_a_keras_file(folder, grown, photos):
    loaded = load_style_model(folder / "grown.keras")
    assert loaded.style_names == [*OLD_NAMES, "checks"]
    assert loaded.num_styles == 3
    assert loaded.training_config["style_images"] == ["stripes.png", "speckles.png", "checks.png"]
    added = loaded.training_config["added_styles"]
    assert [entry["name"] for entry in added] == ["checks"]
    assert added[0]["steps"] == STEPS and added[0]["loss"] == FAST_LOSS.to_dict()
    assert all(layer.trainable_rows is None and layer.trainable
               for layer in conditional_layers(loaded))
    for style_id in range(3):
        assert np.array_equal(_outputs(loaded, photos, style_id), _outputs(grown, photos, style_id))


@pytest.mark.slow
def test_blends_of_the_grown_model_use_the_new_style(grown, photos):
    half = np.array([[0.5, 0.0, 0.5]] * len(photos), "float32")
    blend = keras.ops.convert_to_numpy(grown(photos, half))
    assert np.abs(blend - _outputs(grown, photos, 0)).max() > 1e-3
    assert np.abs(blend - _outputs(grown, photos, 2)).max() > 1e-3


@pytest.mark.slow
def test_removing_a_style_keeps_the_others_bit_identical(grown, photos, tmp_path):
    smaller = editing.remove_style(grown, "stripes")
    assert smaller.style_names == ["speckles", "checks"]
    assert smaller.training_config["style_images"] == ["speckles.png", "checks.png"]
    save_model(smaller, tmp_path / "smaller.keras")
    loaded = load_style_model(tmp_path / "smaller.keras")
    for new_id, old_id in ((0, 1), (1, 2)):
        assert np.array_equal(_outputs(loaded, photos, new_id), _outputs(grown, photos, old_id))


@pytest.mark.slow
def test_removing_an_added_style_gives_back_the_original_weights(base, grown):
    original = editing.remove_style(grown, "checks")
    assert original.style_names == OLD_NAMES
    assert original.training_config["added_styles"] == []
    before, after = _weights(base), _weights(original)
    assert all(np.array_equal(after[path], value) for path, value in before.items())


@pytest.mark.slow
def test_renaming_a_style_changes_only_its_name(grown):
    renamed = editing.rename_style(grown, "checks", "tiles")
    assert renamed.style_names == [*OLD_NAMES, "tiles"]
    assert renamed.training_config["added_styles"][0]["name"] == "tiles"
    before, after = _weights(grown), _weights(renamed)
    assert all(np.array_equal(after[path], value) for path, value in before.items())


@pytest.mark.slow
def test_remove_and_rename_commands_write_the_edited_model(folder, grown, tmp_path):
    removed, renamed = tmp_path / "removed.keras", tmp_path / "renamed.keras"
    assert cli.main(["remove-style", "--model", str(folder / "grown.keras"),
                     "--style", "speckles", "--out", str(removed)]) == 0
    assert cli.main(["rename-style", "--model", str(removed), "--style", "checks",
                     "--to", "tiles", "--out", str(renamed)]) == 0
    assert load_style_model(renamed).style_names == ["stripes", "tiles"]


# ---------------------------------------------------------------- bad input


def _add_arguments(folder, model, styles, out, *extra):
    return ["add-style", "--model", str(model), "--styles", *map(str, styles),
            "--content", str(folder / "content"), "--out", str(out), "--steps", "1",
            "--quiet", *extra]


def test_a_file_that_is_not_a_style_model_is_refused(folder, capsys, tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "dense.keras")
    arguments = _add_arguments(folder, tmp_path / "dense.keras", [folder / "checks.png"],
                               tmp_path / "out.keras")
    assert_refused(capsys, arguments, tmp_path, ["dense.keras", "not a style model"])


@pytest.mark.slow
def test_a_new_name_the_model_already_has_is_refused(folder, capsys, tmp_path):
    arguments = _add_arguments(folder, folder / "model.keras", [folder / "checks.png"],
                               tmp_path / "out.keras", "--style-names", "speckles")
    assert_refused(capsys, arguments, folder, ["already has a style named 'speckles'"])


@pytest.mark.slow
def test_an_unreadable_style_image_is_refused(folder, capsys, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    arguments = _add_arguments(folder, folder / "model.keras", [broken], tmp_path / "out.keras")
    assert_refused(capsys, arguments, tmp_path, ["style image", "broken.png"])


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["", "overwrite"])
def test_out_equal_to_the_model_is_refused_even_with_overwrite(folder, capsys, overwrite):
    model = folder / "model.keras"
    arguments = _add_arguments(folder, model, [folder / "checks.png"], model, *overwrite)
    assert_refused(capsys, arguments, folder, ["is an input", "never overwritten"])


def test_a_run_folder_at_the_output_models_path_is_refused_before_training(folder, capsys,
                                                                           tmp_path):
    out = tmp_path / "grown.keras"
    arguments = _add_arguments(folder, folder / "model.keras", [folder / "checks.png"], out,
                               "--run-dir", str(out))
    assert_refused(capsys, arguments, tmp_path, ["run folder", "--run-dir"])
    assert not out.exists()


def test_more_styles_than_a_model_file_may_hold_are_refused_before_training(
        folder, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_STYLES", 2)  # The model has 2 styles.
    arguments = _add_arguments(folder, folder / "model.keras", [folder / "checks.png"],
                               tmp_path / "out.keras")
    assert_refused(capsys, arguments, tmp_path, ["model's 2 styles", "make 3 styles",
                                                 "at most 2"])


def test_an_existing_out_without_overwrite_is_refused(folder, capsys, grown):
    arguments = _add_arguments(folder, folder / "model.keras", [folder / "checks.png"],
                               folder / "grown.keras", "--style-names", "other")
    assert_refused(capsys, arguments, folder, ["grown.keras", "already exists"])


@pytest.mark.slow
def test_removing_an_unknown_or_the_last_style_is_refused(folder, capsys, tmp_path):
    unknown = ["remove-style", "--model", str(folder / "model.keras"), "--style", "waves",
               "--out", str(tmp_path / "o.keras")]
    assert_refused(capsys, unknown, folder, ["unknown style 'waves'", "stripes, speckles"])
    single = editing.remove_style(load_style_model(folder / "model.keras"), "stripes")
    save_model(single, tmp_path / "single.keras")
    last = ["remove-style", "--model", str(tmp_path / "single.keras"), "--style", "speckles",
            "--out", str(tmp_path / "o.keras")]
    assert_refused(capsys, last, tmp_path, ["only style"])


@pytest.mark.slow
def test_renaming_to_a_taken_name_or_editing_onto_the_model_is_refused(folder, capsys):
    model = str(folder / "model.keras")
    taken = ["rename-style", "--model", model, "--style", "stripes", "--to", "speckles",
             "--out", str(folder / "r.keras")]
    # The name is given with --to, not with add-style's --style-names.
    assert_refused(capsys, taken, folder, ["already has a style named 'speckles'",
                                           "another name (--to)"])
    for command in (["rename-style", "--to", "lines"], ["remove-style"]):
        onto_model = [*command, "--model", model, "--style", "stripes", "--out", model,
                      "--overwrite"]
        assert_refused(capsys, onto_model, folder, ["is an input", "never overwritten"])


def _with_training_record(source, path, **record):
    """A copy of the model file `source` whose training_config has the entries `record`:
    a model file's record of its training is untrusted input too."""
    model = load_style_model(source)
    model.training_config.update(record)
    save_model(model, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("record, expected", [
    ({"loss": {**FAST_LOSS.to_dict(), "bogus": 1}}, ["record of the loss", "'bogus'"]),
    ({"loss": {**FAST_LOSS.to_dict(), "style_layers": 5}}, ["record of the loss",
                                                             "style_layers must be a list"]),
    ({"loss": {**FAST_LOSS.to_dict(), "content_layer": 5}}, ["record of the loss",
                                                              "content_layer must be text"]),
    ({"loss": [1, 2]}, ["record of the loss", "a dict of LossConfig fields"]),
    ({"image_size": "big"}, ["records 'big' as the image size", "--image-size"]),
    ({"batch_size": 10**9}, ["records 1000000000 as the batch size", "--batch-size"]),
], ids=["unknown field", "layers not a list", "layer not text", "loss not a dict",
        "image size", "batch size"])
def test_a_damaged_record_of_the_training_is_refused_in_one_line(folder, capsys, tmp_path,
                                                                 record, expected):
    model = _with_training_record(folder / "model.keras", tmp_path / "damaged.keras", **record)
    arguments = _add_arguments(folder, model, [folder / "checks.png"], tmp_path / "out.keras")
    assert_refused(capsys, arguments, tmp_path, ["damaged.keras", *expected])


@pytest.mark.slow
def test_a_malformed_record_of_the_style_images_is_left_as_it_is(folder, tmp_path):
    model = load_style_model(_with_training_record(
        folder / "model.keras", tmp_path / "odd.keras", style_images=5,
        added_styles=[5, {"name": "speckles", "steps": 3}]))
    removed = editing.remove_style(model, "speckles")
    assert removed.training_config["style_images"] == 5
    assert removed.training_config["added_styles"] == [5]
    renamed = editing.rename_style(model, "speckles", "dots")
    assert renamed.training_config["added_styles"] == [5, {"name": "dots", "steps": 3}]
    grown = add_style._grown_training_config(model.training_config, 2, AddStyleConfig(
        model=folder / "model.keras", style_images=[folder / "checks.png"],
        content_dir=folder / "content"), [{"name": "checks"}])
    assert grown["style_images"] == 5
    assert grown["added_styles"] == [5, {"name": "speckles", "steps": 3}, {"name": "checks"}]


# ----------------------------------------------------------------- evidence
