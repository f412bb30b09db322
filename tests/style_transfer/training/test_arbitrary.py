"""Arbitrary styles: training over a style folder, strength, blends, saving, the CLI.

One tiny run (32 px, alpha 0.25, random VGG, a TF Hub stand-in encoder that is
fine-tuned) is trained once through the command line and shared by the tests.
"""

import numpy as np
import pytest
from PIL import Image

from style_transfer.base import images
from style_transfer.base.errors import BadInput, RandomWeightsWarning
from style_transfer.cli.main import main
from style_transfer.models.arbitrary import (
    blend_embeddings,
    create_arbitrary_model,
    style_embeddings,
    style_norm_parameters,
)
from style_transfer.models.hub import load_hub_model
from style_transfer.models.loading import load_arbitrary_model
from style_transfer.models.saving import read_model_config, save_model
from style_transfer.painting.arbitrary_styles import conditioning_embedding, stylize_arbitrary
from style_transfer.training.logs import read_history
from tests.style_transfer.hub_stand_ins import save_feature_vector_model, save_magenta_stand_in

SIZE_PX = 32
STEPS = 24
COLOURS = [(230, 40, 40), (40, 40, 230), (40, 190, 40), (240, 200, 0)]


def _write_data(root):
    rng = np.random.default_rng(0)
    (root / "content").mkdir()
    (root / "styles").mkdir()
    y, x = np.mgrid[0:48, 0:48] / 48.0
    for index in range(4):
        photo = 0.6 * np.stack([x, y, (x + y) / 2], -1) + 0.4 * rng.random((48, 48, 3))
        Image.fromarray((photo * 255).astype(np.uint8)).save(root / "content" / f"c{index}.png")
    for index, colour in enumerate(COLOURS):
        style = np.zeros((40, 40, 3), np.uint8)
        style[:] = colour
        style[:, index + 1 :: index + 3] = 255 - np.array(colour)
        Image.fromarray(style).save(root / "styles" / f"s{index}.png")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("arbitrary")
    _write_data(root)
    encoder = save_feature_vector_model(root / "encoder")
    code = main([
        "train-arbitrary", "--content", str(root / "content"), "--styles", str(root / "styles"),
        "--out", str(root / "run"), "--steps", str(STEPS), "--batch-size", "2",
        "--image-size", str(SIZE_PX), "--style-size", str(SIZE_PX), "--alpha", "0.25",
        "--embedding-dim", "16", "--encoder-hub", str(encoder), "--train-encoder",
        "--vgg-weights", "random", "--checkpoint-every", "12", "--quiet",
    ])
    assert code == 0
    return root


@pytest.fixture(scope="module")
def model(run):
    return load_arbitrary_model(run / "run" / "model.keras", hub_encoder=str(run / "encoder"))


def _photo(run):
    return images.load_image(run / "content" / "c0.png")


def _styles(run):
    return [images.load_image(path) for path in sorted((run / "styles").glob("*.png"))]


@pytest.mark.slow
def test_training_loss_falls(run):
    history = read_history(run / "run")
    assert len(history["step"]) == STEPS
    assert history["total"][-6:].mean() < 0.8 * history["total"][:6].mean()


@pytest.mark.slow
def test_run_folder_has_checkpoint_settings_and_model(run):
    names = {path.name for path in (run / "run").iterdir()}
    assert {"run.json", "checkpoint.npz", "history.csv", "logs", "model.keras"} <= names


@pytest.mark.slow
def test_fine_tuned_hub_encoder_is_restored_from_the_model_file(run, model):
    import io
    import zipfile

    import h5py

    on_disk = load_hub_model(str(run / "encoder")).trainable_variables[0].numpy()
    restored = model.encoder.trainable_weights[0].numpy()
    assert restored.shape == on_disk.shape
    assert np.abs(restored - on_disk).max() > 1e-5
    # The fine-tuned values themselves, as the model file stores them (a re-initialised
    # encoder would differ from the original too).
    with zipfile.ZipFile(run / "run" / "model.keras") as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    stored = []
    with h5py.File(weights, "r") as file:
        file.visititems(lambda name, item: stored.append(item[()]) if isinstance(
            item, h5py.Dataset) and item.shape == restored.shape else None)
    assert any(np.array_equal(array, restored) for array in stored)


