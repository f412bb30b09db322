"""Training a multi-style network: mixed-style batches, checkpoints that resume exactly, logs.

A run lives in one folder:

    RUN_DIR/run.json        the settings; a different run is refused, a resumed one checked
    RUN_DIR/checkpoint.npz  weights, optimizer state and step, replaced atomically
    RUN_DIR/history.csv     the losses of every step (batch means, and per style)
    RUN_DIR/logs/           TensorBoard: loss curves and sample stylization grids
    RUN_DIR/model.keras     the trained model, written at the end

Every random choice is a function of (seed, step): the content crops (`data.content_dataset`),
the style of each sample (a stateless draw from (seed, step)) and the initial weights (seed).
So a run stopped at any checkpoint, even by SIGKILL, resumes to the same result as a run
that never stopped.
"""

import collections
import csv
import hashlib
import json
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from style_transfer import data, figures, images
from style_transfer.errors import BadInput
from style_transfer.files import atomic_write
from style_transfer.losses import LossConfig, PerceptualLoss
from style_transfer.model_file import save_model
from style_transfer.network import StyleTransferNetwork, as_architecture

RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
LOG_DIR = "logs"

MIN_IMAGE_SIZE_PX = 16
LOSS_PARTS = ("total", "content", "style", "tv")
# TensorBoard scalars are means over this many steps (per-style ones would be noise
# per step: a batch of 4 holds each style about 4 / N times).
LOG_EVERY_STEPS = 10
# The sample grid shows this many content images and at most this many styles.
GRID_CONTENT_IMAGES = 3
GRID_MAX_STYLES = 8
# Settings that may change when a run is resumed: they do not change its result.
_RESUMABLE_SETTINGS = ("steps", "checkpoint_every", "sample_every")


