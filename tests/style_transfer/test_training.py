"""Training: the loss falls, styles are routed per sample, runs save, load and resume exactly."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cbn import conditional_layers
from style_transfer import cli, training
from style_transfer.losses import LossConfig, PerceptualLoss
from style_transfer.model_file import load_style_model
from style_transfer.network import StyleTransferNetwork

REPO_ROOT = Path(__file__).resolve().parents[2]

# Blocks 1-2 of a random VGG-16: the full code path, fast enough for a test.
FAST_LOSS = LossConfig(
    vgg_weights="random",
    content_layer="block2_conv2",
    style_layers=("block1_conv2", "block2_conv2"),
    style_layer_weights=(1e-3, 1e-3),
    style_size=32,
)
STEPS = 24
HALF = STEPS // 2
SETTINGS = {
    "image_size": 32,
    "batch_size": 2,
    "alpha": 0.25,
    "learning_rate": 5e-3,
    "loss_config": FAST_LOSS,
    "checkpoint_every": HALF,
    "sample_every": HALF,
    "seed": 3,
    "progress": False,
}
STYLE_NAMES = ("stripes", "speckles", "checks")


def write_training_images(folder):
    """A content folder of 4 small photos-like images and 3 distinct style images."""
    rng = np.random.default_rng(0)
    content = folder / "content"
    content.mkdir(parents=True)
    rows, columns = np.mgrid[0:48, 0:40] / 48.0
    for index in range(4):
        base = np.stack([rows, columns, 1 - rows * columns], axis=-1) * (0.5 + 0.1 * index)
        image = np.clip(base + 0.1 * rng.random((48, 40, 3)), 0, 1)
        Image.fromarray((image * 255).astype(np.uint8)).save(content / f"photo{index}.png")
    stripes = np.zeros((40, 40, 3)); stripes[::4, :, 0] = 1.0
    speckles = np.zeros((40, 40, 3)); speckles[..., 2] = rng.random((40, 40)) > 0.7
    checks = np.indices((40, 40)).sum(axis=0) // 5 % 2 * np.array([0.2, 0.9, 0.3])[:, None, None]
    styles = []
    for name, image in zip(STYLE_NAMES, (stripes, speckles, np.moveaxis(checks, 0, -1))):
        path = folder / f"{name}.png"
        Image.fromarray((image * 255).astype(np.uint8)).save(path)
        styles.append(path)
    return content, styles


@pytest.fixture(scope="module")
def images_folder(tmp_path_factory):
    return write_training_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def straight_run(images_folder, tmp_path_factory):
    """STEPS steps in one go: the reference every other test compares with."""
    content, styles = images_folder
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    model = training.train(content, styles, run_dir, steps=STEPS, **SETTINGS)
    return model, run_dir


def _photos(seed=0, size=32):
    return np.random.default_rng(seed).random((2, size, size, 3)).astype("float32")


def test_the_loss_falls_for_every_style(straight_run):
    history = training.read_history(straight_run[1])
    assert len(history["step"]) == STEPS
    for name in STYLE_NAMES:
        losses = history[f"style:{name}"]
        losses = losses[~np.isnan(losses)]
        assert losses[-2:].mean() < 0.9 * losses[:2].mean(), name


def test_the_output_differs_per_style(straight_run):
    model, _ = straight_run
    photos = _photos()
    outputs = [np.asarray(model(photos, np.full(2, style, "int32"))) for style in range(3)]
    for first in range(3):
        for second in range(first + 1, 3):
            assert np.abs(outputs[first] - outputs[second]).max() > 1e-3


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


def test_the_saved_model_gives_the_same_outputs_names_and_config(straight_run):
    model, run_dir = straight_run
    loaded = load_style_model(run_dir / training.MODEL_FILE)
    assert loaded.style_names == list(STYLE_NAMES)
    assert loaded.training_config["loss"] == FAST_LOSS.to_dict()
    assert loaded.training_config["steps"] == STEPS
    assert loaded.training_config["image_size"] == SETTINGS["image_size"]
    styles = np.array([2, 0], "int32")
    np.testing.assert_array_equal(np.asarray(loaded(_photos(), styles)),
                                  np.asarray(model(_photos(), styles)))


def test_logs_hold_loss_curves_per_style_and_sample_grids(straight_run):
    _, run_dir = straight_run
    tags = set()
    for path in (run_dir / training.LOG_DIR).iterdir():
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    expected = {"loss/total", "loss/content", "loss/style", "loss/tv", "samples"}
    assert expected | {f"style_loss/{name}" for name in STYLE_NAMES} <= tags


_KILLED_RUN = """
import json, os, signal, sys
from style_transfer import training
from style_transfer.losses import LossConfig

