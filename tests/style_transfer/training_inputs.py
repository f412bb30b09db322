"""Tiny inputs for training tests: photos, style images, a 2-style model, a fast loss.

Blocks 1-2 of a random VGG-16 exercise the whole code path at a fraction of the cost.
"""

import shutil

import keras
import numpy as np
from PIL import Image

from cbn import conditional_layers
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import save_model
from style_transfer.training.config import LossConfig

FAST_LOSS = LossConfig(
    vgg_weights="random",
    content_layer="block2_conv2",
    style_layers=("block1_conv2", "block2_conv2"),
    style_layer_weights=(1e-3, 1e-3),
    style_size=32,
)
# FAST_LOSS as command-line options.
FAST_LOSS_OPTIONS = ["--vgg-weights", "random", "--content-layer", "block2_conv2",
                     "--style-layers", "block1_conv2", "block2_conv2", "--style-weight", "1e-3",
                     "--style-size", "32"]
STYLE_NAMES = ("stripes", "speckles", "checks")


def write_training_images(folder):
    """A content folder of 4 small photo-like images and 3 distinct style images."""
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


def write_command_inputs(folder):
    """The inputs of the three training commands: `write_training_images`, the style
    images also as a folder (style_folder/) and a 2-style model (model.keras)."""
    _, styles = write_training_images(folder)
    (folder / "style_folder").mkdir()
    for path in styles:
        shutil.copy(path, folder / "style_folder")
    write_style_model(folder / "model.keras")
    return folder


def write_style_model(path, style_names=("stripes", "speckles")):
    """A 2-style model (32 px, batch 2, FAST_LOSS recorded) whose styles differ."""
    keras.utils.set_random_seed(0)
    model = StyleTransferNetwork(
        len(style_names), alpha=0.25, style_names=list(style_names),
        training_config={"loss": FAST_LOSS.to_dict(), "image_size": 32, "batch_size": 2,
                         "style_images": [f"{name}.png" for name in style_names]},
    )
    model.build()
    # Trained styles have different rows; fresh tables (all ones/zeros) would not.
    rng = np.random.default_rng(0)
    for layer in conditional_layers(model):
        layer.gamma.assign(1 + 0.3 * rng.standard_normal(layer.gamma.shape))
        layer.beta.assign(0.3 * rng.standard_normal(layer.beta.shape))
    save_model(model, path)
    return path