def train(
    content_dir,
    style_images,
    out_dir,
    *,
    style_names=None,
    image_size=256,
    batch_size=4,
    steps=40_000,
    learning_rate=1e-3,
    alpha=1.0,
    architecture=None,
    loss_config=LossConfig(),
    checkpoint_every=500,
    sample_every=500,
    seed=0,
    resume=False,
    progress=True,
    jit_compile=False,
):
    """Trains one network on several styles; returns the trained `StyleTransferNetwork`.

    Each sample of each batch is a random crop of a content photo paired with a
    random style (Magenta's scheme), so one network learns all the styles at once.

    Args:
        content_dir: Folder of content photos (searched recursively).
        style_images: Paths of the style images, one per style.
        out_dir: The run folder (see the module docstring). It must be new or
            empty, unless `resume` continues the run it holds.
        style_names: One name per style; defaults to the file names without
            extension.
        image_size: Side of the square training crops, pixels (Magenta: 256).
        batch_size: Samples per step (Magenta: 16; pytorch/examples: 4).
        steps: Total training steps (Magenta: 40,000 at batch 16).
        learning_rate: Adam's learning rate (Magenta and pytorch/examples: 1e-3).
        alpha: Width multiplier of the network (1.0: the standard network).
        architecture: The network's layer widths (an `Architecture`, a preset
            name such as "android-slim", or a dict); default Magenta's.
        loss_config: A `LossConfig` (loss network, layers, weights).
        checkpoint_every: Write a checkpoint every this many steps (and at the end).
        sample_every: Log a grid of sample stylizations every this many steps
            (0: never).
        seed: Fixes the initial weights, the crops and the style draws.
        resume: Continue the run in `out_dir` from its last checkpoint; the
            settings must be the same, except `steps`, `checkpoint_every` and
            `sample_every`.
        progress: Show a progress bar with the losses and the time left.
        jit_compile: Compile the training step with XLA. On a 2-core CPU
            (256 px, batch 4, alpha 1.0) it was no faster per step (about 40 s
            either way) and its first step compiled for over 3 minutes, hence
            off by default.

    Returns:
        The trained model, also saved to `out_dir/model.keras` with its style
        names and a `training_config` describing the run.

    Raises:
        BadInput: a missing or empty content folder, a style file that is not an
            image, no styles, duplicate style names, a non-positive size or
            count, or an `out_dir` holding another run (or a run without
            `resume`). Nothing is written in that case.
    """
    style_paths = [Path(path) for path in style_images]
    style_names = checked_style_names(style_paths, style_names)
    check_positive_integer("image_size", image_size, minimum=MIN_IMAGE_SIZE_PX)
    for name, value in (("batch_size", batch_size), ("steps", steps),
                        ("checkpoint_every", checkpoint_every)):
        check_positive_integer(name, value, minimum=1)
    check_positive_integer("sample_every", sample_every, minimum=0)
    for name, value in (("learning_rate", learning_rate), ("alpha", alpha)):
        if not value > 0:
            raise BadInput(f"{name} must be positive; received {value!r}.")
    if not isinstance(loss_config, LossConfig):
        raise BadInput(f"loss_config must be a LossConfig; received {type(loss_config).__name__}.")

    content_dir = Path(content_dir)
    style_pixels = [load_style(path, loss_config.style_size) for path in style_paths]
    settings = {
        "content_dir": str(content_dir.resolve()),
        "style_images": [str(path.resolve()) for path in style_paths],
        "style_sha256": [file_sha256(path) for path in style_paths],
        "style_names": style_names,
        "image_size": image_size,
        "batch_size": batch_size,
        "learning_rate": float(learning_rate),
        "alpha": float(alpha),
        # None (Magenta's) as in runs started before architectures could be chosen.
        "architecture": None if architecture is None else as_architecture(architecture).to_dict(),
        "seed": seed,
        "loss": loss_config.to_dict(),
        "steps": steps,
        "checkpoint_every": checkpoint_every,
        "sample_every": sample_every,
    }
    out_dir = Path(out_dir)
    check_run_dir(out_dir, settings, resume)
    checkpoint = read_checkpoint(out_dir) if resume else None
    start_step = checkpoint["step"] if checkpoint else 0
    if start_step > steps:
        raise BadInput(
            f"{out_dir} has already trained {start_step} steps; pass --steps {start_step} "
            f"or more to resume it."
        )
    dataset = content_batches(content_dir, image_size, batch_size, seed, start_step)
    loss = PerceptualLoss(style_pixels, loss_config)

    keras.utils.set_random_seed(seed)
    model = StyleTransferNetwork(
        len(style_paths), alpha=alpha, architecture=settings["architecture"],
        style_names=style_names, training_config=_training_config(settings, loss_config),
    )
    model.build()
    optimizer = start_run(out_dir, model, learning_rate, settings, checkpoint)
    train_step = TrainingStep(model, optimizer, loss, jit_compile)
    history = History(out_dir / HISTORY_FILE, style_names, start_step)
    logger = Logger(out_dir / LOG_DIR, style_names)
    grid_contents = _grid_contents(content_dir, image_size, seed) if sample_every else None
    style_thumbnails = [images.center_square(image, image_size)
                        for image in style_pixels[:GRID_MAX_STYLES]]
    batches = iter(dataset)

    def log(step, style_ids, losses, recent_means):
        logger.add(step, style_ids, losses)
        if sample_every and step % sample_every == 0:
            logger.grid(step, figures.stylization_grid(model, grid_contents, style_thumbnails))

    step = run_steps(
        lambda style_ids: train_step(next(batches), style_ids),
        model=model, optimizer=optimizer, run_dir=out_dir, history=history,
        start_step=start_step, steps=steps, seed=seed, batch_size=batch_size,
        num_styles=len(style_names), checkpoint_every=checkpoint_every,
        progress=progress, on_step=log, on_close=logger.close,
    )

    model.training_config["steps"] = step
    save_model(model, out_dir / MODEL_FILE)
    return model


# ------------------------------------------------------------- the run loop


def start_run(run_dir, model, learning_rate, settings, checkpoint):
    """Adam for the model's trainable variables, both restored from `checkpoint` when
    resuming, and the run folder holding `settings`; returns the optimizer."""
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    if checkpoint:
        restore_checkpoint(model, optimizer, checkpoint)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(run_dir / RUN_FILE, lambda file: json.dump(settings, file, indent=2))
    return optimizer


