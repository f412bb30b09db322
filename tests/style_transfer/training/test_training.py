"""Training: the loss falls, styles are routed per sample, runs save and load.

Resuming, signals, locks and divergence are `test_run.py`'s, for all three commands.
"""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cbn import conditional_layers
from style_transfer.base.errors import BadInput
from style_transfer.models.loading import load_style_model
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.training import multi_style as training
from style_transfer.training.config import TrainConfig
from style_transfer.training.logs import LOG_DIR, read_history
from style_transfer.training.losses import PerceptualLoss
from style_transfer.training.run import MODEL_FILE
from style_transfer.training.step import TrainingStep, draw_style_ids
from tests.style_transfer.training_inputs import FAST_LOSS, STYLE_NAMES, write_training_images

STEPS = 24
HALF = STEPS // 2
SETTINGS = {
    "image_size": 32,
    "batch_size": 2,
    "alpha": 0.25,
    "learning_rate": 5e-3,
    "loss": FAST_LOSS,
    "checkpoint_every": HALF,
    "sample_every": HALF,
    "seed": 3,
}


@pytest.fixture(scope="module")
def images_folder(tmp_path_factory):
    return write_training_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def straight_run(images_folder, tmp_path_factory):
    """STEPS steps in one go: the reference every other test compares with."""
    content, styles = images_folder
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    config = TrainConfig(content_dir=content, style_images=styles, steps=STEPS, **SETTINGS)
    model = training.train(config, run_dir, progress=False)
    return model, run_dir


def _photos(seed=0, size=32):
    return np.random.default_rng(seed).random((2, size, size, 3)).astype("float32")


@pytest.mark.slow
def test_the_loss_falls_for_every_style(straight_run):
    history = read_history(straight_run[1])
    assert len(history["step"]) == STEPS
    for name in STYLE_NAMES:
        losses = history[f"style:{name}"]
        losses = losses[~np.isnan(losses)]
        assert losses[-2:].mean() < 0.9 * losses[:2].mean(), name


@pytest.mark.slow
def test_the_output_differs_per_style(straight_run):
    model, _ = straight_run
    photos = _photos()
    outputs = [np.asarray(model(photos, np.full(2, style, "int32"))) for style in range(3)]
    for first in range(3):
        for second in range(first + 1, 3):
            assert np.abs(outputs[first] - outputs[second]).max() > 1e-3


@pytest.mark.slow
def test_a_blend_equals_the_output_with_blended_gamma_beta(straight_run):
    model, _ = straight_run
    weights = np.array([0.2, 0.5, 0.3], "float32")
    blended = model(_photos(), np.repeat(weights[None], 2, axis=0))

    copy = StyleTransferNetwork.from_config(model.get_config())
    copy.build()
    copy.set_weights(model.get_weights())
    for layer in conditional_layers(copy):
        for table in (layer.gamma, layer.beta):
            values = keras.ops.convert_to_numpy(table)
            values[0] = weights @ values
            table.assign(values)
    expected = copy(_photos(), np.zeros(2, "int32"))
    np.testing.assert_allclose(np.asarray(blended), np.asarray(expected), atol=1e-5)


@pytest.mark.slow
def test_the_saved_model_gives_the_same_outputs_names_and_config(straight_run):
    model, run_dir = straight_run
    loaded = load_style_model(run_dir / MODEL_FILE)
    assert loaded.style_names == list(STYLE_NAMES)
    assert loaded.training_config["loss"] == FAST_LOSS.to_dict()
    assert loaded.training_config["steps"] == STEPS
    assert loaded.training_config["image_size"] == SETTINGS["image_size"]
    styles = np.array([2, 0], "int32")
    np.testing.assert_array_equal(np.asarray(loaded(_photos(), styles)),
                                  np.asarray(model(_photos(), styles)))


@pytest.mark.slow
def test_logs_hold_loss_curves_per_style_and_sample_grids(straight_run):
    _, run_dir = straight_run
    tags = set()
    for path in (run_dir / LOG_DIR).iterdir():
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    expected = {"loss/total", "loss/content", "loss/style", "loss/tv", "samples"}
    assert expected | {f"style_loss/{name}" for name in STYLE_NAMES} <= tags


