"""Training one network on several styles (Dumoulin et al. 2017): mixed-style batches.

Each sample of each batch is a random crop of a content photo paired with a random
style (Magenta's scheme), so one network learns all the styles at once: the style
ids pick the rows of the network's gamma/beta tables and of the loss's table of
Gram targets. The run folder (run.json, checkpoint.npz, history.csv, logs/), its
exact resume and its signals are `style_transfer.training.run`'s; this module adds
RUN_DIR/model.keras, written at the end, and the sample grids in TensorBoard.
"""

from pathlib import Path

import keras

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.files import file_sha256
from style_transfer.models import limits
from style_transfer.models.network import StyleTransferNetwork
from style_transfer.models.saving import save_model
from style_transfer.models.style_names import check_style_names
from style_transfer.painting import figures
from style_transfer.training import data, distribution
from style_transfer.training.config import TrainConfig
from style_transfer.training.losses import PerceptualLoss, smallest_side_px
from style_transfer.training.run import MODEL_FILE, Run
from style_transfer.training.step import TrainingStep

COMMAND = "train"
# The sample grid shows this many content images and at most this many styles.
GRID_CONTENT_IMAGES = 3
GRID_MAX_STYLES = 8


def train(config, out_dir, *, resume=False, progress=True, strategy=None):
    """Trains one network on several styles; returns the trained `StyleTransferNetwork`.

    Args:
        config: A `TrainConfig`: the photos, the style images and every setting.
        out_dir: The run folder (see `style_transfer.training.run`). It must be new or
            empty, unless `resume` continues the run it holds.
        resume: Continue the run in `out_dir` from its last checkpoint; the
            config must be the same, except `steps`, `checkpoint_every` and
            `sample_every`, and so must the photos and style images.
        progress: Show a progress bar with the losses and the time left.
        strategy: Any `tf.distribute.Strategy` to train under (then
            `config.distribute` must be "none"); default: the one
            `config.distribute` names (`style_transfer.training.distribution`).

    Returns:
        The trained model, also saved to `out_dir/model.keras` with its style
        names and a `training_config` describing the run.

    Raises:
        BadInput: a missing or empty content folder, a style file that is not an
            image, duplicate style names, or an `out_dir` that is not this run's
            (see `Run`), or a distributed set-up that cannot work (see
            `distribution.strategy_for`); nothing is written then.
            `TrainingDiverged` (a `BadInput`) if the losses or weights turn NaN
            or infinite.
        RunInterrupted: Ctrl-C or SIGTERM, after writing a checkpoint.
    """
    if not isinstance(config, TrainConfig):
        raise BadInput(f"config must be a TrainConfig; received {type(config).__name__}.")
    strategy = distribution.strategy_for(config, strategy)
    distribution.check_batch_split(strategy, config.batch_size)
    style_names = checked_style_names(config.style_images, config.style_names)
    style_pixels = [load_style(path, config.loss) for path in config.style_images]
    run = Run(out_dir, COMMAND, config, resume=resume,
              inputs={"style_sha256": [file_sha256(path) for path in config.style_images]},
              chief=distribution.is_chief(strategy))
    with strategy.scope(), distribution.dtype_policy(config.mixed_precision):
        loss = PerceptualLoss(style_pixels, config.loss)
        keras.utils.set_random_seed(config.seed)
        # A fixed name: checkpoints key the variables by their paths, which start with it.
        model = StyleTransferNetwork(len(style_names), alpha=config.alpha,
                                     architecture=config.architecture, style_names=style_names,
                                     training_config=_training_config(config),
                                     name="style_transfer_network")
        model.build()
        step = TrainingStep(model, loss, styles=lambda style_ids: (style_ids, style_ids),
                            num_styles=len(style_names), learning_rate=config.learning_rate,
                            jit_compile=config.jit_compile)

    def save(steps):
        model.training_config["steps"] = steps
        save_model(model, Path(out_dir) / MODEL_FILE)

    run.train(step, save=save, style_names=style_names,
              sample_grid=_sample_grid(model, config, style_pixels),
              sample_every=config.sample_every, progress=progress)
    return model


def checked_style_names(style_paths, style_names, num_old=0):
    """One name per style image (default: the file names' stems), each valid
    (`conditions.check_style_name`: stylize chooses styles by name) and unique; with
    the `num_old` styles of a model they are added to, no more than a model file may
    hold (`limits.MAX_STYLES`), so that the model written can be loaded again."""
    if not style_paths:
        raise BadInput("no style images given; pass at least one (`style_images`).")
    if num_old + len(style_paths) > limits.MAX_STYLES:
        held = f"the model's {num_old} styles and " if num_old else ""
        raise BadInput(f"{held}{len(style_paths)} style images make "
                       f"{num_old + len(style_paths)} styles; a model holds at most "
                       f"{limits.MAX_STYLES}.")
    if style_names is None:
        style_names = [Path(path).stem for path in style_paths]
    style_names = [str(name) for name in style_names]
    if len(style_names) != len(style_paths):
        raise BadInput(
            f"{len(style_names)} style names for {len(style_paths)} style images; give one "
            f"name per image."
        )
    try:
        return check_style_names(style_names)
    except BadInput as error:
        raise BadInput(f"{error} Rename the style files or give `style_names`.") from None


def load_style(path, loss_config):
    """The style image at `path` for the loss of `loss_config`; refused if, resized to
    its `style_size`, it is too thin for the loss network's deepest layer."""
    try:
        # Decoding at most twice the loss's size keeps huge files cheap; the loss
        # resizes to its exact size.
        image = images.load_image(path, max_size=2 * loss_config.style_size)
    except images.ImageReadError as error:
        raise BadInput(f"style image: {error}") from None
    height, width = images.long_side_shape(image.shape[:2], loss_config.style_size)
    needed = smallest_side_px(loss_config)
    if min(height, width) < needed:
        raise BadInput(f"style image {path} is too thin: resized to `style_size` "
                       f"{loss_config.style_size} it is {width}x{height} pixels, and the loss "
                       f"network needs at least {needed} on each side; crop it less "
                       f"elongated or raise `style_size`.")
    return image


def _training_config(config):
    """What the saved model records of how it was trained."""
    recorded = config.to_dict()
    return {
        **{key: recorded[key] for key in ("image_size", "batch_size", "steps", "learning_rate",
                                          "alpha", "architecture", "seed", "loss")},
        "style_images": [Path(path).name for path in config.style_images],
    }


def _sample_grid(model, config, style_pixels):
    """A function drawing photos in the first styles (TensorBoard), or None (sample_every 0)."""
    if not config.sample_every:
        return None
    # The run's own dataset warns of the files it leaves out.
    contents = next(iter(data.content_dataset(config.content_dir, config.image_size,
                                              GRID_CONTENT_IMAGES, seed=config.seed + 1,
                                              warn=False)))
    thumbnails = [images.center_square(image, config.image_size)
                  for image in style_pixels[:GRID_MAX_STYLES]]
    return lambda: figures.stylization_grid(model, contents.numpy(), thumbnails)