def run_steps(step_fn, *, model, optimizer, run_dir, history, start_step, steps, seed,
              batch_size, num_styles, checkpoint_every, progress, on_step=None,
              on_close=None):
    """The training loop of `train`, `add_style.add_styles` and `arbitrary.train_arbitrary`.

    Each step draws the batch's style ids (a function of `seed` and the step
    only, so a resumed run draws what a straight run would), calls
    `step_fn(style_ids)` for the dict of per-sample losses, appends them to
    `history`, calls `on_step(step, style_ids, losses, recent_means)` (logging;
    `recent_means` are the mean `LOSS_PARTS` over the last `LOG_EVERY_STEPS`
    steps), moves the progress bar, and checkpoints every `checkpoint_every`
    steps, at the last step and on Ctrl-C. `history` is closed and
    `on_close(step)` called however the loop ends.

    Returns:
        The number of steps trained in all (`steps` unless interrupted).
    """
    progbar = progress_bar(steps, start_step) if progress else None
    recent = collections.deque(maxlen=LOG_EVERY_STEPS)
    step = start_step
    try:
        while step < steps:
            style_ids = draw_style_ids(seed, step, batch_size, num_styles)
            losses = step_fn(style_ids)
            step += 1
            style_ids = style_ids.numpy()
            losses = {part: value.numpy() for part, value in losses.items()}
            history.append(step, style_ids, losses)
            recent.append([losses[part].mean() for part in LOSS_PARTS])
            recent_means = np.mean(recent, axis=0)
            if on_step:
                on_step(step, style_ids, losses, recent_means)
            if progbar:
                progbar.update(step, list(zip(LOSS_PARTS, recent_means)))
            if step % checkpoint_every == 0 or step == steps:
                write_checkpoint(run_dir, model, optimizer, step)
    except KeyboardInterrupt:
        write_checkpoint(run_dir, model, optimizer, step)
        raise
    finally:
        history.close()
        if on_close:
            on_close(step)
    return step


# ------------------------------------------------------------------ the step


class TrainingStep:
    """One compiled training step: stylize a batch, measure the losses, update the network.

    Args:
        model: The `StyleTransferNetwork` to train.
        optimizer: A built Keras optimizer for `model.trainable_variables`.
        loss: A `PerceptualLoss` with one Gram target per style of `model`.
        jit_compile: Compile with XLA.
        style_id_offset: Added to the loss's style ids to get the model's: with
            a loss over the new styles only (`add_style`), loss style i is
            model style `style_id_offset + i`.

    Call arguments:
        content_images: Photos (batch, S, S, 3) in [0, 1].
        style_ids: The style of each sample (batch,) int32: a batch may mix styles,
            and each style's gamma/beta rows learn from its own samples only.

    Returns:
        The per-sample losses, a dict of (batch,) tensors (see `PerceptualLoss`).
    """

    def __init__(self, model, optimizer, loss, jit_compile=False, style_id_offset=0):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.style_id_offset = style_id_offset
        self._step = tf.function(self._train_step, jit_compile=jit_compile)

    def __call__(self, content_images, style_ids):
        return self._step(content_images, tf.cast(style_ids, tf.int32))

    def _train_step(self, content_images, style_ids):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            stylized = self.model(content_images, style_ids + self.style_id_offset,
                                  training=True)
            losses = self.loss(content_images, stylized, style_ids)
            mean_loss = tf.reduce_mean(losses["total"])
        gradients = tape.gradient(mean_loss, variables)
        self.optimizer.apply(gradients, variables)
        return losses


def draw_style_ids(seed, step, batch_size, num_styles):
    """The style of each sample of step `step` (batch_size,): uniform, a pure function
    of (seed, step), so a resumed run draws what an uninterrupted one would."""
    return tf.random.stateless_uniform(
        (batch_size,), seed=tf.constant([seed, step], tf.int64), minval=0,
        maxval=num_styles, dtype=tf.int32,
    )


# ------------------------------------------------------------ input checking


def checked_style_names(style_paths, style_names):
    if not style_paths:
        raise BadInput("no style images given; pass at least one (--styles IMG [IMG ...]).")
    if style_names is None:
        style_names = [path.stem for path in style_paths]
    style_names = [str(name) for name in style_names]
    if len(style_names) != len(style_paths):
        raise BadInput(
            f"{len(style_names)} style names for {len(style_paths)} style images; give one "
            f"name per image."
        )
    if any(not name.strip() for name in style_names):
        raise BadInput(f"style names must not be empty; received {style_names}.")
    duplicates = sorted({name for name in style_names if style_names.count(name) > 1})
    if duplicates:
        raise BadInput(
            f"duplicate style name {duplicates[0]!r}; every style needs its own name "
            f"(rename the files or pass --style-names)."
        )
    return style_names