@pytest.mark.slow
def test_a_batch_trains_only_the_style_rows_it_uses():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    styles = [rng.random((32, 32, 3)).astype("float32") for _ in range(3)]
    model = StyleTransferNetwork(3, alpha=0.25)
    model.build()
    step = TrainingStep(model, PerceptualLoss(styles, FAST_LOSS), lambda ids: (ids, ids),
                        num_styles=3, learning_rate=1e-2)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]

    step(_photos(), np.array([0, 1], "int32"))

    for variable, old in zip(model.trainable_variables, before):
        new = keras.ops.convert_to_numpy(variable)
        if variable.path.endswith(("gamma", "beta")):
            np.testing.assert_array_equal(new[2], old[2])
            assert not np.array_equal(new[0], old[0]) and not np.array_equal(new[1], old[1])
        else:
            assert not np.array_equal(new, old), variable.path


@pytest.mark.slow
def test_adam_sees_a_style_rows_gradient_summed_over_the_samples_of_that_style():
    """Two samples of one style: Adam's second moment is that of the row's whole gradient,
    (g1 + g2)^2. Given the table's gradient as IndexedSlices (one slice per sample), Keras's
    Adam squared each slice before adding them: g1^2 + g2^2."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    styles = [rng.random((32, 32, 3)).astype("float32") for _ in range(2)]
    model = StyleTransferNetwork(2, alpha=0.25)
    model.build()
    loss = PerceptualLoss(styles, FAST_LOSS)
    step = TrainingStep(model, loss, lambda ids: (ids, ids), num_styles=2, learning_rate=1e-2)
    photos, style_ids = _photos(), tf.constant([1, 1], tf.int32)
    table = next(v for v in model.trainable_variables if v.path.endswith("norm/gamma"))
    with tf.GradientTape() as tape:
        per_sample = loss(photos, model(photos, style_ids, training=True), style_ids)["total"]
        mean = tf.reduce_sum(per_sample) / 2.0
    gradient = tf.convert_to_tensor(tape.gradient(mean, table.value))

    step(photos, style_ids)

    velocity = step.optimizer._velocities[step.optimizer._get_variable_index(table)]
    expected = (1 - step.optimizer.beta_2) * np.square(gradient.numpy())
    assert np.abs(expected[1]).max() > 0 and np.all(expected[0] == 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(velocity), expected, rtol=1e-4,
                               atol=1e-12)


def test_style_draws_depend_only_on_seed_and_step():
    first = draw_style_ids(5, 7, 16, 3).numpy()
    np.testing.assert_array_equal(first, draw_style_ids(5, 7, 16, 3).numpy())
    assert not np.array_equal(first, draw_style_ids(5, 8, 16, 3).numpy())
    assert first.min() >= 0 and first.max() < 3


@pytest.mark.slow
def test_photos_of_one_colour_train_like_any_other(images_folder, tmp_path):
    # A black image and a 1x1 image among the photos made every feature map of their
    # crops constant: instance normalization's gradient then overflowed to NaN.
    import shutil

    from PIL import Image

    photos, styles = images_folder
    content = shutil.copytree(photos, tmp_path / "content")
    Image.new("RGB", (40, 40), (0, 0, 0)).save(content / "black.png")
    Image.new("RGB", (1, 1), (200, 220, 255)).save(content / "one_pixel.png")
    config = TrainConfig(content_dir=content, style_images=styles[:1], steps=8,
                         **{**SETTINGS, "learning_rate": 1e-3})
    model = training.train(config, tmp_path / "run", progress=False)
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
               for variable in model.weights)
    assert np.all(np.isfinite(read_history(tmp_path / "run")["total"]))


@pytest.mark.parametrize("field, value", [("style_images", "wave.jpg"),
                                          ("style_images", Path("wave.jpg")),
                                          ("style_names", "wave")])
def test_a_single_value_for_a_list_is_refused_not_split_into_characters(field, value):
    lists = {"style_images": ["wave.jpg"], "style_names": None, field: value}
    with pytest.raises(BadInput, match=rf"{field} is a list; .*'wave(\.jpg)?'\]"):
        TrainConfig(content_dir="photos", **lists)
