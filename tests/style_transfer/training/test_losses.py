"""The perceptual losses: Gram matrices, per-sample style targets, the VGG loss network."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from style_transfer.base import images
from style_transfer.base.errors import BadInput, RandomWeightsWarning
from style_transfer.training import losses
from style_transfer.training.losses import LossConfig, PerceptualLoss, gram_matrix
from tests.style_transfer.training_inputs import FAST_LOSS

# Blocks 1-2 of a random VGG-16, each style layer weighted differently.
SMALL_CONFIG = dataclasses.replace(FAST_LOSS, style_layer_weights=(1e-4, 2e-4))


def _random_images(shape, seed):
    return np.random.default_rng(seed).random(shape).astype("float32")


@pytest.fixture(scope="module")
def two_style_loss():
    styles = [_random_images((48, 40, 3), 1), _random_images((20, 64, 3), 2)]
    return PerceptualLoss(styles, SMALL_CONFIG)


def _numpy_gram(features, divide_channels=False):
    batch, height, width, channels = features.shape
    flat = features.reshape(batch, height * width, channels).astype(np.float64)
    gram = np.einsum("bpc,bpd->bcd", flat, flat) / (height * width)
    return gram / channels if divide_channels else gram


@pytest.mark.parametrize("divide_channels", [False, True])
def test_gram_matrix_matches_numpy(divide_channels):
    features = _random_images((2, 5, 7, 6), 0) - 0.5
    gram = keras.ops.convert_to_numpy(gram_matrix(features, divide_channels))
    np.testing.assert_allclose(gram, _numpy_gram(features, divide_channels), rtol=1e-5, atol=1e-7)


def test_preprocessing_is_caffe_bgr_minus_the_imagenet_mean():
    image = _random_images((1, 2, 2, 3), 0)
    expected = image[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses.preprocess_for_vgg(image)), expected, rtol=1e-6,
        atol=1e-4,
    )


def test_total_variation_matches_numpy():
    images = _random_images((2, 6, 5, 3), 0)
    expected = (np.square(np.diff(images, axis=1)).mean(axis=(1, 2, 3))
                + np.square(np.diff(images, axis=2)).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses.total_variation(images)), expected, rtol=1e-5
    )


def test_style_targets_are_grams_of_the_style_resized_to_style_size(two_style_loss):
    style = _random_images((48, 40, 3), 1)
    resized = images.resize_long_side(style, SMALL_CONFIG.style_size)
    assert resized.shape == (32, 27, 3)
    features = two_style_loss.network(losses.preprocess_for_vgg(resized[None]))
    for name in SMALL_CONFIG.style_layers:
        target = keras.ops.convert_to_numpy(two_style_loss.gram_table[name])
        channels = features[name].shape[-1]
        assert target.shape == (2, channels, channels)
        np.testing.assert_allclose(
            target[0], _numpy_gram(keras.ops.convert_to_numpy(features[name]))[0], rtol=1e-4
        )


def test_style_targets_are_gathered_per_sample(two_style_loss):
    photos = _random_images((3, 32, 32, 3), 3)
    stylized = _random_images((3, 32, 32, 3), 4)
    style_ids = np.array([1, 0, 1])
    style = keras.ops.convert_to_numpy(two_style_loss(photos, stylized, style_ids)["style"])

    features = two_style_loss.network(losses.preprocess_for_vgg(stylized))
    expected = np.zeros(3)
    for name, weight in zip(SMALL_CONFIG.style_layers, SMALL_CONFIG.style_layer_weights):
        grams = _numpy_gram(keras.ops.convert_to_numpy(features[name]))
        targets = keras.ops.convert_to_numpy(two_style_loss.gram_table[name])[style_ids]
        expected += weight * np.square(grams - targets).mean(axis=(1, 2))
    np.testing.assert_allclose(style, expected, rtol=1e-4)
    swapped = two_style_loss(photos, stylized, 1 - style_ids)["style"]
    assert not np.allclose(keras.ops.convert_to_numpy(swapped), style)


@pytest.mark.slow
def test_the_loss_of_style_images_equals_the_loss_of_their_table_rows():
    """Per-sample Gram targets from style images (arbitrary styles) equal the table's."""
    styles = _random_images((2, 32, 32, 3), 7)
    photos = _random_images((2, 32, 32, 3), 8)
    stylized = _random_images((2, 32, 32, 3), 9)
    expected = PerceptualLoss(list(styles), SMALL_CONFIG)(photos, stylized, np.array([1, 0]))
    actual = PerceptualLoss(config=SMALL_CONFIG)(photos, stylized, styles[[1, 0]])
    for part in ("total", "content", "style", "tv"):
        np.testing.assert_allclose(actual[part], expected[part], rtol=1e-4, atol=1e-7)