def check_positive_integer(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise BadInput(f"{name} must be an integer >= {minimum}; received {value!r}.")


def load_style(path, style_size):
    try:
        # Decoding at most twice the loss's size keeps huge files cheap; the loss
        # resizes to its exact size.
        return images.load_image(path, max_size=2 * style_size)
    except images.ImageReadError as error:
        raise BadInput(f"style image: {error}") from None


def content_batches(content_dir, image_size, batch_size, seed, start_step):
    if not content_dir.is_dir():
        raise BadInput(f"content folder {str(content_dir)!r} does not exist or is not a folder.")
    try:
        return data.content_dataset(
            content_dir, image_size, batch_size, seed=seed, start_sample=start_step * batch_size
        )
    except ValueError as error:
        raise BadInput(f"content folder: {str(error).splitlines()[0]}") from None


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_run_dir(out_dir, settings, resume):
    """Refuses an `out_dir` that holds something else than the run asked for."""
    run_file = out_dir / RUN_FILE
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"output folder {out_dir} is a file.")
    if not run_file.is_file():
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise BadInput(
                f"output folder {out_dir} is not empty and holds no training run; choose a "
                f"new or empty folder."
            )
        return
    try:
        previous = json.loads(run_file.read_text())
    except (OSError, ValueError):
        raise BadInput(f"{run_file} is not a readable run file; choose another folder.") from None
    if not resume:
        raise BadInput(
            f"output folder {out_dir} already holds a training run; pass --resume to "
            f"continue it, or choose another folder."
        )
    changed = sorted(
        key for key in set(settings) | set(previous)
        if key not in _RESUMABLE_SETTINGS and settings.get(key) != previous.get(key)
    )
    if changed:
        raise BadInput(
            f"cannot resume {out_dir}: the run was started with different settings "
            f"({', '.join(changed)}); use the same settings or another folder."
        )


def _training_config(settings, loss_config):
    return {
        "image_size": settings["image_size"],
        "batch_size": settings["batch_size"],
        "steps": settings["steps"],
        "learning_rate": settings["learning_rate"],
        "alpha": settings["alpha"],
        "seed": settings["seed"],
        "loss": loss_config.to_dict(),
        "style_images": [Path(path).name for path in settings["style_images"]],
    }


# -------------------------------------------------------------- checkpoints


def write_checkpoint(out_dir, model, optimizer, step):
    """Weights, optimizer variables and step in one file, replaced atomically."""
    arrays = {"step": np.array(step, np.int64)}
    for index, variable in enumerate(model.weights):
        arrays[f"model_{index}"] = keras.ops.convert_to_numpy(variable)
    for index, variable in enumerate(optimizer.variables):
        arrays[f"optimizer_{index}"] = keras.ops.convert_to_numpy(variable)

    def write(file):
        np.savez(file, **arrays)

    write_atomically(out_dir / CHECKPOINT_FILE, write, binary=True)


def read_checkpoint(out_dir):
    path = out_dir / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as arrays:
            checkpoint = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError) as error:
        raise BadInput(f"checkpoint {path} cannot be read ({error}).") from None
    checkpoint["step"] = int(checkpoint["step"])
    return checkpoint


