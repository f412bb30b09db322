"""Exported models (SavedModel, TFLite) give the Keras model's pictures, for a style and a blend.

Tolerances: SavedModel runs the same TensorFlow graph (1e-5); TFLite uses its
own kernels (1e-4, about 1/40 of a grey level).
"""

import numpy as np
import pytest
import tensorflow as tf

from style_transfer.base.errors import BadInput
from style_transfer.cli.main import main
from style_transfer.models import export
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import save_model
from style_transfer.painting import stylize

ONE_STYLE = np.array([[0.0, 1.0, 0.0]], np.float32)
BLEND = np.array([[0.6, 0.0, 0.4]], np.float32)


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    path = export.export_savedmodel(model, tmp_path_factory.mktemp("export") / "served")
    return tf.saved_model.load(str(path)).signatures[export.SIGNATURE]


def test_savedmodel_refuses_a_network_without_a_table_of_styles_in_one_line(tmp_path):
    # An arbitrary-style model's network (or the model) ended in a TypeError (AttributeError).
    network = StyleTransferNetwork(alpha=0.25, embedding_dim=4)
    with pytest.raises(BadInput, match="takes a model of trained styles"):
        export.export_savedmodel(network, tmp_path / "served")
    assert not (tmp_path / "served").exists()


@pytest.mark.slow
@pytest.mark.parametrize("weights", [ONE_STYLE, BLEND], ids=["style", "blend"])
@pytest.mark.parametrize("height, width", [(20, 28), (13, 17)])
def test_savedmodel_gives_the_keras_pictures_at_any_size(model, saved_model, weights, height, width):
    image = np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32)
    served = saved_model(input_image=image, style_weights=weights)["stylized_image"].numpy()
    np.testing.assert_allclose(served, stylize.run_network(model, image, weights), atol=1e-5)


def test_savedmodel_repeats_one_image_for_a_batch_of_weights(model, saved_model):
    image = np.random.default_rng(0).random((1, 16, 16, 3), dtype=np.float32)
    weights = np.concatenate([ONE_STYLE, BLEND])
    served = saved_model(input_image=image, style_weights=weights)["stylized_image"].numpy()
    expected = stylize.run_network(model, np.repeat(image, 2, axis=0), weights)
    np.testing.assert_allclose(served, expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("weights", [ONE_STYLE, BLEND], ids=["style", "blend"])
def test_tflite_gives_the_keras_pictures(model, tmp_path, weights):
    path = export.export_tflite(model, tmp_path / "styles.tflite", image_size=24)
    runner = tf.lite.Interpreter(str(path)).get_signature_runner()
    image = np.random.default_rng(0).random((1, 24, 24, 3), dtype=np.float32)
    served = runner(input_image=image, style_weights=weights)["stylized_image"]
    np.testing.assert_allclose(served, stylize.run_network(model, image, weights), atol=1e-4)


@pytest.mark.slow
def test_export_command_writes_both_formats_and_keeps_existing_ones(model, tmp_path, capsys):
    model_file = tmp_path / "styles.keras"
    save_model(model, model_file)
    base = ["export", "--model", str(model_file)]
    assert main([*base, "--format", "tflite", "--image-size", "16", "--out", str(tmp_path / "m.tflite")]) == 0
    assert main([*base, "--format", "savedmodel", "--out", str(tmp_path / "served")]) == 0
    assert (tmp_path / "served" / "saved_model.pb").is_file()
    capsys.readouterr()
    assert main([*base, "--format", "tflite", "--out", str(tmp_path / "m.tflite")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_export_of_a_missing_model_is_a_one_line_error(tmp_path, capsys):
    code = main(["export", "--model", str(tmp_path / "no.keras"), "--format", "savedmodel",
                 "--out", str(tmp_path / "served")])
    assert code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "served").exists()


@pytest.mark.slow
def test_overwrite_replaces_an_earlier_export_but_not_a_folder_of_other_files(model, tmp_path,
                                                                              capsys):
    model_file = tmp_path / "styles.keras"
    save_model(model, model_file)
    served, photos = tmp_path / "served", tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"a photo")
    base = ["export", "--model", str(model_file), "--format", "savedmodel", "--overwrite"]
    assert main([*base, "--out", str(served)]) == 0
    (served / "stale.txt").write_text("from before")
    assert main([*base, "--out", str(served)]) == 0
    assert not (served / "stale.txt").exists() and (served / "saved_model.pb").is_file()
    capsys.readouterr()
    assert main([*base, "--out", str(photos)]) == 2
    assert "not an earlier export" in capsys.readouterr().err
    assert (photos / "holiday.jpg").read_bytes() == b"a photo"