def test_content_loss_is_the_mean_squared_feature_difference(two_style_loss):
    photos = _random_images((2, 32, 32, 3), 5)
    stylized = _random_images((2, 32, 32, 3), 6)
    parts = two_style_loss(photos, stylized, np.array([0, 1]))
    network = two_style_loss.network
    layer = SMALL_CONFIG.content_layer
    photo_features = keras.ops.convert_to_numpy(network(losses.preprocess_for_vgg(photos))[layer])
    stylized_features = keras.ops.convert_to_numpy(
        network(losses.preprocess_for_vgg(stylized))[layer]
    )
    expected = np.square(stylized_features - photo_features).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(parts["content"]), expected, rtol=1e-4)
    same = two_style_loss(photos, photos, np.array([0, 1]))["content"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(same), 0.0, atol=1e-6)
    total = parts["content"] + parts["style"] + parts["tv"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(parts["total"]),
                               keras.ops.convert_to_numpy(total), rtol=1e-6)


def test_loss_network_is_frozen_and_uses_average_pooling(two_style_loss):
    network = two_style_loss.network
    kinds = [type(layer).__name__ for layer in network.layers]
    assert "AveragePooling2D" in kinds and "MaxPooling2D" not in kinds
    assert network.trainable_weights == []


@pytest.mark.slow
def test_max_pooling_shares_the_same_convolution_weights():
    average = losses.build_loss_network(SMALL_CONFIG)
    maximum = losses.build_loss_network(LossConfig(**{**SMALL_CONFIG.to_dict(), "pooling": "max"}))
    assert "MaxPooling2D" in [type(layer).__name__ for layer in maximum.layers]
    for left, right in zip(average.weights, maximum.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(left),
                                      keras.ops.convert_to_numpy(right))


def test_random_weights_warn_loudly_and_print_nothing(capsys):
    with pytest.warns(RandomWeightsWarning, match="RANDOM weights"):
        losses.build_loss_network(SMALL_CONFIG)
    assert capsys.readouterr() == ("", "")


def test_loss_config_round_trips_through_json():
    config = LossConfig(vgg="vgg19", tv_weight=2.0, style_size=128)
    assert LossConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_failed_imagenet_download_asks_for_random_or_a_local_file(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(BadInput, match="`vgg_weights` random"):
        losses.build_loss_network(LossConfig())


def test_missing_weights_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        losses.build_loss_network(LossConfig(vgg_weights=str(tmp_path / "vgg.h5")))


def test_a_loss_whose_weights_are_all_zero_is_refused():
    with pytest.raises(BadInput, match="all 0: the loss would be 0"):
        LossConfig(content_weight=0.0, style_layer_weights=(0.0,) * 4, tv_weight=0.0)
    LossConfig(content_weight=0.0, style_layer_weights=(0.0, 0.0, 0.0, 1e-4))  # Style only.


def test_a_weights_path_that_is_not_a_file_says_what_it_is(tmp_path):
    with pytest.raises(BadInput, match="'.*': it is a folder"):
        losses.vgg_weights_path(LossConfig(vgg_weights=str(tmp_path)))
    with pytest.raises(BadInput, match="is not a regular file"):
        losses.vgg_weights_path(LossConfig(vgg_weights="/dev/null"))


def test_unknown_layer_names_the_available_layers():
    with pytest.raises(BadInput, match="block1_conv1"):
        losses.build_loss_network(LossConfig(vgg_weights="random", content_layer="relu3_3"))


def test_a_failed_vgg_download_names_its_real_cause(monkeypatch):
    import urllib.error

    def forbidden(file_name, url, **kwargs):
        # What keras.utils.get_file raises: a bare Exception over the HTTPError.
        try:
            raise urllib.error.HTTPError(url, 403, "Forbidden", None, None)
        except urllib.error.HTTPError as error:
            raise Exception(f"URL fetch failure on {url}: {error.code} -- {error.msg}")

    monkeypatch.setattr(keras.utils, "get_file", forbidden)
    with pytest.raises(BadInput, match=r"HTTP 403 \(Forbidden\).*`vgg_weights` random"):
        losses.vgg_weights_path(LossConfig())