arguments = json.loads(sys.argv[1])
write_checkpoint = training.write_checkpoint

def write_checkpoint_then_die(out_dir, model, optimizer, step):
    write_checkpoint(out_dir, model, optimizer, step)
    if step == arguments["kill_at"]:
        os.kill(os.getpid(), signal.SIGKILL)

training.write_checkpoint = write_checkpoint_then_die
settings = arguments["settings"]
settings["loss_config"] = LossConfig.from_dict(settings["loss_config"])
training.train(arguments["content"], arguments["styles"], arguments["out"], **settings)
"""


def test_a_run_killed_after_a_checkpoint_resumes_to_the_straight_result(
    straight_run, images_folder, tmp_path
):
    content, styles = images_folder
    run_dir = tmp_path / "run"
    settings = {**SETTINGS, "loss_config": FAST_LOSS.to_dict(), "steps": STEPS}
    arguments = {"content": str(content), "styles": [str(path) for path in styles],
                 "out": str(run_dir), "settings": settings, "kill_at": HALF}
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "KERAS_BACKEND": "tensorflow"}
    killed = subprocess.run([sys.executable, "-c", _KILLED_RUN, json.dumps(arguments)],
                            env=environment, capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert not (run_dir / training.MODEL_FILE).exists()

    # Resume through the command line: the same settings as flags.
    exit_code = cli.main([
        "train", "--content", str(content), "--styles", *map(str, styles), "--out", str(run_dir),
        "--resume", "--steps", str(STEPS), "--image-size", "32", "--batch-size", "2",
        "--alpha", "0.25", "--learning-rate", "5e-3", "--content-layer", "block2_conv2",
        "--style-layers", "block1_conv2", "block2_conv2", "--style-weight", "1e-3",
        "--style-size", "32", "--vgg-weights", "random", "--checkpoint-every", str(HALF),
        "--sample-every", str(HALF), "--seed", "3", "--quiet",
    ])
    assert exit_code == 0

    straight_model, straight_dir = straight_run
    resumed = training.read_history(run_dir)
    straight = training.read_history(straight_dir)
    np.testing.assert_array_equal(resumed["step"], np.arange(1, STEPS + 1))
    np.testing.assert_allclose(resumed["total"], straight["total"], rtol=1e-4)
    resumed_model = load_style_model(run_dir / training.MODEL_FILE)
    for resumed_weight, straight_weight in zip(resumed_model.get_weights(),
                                               straight_model.get_weights()):
        np.testing.assert_allclose(resumed_weight, straight_weight, rtol=1e-4, atol=1e-6)


def test_a_batch_trains_only_the_style_rows_it_uses():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    styles = [rng.random((32, 32, 3)).astype("float32") for _ in range(3)]
    model = StyleTransferNetwork(3, alpha=0.25)
    model.build()
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    step = training.TrainingStep(model, optimizer, PerceptualLoss(styles, FAST_LOSS))
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]

    step(_photos(), np.array([0, 1], "int32"))

    for variable, old in zip(model.trainable_variables, before):
        new = keras.ops.convert_to_numpy(variable)
        if variable.path.endswith(("gamma", "beta")):
            np.testing.assert_array_equal(new[2], old[2])
            assert not np.array_equal(new[0], old[0]) and not np.array_equal(new[1], old[1])
        else:
            assert not np.array_equal(new, old), variable.path


def test_style_draws_depend_only_on_seed_and_step():
    first = training.draw_style_ids(5, 7, 16, 3).numpy()
    np.testing.assert_array_equal(first, training.draw_style_ids(5, 7, 16, 3).numpy())
    assert not np.array_equal(first, training.draw_style_ids(5, 8, 16, 3).numpy())
    assert first.min() >= 0 and first.max() < 3
