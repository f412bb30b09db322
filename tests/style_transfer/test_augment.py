"""`style_transfer.augment.RandomStyle`: draws, training-only painting, seeds, saving, tf.data.

Runs on TensorFlow, JAX and PyTorch (tests/run_backends.py): the layer with a table of
styles inside a model and in a `tf.data` map on each. The arbitrary-style model's tests
run on TensorFlow only: its encoder (MobileNetV2) takes minutes to run eagerly on the
others' CPU builds, and the layer's code for it is the same `keras.ops`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from style_transfer.augment import RandomStyle, fit_normal
from style_transfer.base.errors import BadInput
from style_transfer.base.settings import MAX_SEED
from style_transfer.painting import photo_options
from tests.style_transfer.builders import NAMES

BATCH, HEIGHT, WIDTH = 6, 16, 20


@pytest.fixture(scope="module")
def photos():
    """A batch of photos in [0, 255] (Keras's default value range)."""
    return np.random.default_rng(0).uniform(0, 255, (BATCH, HEIGHT, WIDTH, 3)).astype("float32")


@pytest.fixture(scope="module")
def style_pictures(model, photos):
    """Every style's painting of every photo in [0, 1]: (num_styles, batch, H, W, 3)."""
    return np.stack([
        ops.convert_to_numpy(model(photos / 255.0, np.full((BATCH,), index, "int32")))
        for index in range(len(NAMES))
    ])


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def matching_style(picture, pictures):
    """The index of the style whose painting `picture` is (to 1e-4), or None."""
    for index, candidate in enumerate(pictures):
        if np.abs(picture - candidate).max() < 1e-4:
            return index
    return None


@pytest.mark.slow
def test_one_style_at_a_time_paints_each_image_in_one_of_the_styles(model, photos,
                                                                     style_pictures):
    painted = numpy(RandomStyle(model, concentration=0, strength=1.0, seed=1)(photos)) / 255
    styles = [matching_style(picture, style_pictures[:, index])
              for index, picture in enumerate(painted)]
    assert None not in styles
    assert len(set(styles)) > 1  # each image draws its own style


def test_chosen_styles_are_the_only_ones_drawn(model, photos, style_pictures):
    painted = numpy(RandomStyle(model, styles=["scream"], strength=1.0, seed=2)(photos)) / 255
    np.testing.assert_allclose(painted, style_pictures[1], atol=1e-4)


def test_a_large_concentration_blends_every_style_almost_equally(model, photos):
    painted = numpy(RandomStyle(model, concentration=1e7, strength=1.0, seed=3)(photos)) / 255
    equal = numpy(model(photos / 255.0, np.full((BATCH, 3), 1 / 3, "float32")))
    np.testing.assert_allclose(painted, equal, atol=2e-3)


@pytest.mark.slow
def test_strength_mixes_the_painting_with_the_photo(model, photos, style_pictures):
    painted = numpy(RandomStyle(model, styles=["udnie"], strength=0.25, seed=4)(photos))
    expected = 0.25 * style_pictures[2] * 255 + 0.75 * photos
    np.testing.assert_allclose(painted, expected, atol=0.05)


def test_strength_zero_gives_the_photo_back(model, photos):
    painted = numpy(RandomStyle(model, strength=0.0, seed=5)(photos))
    np.testing.assert_allclose(painted, photos, atol=1e-3)


def test_strengths_are_drawn_within_their_range(model, photos, style_pictures):
    painted = numpy(RandomStyle(model, styles=["wave"], strength=(0.2, 0.6), seed=6)(photos))
    # painted - photo = s (style - photo): s is the least-squares ratio per image.
    change = (painted / 255 - photos / 255).reshape(BATCH, -1)
    full = (style_pictures[0] - photos / 255).reshape(BATCH, -1)
    strengths = (change * full).sum(axis=1) / (full * full).sum(axis=1)
    assert np.all((strengths > 0.2 - 1e-3) & (strengths < 0.6 + 1e-3))
    assert np.ptp(strengths) > 0.05


def test_preserved_colours_are_photo_options_preserve_color(model, photos, style_pictures):
    painted = numpy(RandomStyle(model, styles=["wave"], strength=1.0, preserve_color=True,
                                value_range=(0, 1), seed=7)(photos / 255.0))
    expected = np.stack([photo_options.preserve_color(photo, picture)
                         for photo, picture in zip(photos / 255.0, style_pictures[0])])
    np.testing.assert_allclose(painted, expected, atol=1e-4)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_pictures_and_another_seed_others(model, photos):
    first = numpy(RandomStyle(model, concentration=0.5, seed=11)(photos))
    again = numpy(RandomStyle(model, concentration=0.5, seed=11)(photos))
    other = numpy(RandomStyle(model, concentration=0.5, seed=12)(photos))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1.0


def test_each_call_draws_again(model, photos):
    layer = RandomStyle(model, concentration=0.5, seed=13)
    assert np.abs(numpy(layer(photos)) - numpy(layer(photos))).max() > 1.0


@pytest.mark.slow
def test_not_training_passes_the_images_through(model, photos):
    np.testing.assert_array_equal(numpy(RandomStyle(model, seed=14)(photos, training=False)),
                                  photos)


def classifier(layer):
    inputs = keras.Input((HEIGHT, WIDTH, 3))
    x = layer(inputs)
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


@pytest.mark.slow
def test_in_a_model_it_paints_in_fit_only_and_stays_frozen(model, photos):
    layer = RandomStyle(model, seed=15)
    network = classifier(layer)
    network.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [numpy(weight) for weight in layer.network.weights]
    network.fit(photos, np.arange(BATCH) % 2, batch_size=3, epochs=1, verbose=0)
    assert layer.trainable_weights == []
    for old, weight in zip(before, layer.network.weights):
        np.testing.assert_array_equal(old, numpy(weight))
    # predict: the identity, so the classifier sees the photo itself.
    probe = keras.Model(network.inputs, network.layers[1].output)
    np.testing.assert_array_equal(probe.predict(photos, verbose=0), photos)


@pytest.mark.slow
def test_a_saved_model_loads_in_safe_mode_with_the_network_inside(model, photos, tmp_path):
    layer = RandomStyle(model, concentration=0.5, strength=(0.5, 1.0), seed=16)
    network = classifier(layer)
    network.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras", safe_mode=True)
    twin = loaded.layers[1]
    assert isinstance(twin, RandomStyle)
    assert twin.get_config()["strength"] == [0.5, 1.0]
    for weight, loaded_weight in zip(layer.network.weights, twin.network.weights):
        np.testing.assert_array_equal(numpy(weight), numpy(loaded_weight))
    # The seed generator's state is saved too: both draw the same next pictures.
    np.testing.assert_allclose(numpy(layer(photos)), numpy(twin(photos)), atol=1e-3)


@pytest.mark.slow
def test_in_a_tf_data_map_batched_or_one_image_at_a_time(model, photos):
    layer = RandomStyle(model, styles=["scream"], strength=1.0, seed=17)
    expected = numpy(layer(photos))
    batched = np.concatenate([element.numpy() for element in
                              tf.data.Dataset.from_tensor_slices(photos).batch(3).map(layer)])
    single = np.stack([element.numpy() for element in
                       tf.data.Dataset.from_tensor_slices(photos[:2]).map(layer)])
    np.testing.assert_allclose(batched, expected, atol=1e-3)
    np.testing.assert_allclose(single, expected[:2], atol=1e-3)


@pytest.mark.slow
def test_a_tf_data_map_is_seeded(model, photos):
    def run(seed):
        layer = RandomStyle(model, concentration=0.5, seed=seed)
        return np.concatenate([element.numpy() for element in
                               tf.data.Dataset.from_tensor_slices(photos).batch(3).map(layer)])

    np.testing.assert_array_equal(run(18), run(18))


@pytest.mark.parametrize("arguments, message", [
    ({"concentration": -1}, "`concentration`"),
    ({"strength": (0.8, 0.2)}, "low <= high"),
    ({"strength": 1.5}, "strength"),
    ({"styles": ["nope"]}, "unknown style"),
    ({"styles": []}, "`styles` is empty"),
    ({"style_images": [np.zeros((32, 32, 3))]}, "arbitrary-style model"),
    ({"sampling": "normal"}, "`sampling`"),
    ({"value_range": (1, 0)}, "`value_range`"),
    ({"preserve_color": "no"}, "`preserve_color` must be True or False"),
])
def test_bad_arguments_are_refused_with_one_line(model, arguments, message):
    with pytest.raises(BadInput, match=message):
        RandomStyle(model, **arguments)


@pytest.mark.parametrize("shape", [(2, 16, 16, 1), (2, 16, 16, 4), (16, 16), (1, 2, 16, 16, 3)])
def test_images_that_are_not_rgb_are_refused_with_one_line(model, shape):
    layer = RandomStyle(model, seed=0)
    with pytest.raises(BadInput, match=r"RGB images .*received shape"):
        layer(np.zeros(shape, "float32"))
    with pytest.raises(BadInput, match="RGB images"):
        layer(np.zeros(shape, "float32"), training=False)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's shapes")
def test_a_tf_data_map_of_images_of_unknown_channels_is_refused_with_one_line(model):
    layer = RandomStyle(model, seed=0)
    for signature in [tf.TensorSpec(None, "uint8"), tf.TensorSpec((None, None, None), "uint8")]:
        # AutoGraph wraps the BadInput as its StagingError, the message kept.
        with pytest.raises(Exception, match="decode with channels=3"):
            tf.function(layer, input_signature=[signature]).get_concrete_function()


def test_only_style_networks_are_painting_networks():
    with pytest.raises(BadInput, match="style network"):
        RandomStyle(keras.Sequential([keras.layers.Dense(1)]))


def test_the_fitted_normal_has_the_embeddings_mean_and_covariance():
    embeddings = np.random.default_rng(1).normal(size=(40, 5)) @ np.diag([3, 1, 0.5, 2, 1])
    mean, factor = fit_normal(embeddings)
    np.testing.assert_allclose(mean, embeddings.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(factor @ factor.T, np.cov(embeddings, rowvar=False), rtol=1e-4,
                               atol=1e-4)


tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the arbitrary-style model's encoder runs eagerly for minutes on this backend")


@pytest.fixture(scope="module")
def arbitrary_model():
    import warnings

    from style_transfer.models.arbitrary import create_arbitrary_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = create_arbitrary_model(encoder_weights="random", alpha=0.25,
                                       embedding_dim=8, style_image_size=32, seed=0)
    # A new model's gamma/beta heads start at zero (it ignores the style until trained):
    # random heads make embeddings paint differently.
    rng = np.random.default_rng(0)
    for variable in model.transformer.weights:
        if "mlp_gamma_beta/kernel" in variable.path:
            variable.assign(rng.normal(0, 0.3, variable.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def style_images():
    return [np.random.default_rng(seed).random((40, 40, 3)).astype("float32")
            for seed in range(3)]


@pytest.mark.slow
@tensorflow_only
def test_an_arbitrary_model_paints_in_one_style_image_at_a_time(arbitrary_model, style_images,
                                                                 photos):
    from style_transfer.models.arbitrary import style_embeddings

    layer = RandomStyle(arbitrary_model, style_images=style_images, strength=1.0, seed=19)
    painted = numpy(layer(photos)) / 255
    embeddings = style_embeddings(arbitrary_model, style_images)
    pictures = np.stack([numpy(arbitrary_model.transformer(photos / 255.0,
                                                           np.repeat(row[None], BATCH, 0)))
                         for row in embeddings])
    assert None not in [matching_style(picture, pictures[:, index])
                        for index, picture in enumerate(painted)]


@pytest.mark.slow
@tensorflow_only
def test_random_embeddings_from_the_fitted_normal_are_seeded(arbitrary_model, style_images,
                                                             photos):
    def paint(seed):
        return numpy(RandomStyle(arbitrary_model, style_images=style_images, sampling="normal",
                                 seed=seed)(photos))

    np.testing.assert_array_equal(paint(20), paint(20))
    assert np.abs(paint(20) - paint(21)).max() > 0.01


@pytest.mark.slow
@tensorflow_only
def test_an_arbitrary_model_layer_saves_its_style_embeddings(arbitrary_model, style_images,
                                                             photos, tmp_path):
    layer = RandomStyle(arbitrary_model, style_images=style_images, sampling="normal",
                        strength=(0.5, 1.0), seed=22)
    network = classifier(layer)
    network.save(tmp_path / "classifier.keras")
    twin = keras.saving.load_model(tmp_path / "classifier.keras", safe_mode=True).layers[1]
    np.testing.assert_array_equal(numpy(layer.style_embeddings), numpy(twin.style_embeddings))
    np.testing.assert_allclose(numpy(layer(photos)), numpy(twin(photos)), atol=1e-3)


@tensorflow_only
def test_normal_sampling_needs_two_style_images(arbitrary_model, style_images):
    with pytest.raises(BadInput, match="at least two"):
        RandomStyle(arbitrary_model, style_images=style_images[:1], sampling="normal")


@pytest.mark.parametrize("seed", [2**63, 2**31, -1, 1.5, True, "0"])
def test_a_seed_outside_0_to_2_31_minus_1_is_refused_with_one_line(model, seed):
    # The range of Keras's seeds on every backend (uint32 on JAX, int32 on PyTorch).
    with pytest.raises(BadInput, match=r"^`seed` must be an integer from 0 to 2147483647; "
                                       r"received "):
        RandomStyle(model, seed=seed)


def test_the_largest_seed_and_numpys_integers_are_seeds(model, photos):
    layer = RandomStyle(model, concentration=0.5, seed=np.int64(MAX_SEED))
    assert layer.seed == MAX_SEED and type(layer.get_config()["seed"]) is int
    same = RandomStyle(model, concentration=0.5, seed=MAX_SEED)
    np.testing.assert_array_equal(numpy(layer(photos)), numpy(same(photos)))
