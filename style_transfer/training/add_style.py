"""Adding a style to a trained network by training only its gamma/beta; removing, renaming.

    N-style model --append one row per new style to every gamma/beta table-->
    N + k rows --train only the new rows (fresh Adam, the model's own loss)-->
    an ordinary (N + k)-style model

Dumoulin et al. (2017, section 4.3) observe that a new style can be learned by
the gamma/beta alone, the shared convolutions fixed. Magenta re-creates the table
for that, losing the old styles; here the rows are appended (`cbn.append_conditions`)
and only they receive gradients (`cbn.train_only_conditions`), so every shared
weight and every old row stays bit-identical and the old styles stylize exactly
as before.

The run folder (default: the output's name with the suffix ".run") is a
`style_transfer.training.run` folder and resumes the same way.
"""

import dataclasses
from pathlib import Path

import keras
import numpy as np

import cbn
from style_transfer.base.errors import BadInput
from style_transfer.base.files import file_sha256
from style_transfer.base.settings import field_default, shown_value
from style_transfer.models.editing import (
    check_new_names,
    check_table_model,
    rebuilt,
    recorded_list,
)
from style_transfer.models.loading import load_style_model
from style_transfer.models.saving import check_output_path, save_model
from style_transfer.training import data, distribution
from style_transfer.training.config import AddStyleConfig, LossConfig, TrainConfig
from style_transfer.training.losses import PerceptualLoss
from style_transfer.training.multi_style import checked_style_names, load_style
from style_transfer.training.run import Run
from style_transfer.training.step import TrainingStep

COMMAND = "add-style"
# Content crops stylized in every old style to pick the nearest one (`init="nearest"`).
NEAREST_BATCH_SIZE = 4
RUN_DIR_SUFFIX = ".run"


def add_styles(config, out_path, *, run_dir=None, resume=False, overwrite=False,
               progress=True, strategy=None):
    """Adds styles to a trained model, training only their gamma/beta rows.

    Args:
        config: An `AddStyleConfig`: the model, the new style images, the photos
            and the settings (for `init="nearest"`, see `_initial_rows`).
        out_path: Where the grown model is written (.keras, atomically).
        run_dir: The run folder (default: `out_path` with the suffix ".run").
        resume: Continue the run in `run_dir` from its last checkpoint (same
            config, model and files; `steps` and `checkpoint_every` may change).
        overwrite: Allow `out_path` to replace an existing file (the model too).
        progress: Show a progress bar with the losses and the time left.
        strategy: Any `tf.distribute.Strategy` to train under (then
            `config.distribute` must be "none"); default: the one
            `config.distribute` names (`style_transfer.training.distribution`).

    Returns:
        The grown `StyleTransferNetwork` (old styles first, then the new ones),
        also saved to `out_path`; its `training_config["added_styles"]` records
        how each new style was trained.

    Raises:
        BadInput: a file that is not a style model, a style name the model
            already has, an unreadable style image, a missing content folder,
            an existing `out_path` (the model's own path included) without
            `overwrite`, a run folder that is not this run's, or a distributed
            set-up that cannot work (see `distribution.strategy_for`). Nothing
            is written in that case. `TrainingDiverged` (a `BadInput`) if the
            losses or rows turn NaN or infinite.
        RunInterrupted: Ctrl-C or SIGTERM, after writing a checkpoint.
    """
    if not isinstance(config, AddStyleConfig):
        raise BadInput(f"config must be an AddStyleConfig; received {type(config).__name__}.")
    out_path = Path(out_path)
    run_dir = Path(run_dir) if run_dir else out_path.with_suffix(RUN_DIR_SUFFIX)
    strategy = distribution.strategy_for(config, strategy)
    chief = distribution.is_chief(strategy)
    if chief:
        # Every file the run reads is an input: a style image, the VGG weights file too.
        vgg_weights = config.loss_overrides.get("vgg_weights")
        check_output_path([config.model, *config.style_images,
                           *([vgg_weights] if isinstance(vgg_weights, str) else [])],
                          out_path, overwrite)
        if run_dir.resolve() == out_path.resolve():
            raise BadInput(f"the run folder {run_dir} is the output model's path; give "
                           f"`run_dir` another name.")
    with strategy.scope():
        base = _load_table_model(config.model)
    new_names = checked_style_names(config.style_images, config.style_names, base.num_styles)
    check_new_names(base, new_names)
    config = _with_model_sizes(config, base)
    distribution.check_batch_split(strategy, config.batch_size)
    try:
        recorded_loss = model_loss_config(base)
    except BadInput as error:
        raise BadInput(f"{config.model}: its record of the loss it was trained with cannot be "
                       f"used: {error}") from None
    loss_config = recorded_loss.with_overrides(config.loss_overrides)
    style_pixels = [load_style(path, loss_config) for path in config.style_images]
    run = Run(run_dir, COMMAND, config, resume=resume,
              inputs={"model_sha256": file_sha256(config.model),
                      "style_sha256": [file_sha256(path) for path in config.style_images]},
              outputs=[out_path], chief=chief)
    num_old, old_names = base.num_styles, list(base.style_names)
    with strategy.scope():
        loss = PerceptualLoss(style_pixels, loss_config)
        # Recomputed on resume too (a pure function of the inputs), so that the record of
        # how each row started is the same; the checkpoint then replaces the rows.
        init_rows = _initial_rows(base, loss, config)
        model = _append_rows(base, init_rows)
        cbn.train_only_conditions(model, rows=list(range(num_old, num_old + len(new_names))))
        step = TrainingStep(model, loss,
                            styles=lambda style_ids: (style_ids + num_old, style_ids),
                            num_styles=len(new_names), learning_rate=config.learning_rate,
                            jit_compile=config.jit_compile)
    grown = None

    def save(steps):
        nonlocal grown
        added = _added_styles(config, loss_config, new_names, old_names, init_rows, steps)
        training_config = _grown_training_config(base.training_config, num_old, config, added)
        grown = rebuilt(model, range(num_old + len(new_names)), [*old_names, *new_names],
                         training_config)
        save_model(grown, out_path, overwrite=overwrite)

    run.train(step, save=save, style_names=new_names, progress=progress)
    return grown


