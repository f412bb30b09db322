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

A run folder holds run.json, checkpoint.npz, history.csv and logs/ as in
`style_transfer.training`, and resumes the same way (every random choice is a
function of (seed, step)).
"""

import dataclasses
from pathlib import Path

import keras
import numpy as np

import cbn
from style_transfer import data, training
from style_transfer.conditions import check_style_name, style_index
from style_transfer.errors import BadInput
from style_transfer.files import check_destination, check_not_an_input
from style_transfer.losses import LossConfig, PerceptualLoss
from style_transfer.model_file import load_style_model, save_model
from style_transfer.network import StyleTransferNetwork

INITS = ("identity", "mean", "nearest")
# Content crops stylized in every old style to pick the nearest one (`init="nearest"`).
NEAREST_BATCH_SIZE = 4
DEFAULT_IMAGE_SIZE_PX = 256
DEFAULT_BATCH_SIZE = 4
RUN_DIR_SUFFIX = ".run"


def add_styles(
    model_path,
    style_images,
    content_dir,
    out_path,
    *,
    style_names=None,
    steps=2000,
    learning_rate=1e-3,
    batch_size=None,
    image_size=None,
    loss_overrides=None,
    init="nearest",
    run_dir=None,
    checkpoint_every=500,
    seed=0,
    resume=False,
    overwrite=False,
    progress=True,
    jit_compile=False,
):
    """Adds styles to a trained model, training only their gamma/beta rows.

    Args:
        model_path: The trained model (.keras, a `StyleTransferNetwork` with a
            style table).
        style_images: Paths of the new style images, one per new style.
        content_dir: Folder of content photos (searched recursively).
        out_path: Where the grown model is written (.keras, atomically).
        style_names: One name per new style (default: the file names without
            extension); none may be a name the model already has.
        steps: Training steps (each sample draws one of the new styles).
        learning_rate: Learning rate of a fresh Adam.
        batch_size: Samples per step (default: the model's training batch size).
        image_size: Side of the training crops, pixels (default: the model's).
        loss_overrides: `LossConfig` fields to change from the loss the model was
            trained with (e.g. `{"vgg_weights": "random"}`).
        init: Starting rows: `"identity"` (gamma ones, beta zeros), `"mean"` (the
            mean of the old rows) or `"nearest"` (a copy of the old style nearest
            to the new one). The old style images are not stored in the model,
            so "nearest" stylizes a batch of content crops in each old style and
            picks the style whose outputs have the smallest style loss
            (weighted Gram distance) against the new style's Gram targets.
        run_dir: The run folder (default: `out_path` with the suffix ".run").
        checkpoint_every: Write a checkpoint every this many steps (and at the end).
        seed: Fixes the crops and the style draws.
        resume: Continue the run in `run_dir` from its last checkpoint (same
            settings; `steps` and `checkpoint_every` may change).
        overwrite: Allow `out_path` to replace an existing file (`model_path` too).
        progress: Show a progress bar with the losses and the time left.
        jit_compile: Compile the training step with XLA.

    Returns:
        The grown `StyleTransferNetwork` (old styles first, then the new ones),
        also saved to `out_path`; its `training_config["added_styles"]` records
        how each new style was trained.

    Raises:
        BadInput: a file that is not a style model, a style name the model
            already has, an unreadable style image, a missing content folder,
            an existing `out_path` (the model's own path included) without
            `overwrite`, or a run folder holding another run. Nothing is
            written in that case.
    """
    model_path, out_path = Path(model_path), Path(out_path)
    check_output_path(model_path, out_path, overwrite)
    base = _load_table_model(model_path)
    style_paths = [Path(path) for path in style_images]
    new_names = training.checked_style_names(style_paths, style_names)
    _check_new_names(base, new_names)
    if init not in INITS:
        raise BadInput(f"init must be one of {', '.join(INITS)}; received {init!r}.")
    trained_with = base.training_config
    if image_size is None:
        image_size = trained_with.get("image_size", DEFAULT_IMAGE_SIZE_PX)
    if batch_size is None:
        batch_size = trained_with.get("batch_size", DEFAULT_BATCH_SIZE)
    training.check_positive_integer("image_size", image_size,
                                     minimum=training.MIN_IMAGE_SIZE_PX)
    for name, value in (("batch_size", batch_size), ("steps", steps),
                        ("checkpoint_every", checkpoint_every)):
        training.check_positive_integer(name, value, minimum=1)
    if not learning_rate > 0:
        raise BadInput(f"learning_rate must be positive; received {learning_rate!r}.")
    loss_config = model_loss_config(base, loss_overrides)
    style_pixels = [training.load_style(path, loss_config.style_size) for path in style_paths]

    content_dir = Path(content_dir)
    settings = {
        "model": str(model_path.resolve()),
        "model_sha256": training.file_sha256(model_path),
        "content_dir": str(content_dir.resolve()),
        "style_images": [str(path.resolve()) for path in style_paths],
        "style_sha256": [training.file_sha256(path) for path in style_paths],
        "style_names": new_names,
        "init": init,
        "image_size": image_size,
        "batch_size": batch_size,
        "learning_rate": float(learning_rate),
        "seed": seed,
        "loss": loss_config.to_dict(),
        "steps": steps,
        "checkpoint_every": checkpoint_every,
    }
    run_dir = Path(run_dir) if run_dir else out_path.with_suffix(RUN_DIR_SUFFIX)
    training.check_run_dir(run_dir, settings, resume)
    checkpoint = training.read_checkpoint(run_dir) if resume else None
    start_step = checkpoint["step"] if checkpoint else 0
    if start_step > steps:
        raise BadInput(
            f"{run_dir} has already trained {start_step} steps; pass --steps {start_step} "
            f"or more to resume it."
        )
    batches = iter(training.content_batches(content_dir, image_size, batch_size, seed,
                                             start_step))
    loss = PerceptualLoss(style_pixels, loss_config)

    num_old, old_names = base.num_styles, list(base.style_names)
    style_names = [*old_names, *new_names]
    # Recomputed on resume too (a pure function of the inputs), so that the record of
    # how each row started is the same; the checkpoint then replaces the rows.
    init_rows = _initial_rows(base, loss, init, content_dir, image_size, seed)
    model = _append_rows(base, init_rows)
    cbn.train_only_conditions(model, rows=list(range(num_old, len(style_names))))
    optimizer = training.start_run(run_dir, model, learning_rate, settings, checkpoint)
    train_step = training.TrainingStep(model, optimizer, loss, jit_compile,
                                       style_id_offset=num_old)
    history = training.History(run_dir / training.HISTORY_FILE, new_names, start_step)
    logger = training.Logger(run_dir / training.LOG_DIR, new_names)
    step = training.run_steps(
        lambda style_ids: train_step(next(batches), style_ids),
        model=model, optimizer=optimizer, run_dir=run_dir, history=history,
        start_step=start_step, steps=steps, seed=seed, batch_size=batch_size,
        num_styles=len(new_names), checkpoint_every=checkpoint_every, progress=progress,
        on_step=lambda step, style_ids, losses, recent_means: logger.add(step, style_ids, losses),
        on_close=logger.close,
    )

    training_config = dict(base.training_config)
    if len(training_config.get("style_images", [])) == num_old:
        training_config["style_images"] = [*training_config["style_images"],
                                           *(path.name for path in style_paths)]
    training_config["added_styles"] = [*training_config.get("added_styles", []), *(
        {
            "name": name,
            "style_image": path.name,
            "init": init if isinstance(row, str) else f"nearest: {old_names[row]}",
            "steps": step,
            "learning_rate": float(learning_rate),
            "batch_size": batch_size,
            "image_size": image_size,
            "seed": seed,
            "loss": loss_config.to_dict(),
        }
        for name, path, row in zip(new_names, style_paths, init_rows)
    )]
    result = _rebuilt(model, range(len(style_names)), style_names, training_config)
    save_model(result, out_path, overwrite=overwrite)
    return result


def remove_style(model, name):
    """A copy of `model` without the style `name`: its row leaves every table.

    Every other row and every shared weight are copied bit for bit, so the
    remaining styles stylize exactly as before (their ids after `name` shift
    down by one).

    Args:
        model: A table-of-styles `StyleTransferNetwork`.
        name: The style's name or index.

    Raises:
        BadInput: an unknown style, or the model's only style.
    """
    _check_table_model(model)
    index = style_index(name, model.style_names)
    name = model.style_names[index]
    if model.num_styles == 1:
        raise BadInput(f"cannot remove {name!r}: it is the model's only style.")
    kept = [row for row in range(model.num_styles) if row != index]
    training_config = dict(model.training_config)
    if len(training_config.get("style_images", [])) == model.num_styles:
        training_config["style_images"] = [training_config["style_images"][row] for row in kept]
    if "added_styles" in training_config:
        training_config["added_styles"] = [
            entry for entry in training_config["added_styles"] if entry["name"] != name
        ]
    training_config["removed_styles"] = [*training_config.get("removed_styles", []), name]
    return _rebuilt(model, kept, [model.style_names[row] for row in kept], training_config)


def rename_style(model, name, new_name):
    """A copy of `model` in which the style `name` is called `new_name`; weights unchanged.

    Args:
        model: A table-of-styles `StyleTransferNetwork`.
        name: The style's name or index.
        new_name: Its new name (see `conditions.check_style_name`).

    Raises:
        BadInput: an unknown style, or a `new_name` that breaks the naming rules
            or is taken.
    """
    _check_table_model(model)
    index = style_index(name, model.style_names)
    name = model.style_names[index]
    check_style_name(new_name)
    _check_new_names(model, [new_name])
    style_names = list(model.style_names)
    style_names[index] = new_name
    training_config = dict(model.training_config)
    if "added_styles" in training_config:
        training_config["added_styles"] = [
            {**entry, "name": new_name} if entry["name"] == name else entry
            for entry in training_config["added_styles"]
        ]
    return _rebuilt(model, range(model.num_styles), style_names, training_config)


def model_loss_config(model, overrides=None):
    """The `LossConfig` `model` was trained with (defaults if it records none), with
    the fields in `overrides` changed.

    A single number for `style_layer_weights` weights every style layer the same;
    new `style_layers` without weights keep the first recorded layer weight for each.
    """
    recorded = model.training_config.get("loss")
    config = LossConfig.from_dict(recorded) if recorded else LossConfig()
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {field.name for field in dataclasses.fields(LossConfig)})
    if unknown:
        raise BadInput(f"loss_overrides: LossConfig has no field {unknown[0]!r}.")
    layers = overrides.get("style_layers", config.style_layers)
    weights = overrides.get("style_layer_weights")
    if weights is not None and np.ndim(weights) == 0:
        overrides["style_layer_weights"] = (float(weights),) * len(layers)
    elif "style_layers" in overrides and "style_layer_weights" not in overrides:
        overrides["style_layer_weights"] = (config.style_layer_weights[0],) * len(layers)
    return dataclasses.replace(config, **overrides)


def check_output_path(model_path, out_path, overwrite):
    """Refuses an output that is not .keras, that is the input model (even with
    `overwrite`), or that exists without `overwrite`."""
    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise BadInput(f"model files end in .keras; received --out {str(out_path)!r}.")
    check_not_an_input(out_path, model_path)
    check_destination(out_path, overwrite)


# --------------------------------------------------------------- the tables


def _load_table_model(path):
    model = load_style_model(path)
    _check_table_model(model, path)
    return model


def _check_table_model(model, path=None):
    if not isinstance(model, StyleTransferNetwork) or model.embedding_dim is not None:
        where = f"{path}" if path else "the model"
        raise BadInput(
            f"{where} is not a table-of-styles model (made by `style-transfer train`); "
            f"arbitrary-style models take any style image as it is."
        )


def _check_new_names(model, names):
    taken = sorted(set(names) & set(model.style_names))
    if taken:
        raise BadInput(
            f"the model already has a style named {taken[0]!r} (its styles: "
            f"{', '.join(model.style_names)}); pass another name with --style-names."
        )


def _initial_rows(model, loss, init, content_dir, image_size, seed):
    """The `init` of `ConditionalNormalization.append_conditions` for each new style:
    "identity", "mean" or the id of the old style to copy."""
    if init != "nearest":
        return [init] * loss.num_styles
    crops = next(iter(data.content_dataset(content_dir, image_size, NEAREST_BATCH_SIZE,
                                           seed=seed + 1)))
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
    old styles until `_rebuilt` makes an ordinary model of the result.
    """
    if all(row == "mean" for row in init_rows):
        # Appended together: each new row is the mean of the old rows only.
        cbn.append_conditions(model, len(init_rows), init="mean")
    else:
        for row in init_rows:
            cbn.append_conditions(model, 1, init=row)
    return model


def _rebuilt(model, rows, style_names, training_config):
    """A fresh network whose table row i is `model`'s row `rows[i]`; every other weight
    copied bit for bit. The copy has no frozen layers or row masks."""
    rows = list(rows)
    copy = StyleTransferNetwork(
        len(rows), alpha=model.alpha, architecture=model.architecture,
        style_names=list(style_names), training_config=training_config,
        dtype=model.dtype_policy, name=model.name,
    )
    copy.build()
    tables = {id(variable) for layer in cbn.conditional_layers(model)
              for variable in (layer.gamma, layer.beta)}
    for source, target in zip(model.weights, copy.weights, strict=True):
        value = keras.ops.convert_to_numpy(source)
        if id(source) in tables:
            value = value[rows]
        if source.path != target.path or tuple(value.shape) != tuple(target.shape):
            raise ValueError(f"cannot copy weight {source.path} {value.shape} into "
                             f"{target.path} {tuple(target.shape)}.")
        target.assign(value)
    return copy