@pytest.mark.slow
def test_saved_model_gives_identical_outputs_after_a_round_trip(run, model, tmp_path):
    photo, style = _photo(run)[None, :SIZE_PX, :SIZE_PX], _styles(run)[0][None, :SIZE_PX, :SIZE_PX]
    save_model(model, tmp_path / "again.keras")
    again = load_arbitrary_model(tmp_path / "again.keras", hub_encoder=str(run / "encoder"))
    np.testing.assert_array_equal(again(photo, style), model(photo, style))


@pytest.mark.slow
def test_two_style_images_give_different_gamma_beta_and_pictures(run, model):
    styles = _styles(run)
    embeddings = style_embeddings(model, styles[:2])
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-3
    parameters = style_norm_parameters(model, embeddings)
    assert len(parameters) == 16  # Every conditional instance norm of the network.
    differences = [np.abs(gamma[0] - gamma[1]).max() + np.abs(beta[0] - beta[1]).max()
                   for gamma, beta in parameters.values()]
    assert min(differences) > 0
    first = stylize_arbitrary(model, _photo(run), [styles[0]])
    second = stylize_arbitrary(model, _photo(run), [styles[1]])
    assert np.abs(first - second).mean() > 1e-3


@pytest.mark.slow
def test_strength_zero_uses_the_photos_own_embedding_and_one_the_styles(run, model):
    photo, style = _photo(run), _styles(run)[0]
    own = style_embeddings(model, [photo])[0]
    full = style_embeddings(model, [style])[0]
    np.testing.assert_allclose(conditioning_embedding(model, photo, [style], strength=0.0), own,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(conditioning_embedding(model, photo, [style], strength=1.0),
                                  full)
    np.testing.assert_allclose(conditioning_embedding(model, photo, [style], strength=0.25),
                               0.25 * full + 0.75 * own, rtol=1e-5, atol=1e-6)
    at_zero = stylize_arbitrary(model, photo, [style], strength=0.0)
    expected = np.asarray(model.transformer(photo[None], own[None]))[0]
    np.testing.assert_allclose(at_zero, expected, atol=1e-5)
    assert np.abs(at_zero - stylize_arbitrary(model, photo, [style])).mean() > 1e-4


@pytest.mark.slow
def test_blend_is_the_convex_combination_of_embeddings(run, model):
    styles = _styles(run)[:2]
    embeddings = style_embeddings(model, styles)
    np.testing.assert_allclose(blend_embeddings(embeddings, [0.3, 0.7]),
                               0.3 * embeddings[0] + 0.7 * embeddings[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        stylize_arbitrary(model, _photo(run), styles, blend_weights=[1.0, 0.0]),
        stylize_arbitrary(model, _photo(run), styles[:1]), atol=1e-5)


@pytest.mark.parametrize("weights", [[0.5], [0.6, 0.6], [-0.5, 1.5], [np.nan, 1.0]])
def test_bad_blend_weights_are_refused(weights):
    with pytest.raises(BadInput, match="blend weights"):
        blend_embeddings(np.zeros((2, 4)), weights)


@pytest.mark.slow
def test_strength_outside_zero_one_is_refused(run, model):
    with pytest.raises(BadInput, match="strength"):
        conditioning_embedding(model, _photo(run), _styles(run)[:1], strength=1.5)


@pytest.fixture(scope="module")
def mobilenet_model():
    with pytest.warns(RandomWeightsWarning, match="RANDOM weights"):
        return create_arbitrary_model(encoder_weights="random", embedding_dim=8, alpha=0.25,
                                      style_image_size=SIZE_PX)


@pytest.mark.slow
def test_random_mobilenet_encoder_gives_distinct_embeddings(mobilenet_model):
    stripes = np.zeros((SIZE_PX, SIZE_PX, 3), np.float32)
    stripes[:, ::4] = 1.0
    noise = np.random.default_rng(0).random((SIZE_PX, SIZE_PX, 3)).astype("float32")
    embeddings = style_embeddings(mobilenet_model, [stripes, noise])
    assert embeddings.std(axis=1).min() > 1e-2  # Not vanished (Glorot scaling did that).
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-2
    assert mobilenet_model.encoder.trainable_weights == []


@pytest.mark.slow
def test_offline_imagenet_encoder_weights_are_a_one_line_error(mobilenet_model, monkeypatch):
    def no_download(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_download)
    with pytest.raises(BadInput) as error:
        mobilenet_model.load_encoder_weights("imagenet")
    assert "\n" not in str(error.value) and "`encoder_weights` random" in str(error.value)


@pytest.mark.slow
def test_stylize_cli_with_style_images_writes_the_pictures(run, tmp_path):
    styles = sorted(str(path) for path in (run / "styles").glob("*.png"))
    out = tmp_path / "out"
    assert main(["stylize", str(run / "content" / "c0.png"), "--model",
                 str(run / "run" / "model.keras"), "--hub-encoder", str(run / "encoder"),
                 "--out", str(out), "--style-image", styles[0],
                 "--style-image", styles[1], "--blend-weights", "0.3,0.7",
                 "--strength", "0.8"]) == 0
    picture = images.load_image(out / "c0__blend.png")
    assert picture.shape == (48, 48, 3)


@pytest.mark.slow
def test_magenta_hub_engine_runs_the_hub_model_through_the_cli(run, tmp_path):
    stand_in = save_magenta_stand_in(tmp_path / "magenta")
    style_path = sorted((run / "styles").glob("*.png"))[2]
    out = tmp_path / "out"
    assert main(["stylize", str(run / "content" / "c1.png"), "--engine", "magenta-hub",
                 "--hub-handle", str(stand_in), "--style-image", str(style_path),
                 "--out", str(out)]) == 0
    photo = images.load_image(run / "content" / "c1.png")
    style = images.center_square(images.load_image(style_path), 256)
    expected = 0.5 * photo + 0.5 * style.mean(axis=(0, 1))
    written = images.load_image(out / f"c1__magenta-{style_path.stem}.png")
    np.testing.assert_allclose(written, expected, atol=1.5 / 255)


def test_magenta_hub_output_is_cropped_to_a_photo_whose_sides_are_not_multiples_of_4(tmp_path):
    from style_transfer.models.magenta_hub import magenta_hub_stylize

    stand_in = save_magenta_stand_in(tmp_path / "magenta")
    photo = np.random.default_rng(0).uniform(size=(45, 42, 3)).astype("float32")
    style = np.full((300, 300, 3), 0.25, np.float32)
    painted = magenta_hub_stylize(photo, style, str(stand_in))
    assert painted.shape == (45, 42, 3)
    np.testing.assert_allclose(painted, 0.5 * photo + 0.125, atol=1e-5)


@pytest.mark.slow
def test_magenta_hub_engine_takes_a_single_style_at_full_strength(run, tmp_path, capsys):
    style = str(sorted((run / "styles").glob("*.png"))[0])
    code = main(["stylize", str(run / "content" / "c1.png"), "--engine", "magenta-hub",
                 "--hub-handle", str(tmp_path), "--style-image", style, "--strength", "0.5",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "full strength only; it takes no --strength" in capsys.readouterr().err


@pytest.mark.slow
def test_a_style_model_file_of_another_kind_is_refused(tmp_path):
    from style_transfer.models.network import StyleTransferNetwork

    network = StyleTransferNetwork(2, alpha=0.25)
    network.build()
    save_model(network, tmp_path / "n_style.keras")
    assert read_model_config(tmp_path / "n_style.keras")["class_name"] == "StyleTransferNetwork"
    with pytest.raises(BadInput, match="not an arbitrary-style model"):
        load_arbitrary_model(tmp_path / "n_style.keras")


@pytest.mark.slow
def test_hub_encoder_is_refused_for_a_model_without_a_hub_encoder(mobilenet_model, tmp_path):
    save_model(mobilenet_model, tmp_path / "mobilenet.keras")
    with pytest.raises(BadInput, match="`hub_encoder` applies to a model trained with"):
        load_arbitrary_model(tmp_path / "mobilenet.keras", hub_encoder=str(tmp_path))


@pytest.mark.slow
def test_encoder_weights_that_are_not_a_file_say_what_they_are(mobilenet_model, tmp_path):
    with pytest.raises(BadInput, match="': it is a folder, not a file"):
        mobilenet_model.load_encoder_weights(str(tmp_path))
    with pytest.raises(BadInput, match="': it is not a regular file"):
        mobilenet_model.load_encoder_weights("/dev/null")
    with pytest.raises(BadInput, match="': the file does not exist"):
        mobilenet_model.load_encoder_weights(str(tmp_path / "encoder.h5"))


@pytest.mark.parametrize("seed", [2**63, -1])
def test_a_seed_out_of_range_is_refused_before_the_model_is_built(seed):
    with pytest.raises(BadInput, match=r"`seed` must be an integer from 0 to 2147483647"):
        create_arbitrary_model(encoder_weights="random", seed=seed)
