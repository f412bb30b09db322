"""`HubModule`: a TF Hub model (here a local SavedModel stand-in) as a Keras 3 layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.cli.main import main
from style_transfer.models.hub import HubModule, load_hub_model, resolve_handle
from tests.style_transfer.hub_stand_ins import save_feature_vector_model, save_plain_module


@pytest.fixture(scope="module")
def feature_model_dir(tmp_path_factory):
    return save_feature_vector_model(tmp_path_factory.mktemp("hub") / "features")


def _images(seed=0):
    return np.random.default_rng(seed).random((2, 16, 16, 3)).astype("float32")


def _model_around(hub_layer):
    inputs = keras.Input((16, 16, 3))
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(hub_layer(inputs)))


def _one_sgd_step(model, images):
    optimizer = keras.optimizers.SGD(0.5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(images, training=True) - 1.0))
    variables = model.trainable_variables
    optimizer.apply(tape.gradient(loss, variables), variables)


def test_hub_variables_are_the_layers_weights_and_the_same_tf_variables(feature_model_dir):
    layer = HubModule(str(feature_model_dir), trainable=True)
    assert [w.path for w in layer.trainable_weights] == ["conv_kernel"]
    assert [w.path for w in layer.non_trainable_weights] == ["bn_moving_mean"]
    layer.trainable_weights[0].assign(tf.zeros((3, 3, 3, 8)))
    # The hub graph reads the very variable Keras holds: zero kernel -> zero features.
    np.testing.assert_array_equal(layer(_images()), np.zeros((2, 8)))


def test_trainable_hub_module_changes_after_an_optimizer_step(feature_model_dir):
    layer = HubModule(str(feature_model_dir), trainable=True)
    model = _model_around(layer)
    before = layer.trainable_weights[0].numpy().copy()
    outputs_before = layer(_images(1)).numpy()
    _one_sgd_step(model, _images())
    assert np.abs(layer.trainable_weights[0].numpy() - before).max() > 1e-4
    assert np.abs(layer(_images(1)).numpy() - outputs_before).max() > 1e-5


def test_frozen_hub_module_is_bit_identical_after_an_optimizer_step(feature_model_dir):
    layer = HubModule(str(feature_model_dir), trainable=False)
    model = _model_around(layer)
    assert layer.trainable_weights == []
    before = [w.numpy().copy() for w in layer.weights]
    head_before = model.get_layer("head").kernel.numpy().copy()
    _one_sgd_step(model, _images())
    for value, weight in zip(before, layer.weights):
        np.testing.assert_array_equal(value, weight.numpy())
    assert np.abs(model.get_layer("head").kernel.numpy() - head_before).max() > 0


def test_frozen_hub_module_runs_the_hub_model_in_inference_mode(feature_model_dir):
    frozen = HubModule(str(feature_model_dir), trainable=False)
    trainable = HubModule(str(feature_model_dir), trainable=True)
    images = _images()
    np.testing.assert_array_equal(frozen(images, training=True), frozen(images, training=False))
    assert np.abs(trainable(images, training=True) - trainable(images, training=False)).max() > 0


def test_fine_tuned_hub_values_survive_a_keras_file_round_trip(feature_model_dir, tmp_path):
    layer = HubModule(str(feature_model_dir), trainable=True)
    model = _model_around(layer)
    _one_sgd_step(model, _images())
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=False)
    loaded_layer = next(item for item in loaded.layers if isinstance(item, HubModule))
    # Not the values of the SavedModel on disk: the fine-tuned ones in the file.
    original = load_hub_model(str(feature_model_dir)).trainable_variables[0].numpy()
    assert np.abs(loaded_layer.trainable_weights[0].numpy() - original).max() > 1e-4
    np.testing.assert_array_equal(loaded_layer.trainable_weights[0].numpy(),
                                  layer.trainable_weights[0].numpy())
    np.testing.assert_array_equal(loaded(_images(2)), model(_images(2)))


def test_loading_a_hub_module_needs_unsafe_deserialization(feature_model_dir, tmp_path):
    model = _model_around(HubModule(str(feature_model_dir)))
    model.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.saving.load_model(tmp_path / "model.keras")


def test_a_plain_tf_module_savedmodel_works_too(tmp_path):
    layer = HubModule(str(save_plain_module(tmp_path / "plain")), trainable=True)
    assert [w.path for w in layer.trainable_weights] == ["kernel"]
    inputs = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(layer(inputs), inputs @ layer.weights[0].numpy(), rtol=1e-6)


def test_missing_handle_is_a_one_line_error_that_names_a_local_folder(tmp_path):
    with pytest.raises(BadInput) as error:
        HubModule(str(tmp_path / "no_such_model"))
    message = str(error.value)
    assert "\n" not in message and "local SavedModel folder" in message


def test_folder_without_a_savedmodel_is_a_one_line_error(tmp_path):
    with pytest.raises(BadInput, match="saved_model.pb"):
        resolve_handle(str(tmp_path))


def test_unreachable_hub_url_is_a_one_line_error_that_names_a_local_folder():
    with pytest.raises(BadInput) as error:
        resolve_handle("http://127.0.0.1:9/no-such-model/1")
    message = str(error.value)
    assert "\n" not in message and "local folder" in message


def test_cli_reports_a_missing_hub_handle_in_one_line(tmp_path, capsys):
    for name in ("photo.png", "style.png"):
        images.save_image(_images()[0], tmp_path / name)
    code = main(["stylize", str(tmp_path / "photo.png"), "--out", str(tmp_path / "out"),
                 "--style-image", str(tmp_path / "style.png"), "--engine", "magenta-hub",
                 "--hub-handle", str(tmp_path / "missing")])
    assert code == 2
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1 and "local SavedModel folder" in error_lines[0]