def restore_checkpoint(model, optimizer, checkpoint):
    for prefix, variables in (("model", model.weights), ("optimizer", optimizer.variables)):
        for index, variable in enumerate(variables):
            value = checkpoint[f"{prefix}_{index}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise BadInput("the checkpoint does not match the network; start a new run.")
            variable.assign(value)


def write_atomically(path, write, binary=False):
    """Calls `write(file)` on a temporary file, then renames it onto `path` (see `files`)."""
    with atomic_write(path, "wb" if binary else "w", newline=None if binary else "") as file:
        write(file)


# ---------------------------------------------------------- history and logs


class History:
    """history.csv: one row per step; a resumed run first drops the rows after its checkpoint."""

    def __init__(self, path, style_names, start_step):
        self.style_names = style_names
        header = ["step", *LOSS_PARTS, *(f"style:{name}" for name in style_names)]
        kept = []
        if start_step and path.is_file():
            with open(path, newline="") as file:
                rows = list(csv.reader(file))
            kept = [row for row in rows[1:] if len(row) == len(header)
                    and int(row[0]) <= start_step]
        write_atomically(path, lambda file: csv.writer(file).writerows([header, *kept]))
        self.file = open(path, "a", newline="")
        self.writer = csv.writer(self.file)

    def append(self, step, style_ids, losses):
        per_style = []
        for index in range(len(self.style_names)):
            mask = style_ids == index
            per_style.append(f"{losses['total'][mask].mean():.6g}" if mask.any() else "")
        self.writer.writerow(
            [step, *(f"{losses[part].mean():.6g}" for part in LOSS_PARTS), *per_style]
        )
        self.file.flush()

    def close(self):
        self.file.close()


def read_history(run_dir):
    """The losses of a run: {column: float array}, columns `step`, `total`, `content`,
    `style`, `tv` (batch means) and `style:NAME` (mean over that style's samples, NaN
    at steps without one)."""
    with open(Path(run_dir) / HISTORY_FILE, newline="") as file:
        rows = list(csv.reader(file))
    header, rows = rows[0], rows[1:]
    return {
        name: np.array([float(row[index]) if row[index] else np.nan for row in rows])
        for index, name in enumerate(header)
    }


class Logger:
    """TensorBoard summaries: window means of the losses (also per style) and sample grids."""

    def __init__(self, log_dir, style_names):
        self.style_names = style_names
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self._reset()

    def _reset(self):
        self.sums = dict.fromkeys(LOSS_PARTS, 0.0)
        self.count = 0
        self.style_sums = np.zeros(len(self.style_names))
        self.style_counts = np.zeros(len(self.style_names))

    def add(self, step, style_ids, losses):
        for part in LOSS_PARTS:
            self.sums[part] += float(losses[part].mean())
        self.count += 1
        np.add.at(self.style_sums, style_ids, losses["total"])
        np.add.at(self.style_counts, style_ids, 1)
        if step % LOG_EVERY_STEPS == 0:
            self.flush(step)

    def flush(self, step):
        if not self.count:
            return
        with self.writer.as_default(step=step):
            for part in LOSS_PARTS:
                write_scalar(f"loss/{part}", self.sums[part] / self.count)
            for name, total, count in zip(self.style_names, self.style_sums, self.style_counts):
                if count:
                    write_scalar(f"style_loss/{name}", total / count)
        self._reset()

    def grid(self, step, grid):
        with self.writer.as_default(step=step):
            _write_image("samples", grid)

    def close(self, step):
        self.flush(step)
        self.writer.close()


# tf.summary.scalar and .image live in the `tensorboard` package, which TensorFlow no
# longer installs; these write the same records with TensorFlow alone.
def write_scalar(tag, value):
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=_plugin_metadata("scalars"))


def _write_image(tag, image):
    pixels = tf.constant(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    height, width = image.shape[:2]
    record = tf.stack([tf.as_string(width), tf.as_string(height), tf.image.encode_png(pixels)])
    tf.summary.write(tag, record, metadata=_plugin_metadata("images"))


def _plugin_metadata(plugin_name):
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name)
    ).SerializeToString()


def progress_bar(steps, start_step):
    # Off a terminal (a log file), one line every 30 s instead of a redrawn bar.
    interval = 0.05 if sys.stdout.isatty() else 30.0
    progbar = keras.utils.Progbar(steps, stateful_metrics=LOSS_PARTS, interval=interval,
                                  unit_name="step")
    if start_step:
        progbar.update(start_step)
    return progbar


def _grid_contents(content_dir, image_size, seed):
    batch = data.content_dataset(content_dir, image_size, GRID_CONTENT_IMAGES, seed=seed + 1)
    return next(iter(batch)).numpy()


def settings_of(run_dir):
    """The settings a run was started with (its run.json), as a dict."""
    return json.loads((Path(run_dir) / RUN_FILE).read_text())