def _with_model_sizes(config, model):
    """`config` with the image size and batch size the model was trained with where unset."""
    for name in ("image_size", "batch_size"):
        if getattr(config, name) is not None:
            continue
        # A model that records none was trained with `train`'s defaults.
        recorded = model.training_config.get(name, field_default(TrainConfig, name))
        try:
            config = dataclasses.replace(config, **{name: recorded})
        except BadInput:
            raise BadInput(f"{config.model} records {shown_value(recorded)} as the "
                           f"{name.replace('_', ' ')} it was trained with, which cannot be "
                           f"used; give `{name}`.") from None
    return config


def _added_styles(config, loss_config, new_names, old_names, init_rows, steps):
    """The `training_config["added_styles"]` entries of the new styles."""
    return [
        {
            "name": name,
            "style_image": Path(path).name,
            "init": config.init if isinstance(row, str) else f"nearest: {old_names[row]}",
            "steps": steps,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "image_size": config.image_size,
            "seed": config.seed,
            "loss": loss_config.to_dict(),
        }
        for name, path, row in zip(new_names, config.style_images, init_rows)
    ]


def _grown_training_config(training_config, num_old, config, added):
    training_config = dict(training_config)
    style_images = recorded_list(training_config, "style_images")
    if style_images is not None and len(style_images) == num_old:
        training_config["style_images"] = [*style_images,
                                           *(Path(path).name for path in config.style_images)]
    training_config["added_styles"] = [*(recorded_list(training_config, "added_styles") or []),
                                       *added]
    return training_config


def model_loss_config(model, overrides=None):
    """The `LossConfig` `model` was trained with (defaults if it records none), with
    the fields in `overrides` changed (see `LossConfig.with_overrides`)."""
    recorded = model.training_config.get("loss")
    config = LossConfig.from_dict(recorded) if recorded else LossConfig()
    return config.with_overrides(overrides or {})


# --------------------------------------------------------------- the tables


def _load_table_model(path):
    model = load_style_model(path)
    check_table_model(model, path)
    return model


def _initial_rows(model, loss, config):
    """The `init` of `ConditionalNormalization.append_conditions` for each new style:
    "identity", "mean" or the id of the old style to copy.

    The old style images are not stored in the model, so "nearest" stylizes a batch
    of content crops in each old style and picks the style whose outputs have the
    smallest style loss (weighted Gram distance) against the new style's targets.
    """
    if config.init != "nearest":
        return [config.init] * loss.num_styles
    # The run's own dataset warns of the files it leaves out.
    crops = next(iter(data.content_dataset(config.content_dir, config.image_size,
                                           NEAREST_BATCH_SIZE, seed=config.seed + 1,
                                           warn=False)))
    batch = len(crops)
    distances = np.zeros((model.num_styles, loss.num_styles))
    for old in range(model.num_styles):
        stylized = model(crops, np.full((batch,), old, "int32"))
        for new in range(loss.num_styles):
            style_loss = loss(crops, stylized, np.full((batch,), new, "int32"))["style"]
            distances[old, new] = float(np.mean(keras.ops.convert_to_numpy(style_loss)))
    return [int(row) for row in distances.argmin(axis=0)]


def _append_rows(model, init_rows):
    """Appends one row per new style to every table of `model`, in place.

    Only the tables grow: `model.num_styles` and `style_names` still describe the
    old styles until `rebuilt` makes an ordinary model of the result.
    """
    if all(row == "mean" for row in init_rows):
        # Appended together: each new row is the mean of the old rows only.
        cbn.append_conditions(model, len(init_rows), init="mean")
    else:
        for row in init_rows:
            cbn.append_conditions(model, 1, init=row)
    return model


