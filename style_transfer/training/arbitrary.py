"""Training an arbitrary-style model (Ghiasi et al. 2017) over a folder of style images.

Each sample of a batch pairs a random crop of a content photo with a style image
drawn from the folder: the model's encoder sees the drawn image, and the loss
computes its Gram targets on the fly (`PerceptualLoss` without a table), so the
folder may be large. The run folder is a `style_transfer.training.run` folder and resumes
exactly; RUN_DIR/model.keras is written at the end.
"""

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.files import file_sha256
from style_transfer.models.arbitrary import create_arbitrary_model
from style_transfer.models.saving import save_model
from style_transfer.painting.arbitrary_styles import load_style_image
from style_transfer.training import distribution
from style_transfer.training.config import HUB_ENCODER, ArbitraryConfig
from style_transfer.training.losses import PerceptualLoss
from style_transfer.training.run import MODEL_FILE, Run
from style_transfer.training.step import TrainingStep

COMMAND = "train-arbitrary"


def train_arbitrary(config, out_dir, *, resume=False, progress=True, strategy=None):
    """Trains an `ArbitraryStyleModel` on a folder of style images; returns it.

    Each sample of each batch is a random crop of a content photo paired with a
    style image drawn uniformly from `config.style_dir` (a stateless draw from
    (seed, step), as in `training.train`). Style images are centre-cropped
    squares of `config.loss.style_size` pixels; the encoder sees them and the
    loss network computes their Gram targets on the fly.

    Args:
        config: An `ArbitraryConfig`: the photos, the style folder, the encoder
            and every setting.
        out_dir: The run folder; new or empty unless `resume`.
        resume: Continue the run in `out_dir` from its last checkpoint (same
            config and files; `steps` and `checkpoint_every` may change).
        progress: Show a progress bar with the losses and the time left.
        strategy: Any `tf.distribute.Strategy` to train under (then
            `config.distribute` must be "none"); default: the one
            `config.distribute` names (`style_transfer.training.distribution`).

    Raises:
        BadInput: a missing or empty folder, an encoder that cannot be loaded,
            an `out_dir` that is not this run's (see `Run`), or a distributed
            set-up that cannot work (see `distribution.strategy_for`). `TrainingDiverged`
            (a `BadInput`) if the losses or weights turn NaN or infinite.
        RunInterrupted: Ctrl-C or SIGTERM, after writing a checkpoint.
    """
    if not isinstance(config, ArbitraryConfig):
        raise BadInput(f"config must be an ArbitraryConfig; received {type(config).__name__}.")
    strategy = distribution.strategy_for(config, strategy)
    distribution.check_batch_split(strategy, config.batch_size)
    if config.encoder == HUB_ENCODER and distribution.is_distributed(strategy):
        # A SavedModel restored under a strategy's scope cannot be called outside
        # `strategy.run`, which building the model does.
        raise BadInput("a TF Hub encoder does not train under a tf.distribute strategy yet; "
                       "use a keras.applications `encoder`, or `distribute` none.")
    style_paths, style_pixels = load_style_folder(config.style_dir, config.loss.style_size)
    run = Run(out_dir, COMMAND, config, resume=resume,
              inputs={"style_sha256": [file_sha256(path) for path in style_paths]},
              chief=distribution.is_chief(strategy))
    recorded = config.to_dict()
    with strategy.scope(), distribution.dtype_policy(config.mixed_precision):
        model, step = _model_and_step(config, recorded, style_paths, style_pixels)

    def save(steps):
        model.training_config["steps"] = steps
        save_model(model, Path(out_dir) / MODEL_FILE)

    run.train(step, save=save, progress=progress)
    return model


def _model_and_step(config, recorded, style_paths, style_pixels):
    """The arbitrary-style model and its `TrainingStep` (under the caller's strategy)."""
    model = create_arbitrary_model(
        encoder=config.encoder, encoder_weights=config.encoder_weights,
        hub_handle=config.hub_handle, train_encoder=config.train_encoder,
        embedding_dim=config.embedding_dim, alpha=config.alpha,
        style_image_size=config.loss.style_size, seed=config.seed,
        training_config={**{key: recorded[key] for key in (
            "image_size", "batch_size", "steps", "learning_rate", "encoder_weights", "seed",
            "loss")}, "num_style_images": len(style_paths)},
    )
    # uint8 keeps a large style folder small in memory: 192 KiB per 256 px style.
    style_pixels = tf.constant(style_pixels)

    def styles(style_ids):
        style_images = tf.cast(tf.gather(style_pixels, style_ids), tf.float32) / 255.0
        return style_images, style_images

    step = TrainingStep(model, PerceptualLoss(config=config.loss), styles,
                        num_styles=len(style_paths), learning_rate=config.learning_rate,
                        jit_compile=config.jit_compile)
    return model, step


def load_style_folder(folder, size):
    """Every readable image under `folder` as a centred square of `size` px.

    Returns:
        (paths, uint8 array (num_styles, size, size, 3)); unreadable files are
        left out with a warning.

    Raises:
        BadInput: the folder is missing or holds no readable image.
    """
    paths, squares, unreadable = [], [], []
    for path in images.find_images(folder):
        try:
            squares.append(load_style_image(path, size))
            paths.append(path)
        except images.ImageReadError:
            unreadable.append(path.name)
    if unreadable:
        warnings.warn(f"left out {len(unreadable)} unreadable style images: "
                      f"{', '.join(unreadable[:5])}", stacklevel=2)
    if not paths:
        raise BadInput(f"style folder {str(folder)!r} holds no readable image.")
    return paths, np.round(np.stack(squares) * 255.0).astype(np.uint8)
