"""A training run: its folder, owned by one process at a time, and the loop that resumes exactly.

`train`, `add-style` and `train-arbitrary` differ in what they train (the model, its
loss, how a drawn style reaches both: a `TrainingStep`) and in what they save; the
rest is this module's. A run folder holds:

    RUN_DIR/run.json        the command, its config (`style_transfer.training.config`, paths
                            resolved) and fingerprints of its input files; a resumed
                            run must match it, except the config's resumable fields
    RUN_DIR/checkpoint.npz  the step, every model and optimizer variable keyed by its
                            path ("model/...", "optimizer/..."), and the loss history;
                            replaced atomically, refused if it does not fit the model
    RUN_DIR/history.csv     the losses of every step up to the checkpoint (batch
                            means, and per style), rewritten with each checkpoint
    RUN_DIR/logs/           TensorBoard (with the `tensorboard` extra): loss curves,
                            per-style curves and sample grids
    RUN_DIR/.lock           locked (flock) by the process that trains in the folder;
                            the kernel releases it when that process ends, however
    ...                     and what the command saves (train: model.keras)

Every random choice is a function of (seed, step): the content crops
(`data.content_dataset`), the style of each sample (`draw_style_ids`) and the
initial weights (seed). A run stopped at any step (kill -9, SIGTERM, Ctrl-C) and
resumed therefore ends bit-identical to a run that never stopped: weights,
optimizer state and history. The first Ctrl-C or SIGTERM lets the step under way
finish, writes a checkpoint and stops; a second one stops at once, keeping the
last checkpoint. A loss or weight that turns NaN or infinite stops the run with
`TrainingDiverged`, keeping the last (finite) checkpoint and writing no model.

Only a process that holds the lock writes in the folder, and it first removes the
temporary files that a killed writer left there (and those of its outputs elsewhere).

Under `tf.distribute` (`style_transfer.training.distribution`) the step is built under the
strategy's scope and every worker runs this loop, but only the chief checks, locks
and writes the folder; the other workers read the checkpoint to resume (the folder
must then be on storage they share) and write nothing. Samples, styles and
checkpoints do not depend on the number of devices, so a run may resume on another.
"""

import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from style_transfer.base.errors import BadInput, TrainingDiverged, WorkerLost
from style_transfer.base.files import (
    PARTIAL_MARKER,
    atomic_write,
    held_lock,
    remove_stale_partials,
)
from style_transfer.base.images import folder_fingerprint
from style_transfer.base.json_text import parse_json
from style_transfer.training import distribution
from style_transfer.training.logs import (
    HISTORY_FILE,
    LOG_DIR,
    LOSS_PARTS,
    History,
    TensorBoard,
    progress_bar,
)

RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.npz"
LOCK_FILE = ".lock"
# run.json's "format": folders of another format (the earlier checkpoint.npz was
# matched by position) are refused, not misread.
RUN_FORMAT = 2
# What the commands save in the folder when they end.
MODEL_FILE = "model.keras"

_log = logging.getLogger(__name__)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run after a checkpoint; `signal_number` says which."""

    def __init__(self, signal_number):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class Run:
    """A run folder for one command's config: checked when made, owned while training.

    Args:
        run_dir: The folder; new or empty, or holding a run of the same command
            and config to continue with `resume`.
        command: The command's name, stored in run.json ("train", ...).
        config: Its config (a `TrainConfig`, `AddStyleConfig` or
            `ArbitraryConfig` with concrete image_size and batch_size).
        inputs: Fingerprints of the input files that fix the result (e.g.
            {"style_sha256": [...]}); the content folder's is added here.
        resume: Continue the run the folder holds from its last checkpoint.
        outputs: Files the command writes outside the folder (add-style's model):
            the temporaries a killed writer left of them are removed too.
        chief: Whether this process writes the folder (`distribution.is_chief`);
            a worker that does not only reads the checkpoint to resume.

    Raises:
        BadInput: the folder is a file, holds other files, holds a run without
            `resume`, or a run of other settings or inputs (a changed content
            folder included), or an unreadable run.json. Nothing is written.
    """

    def __init__(self, run_dir, command, config, inputs, *, resume, outputs=(), chief=True):
        self.run_dir = Path(run_dir)
        self.outputs = [Path(path) for path in outputs]
        self.config = config
        self.resume = resume
        self.chief = chief
        self._checkpoint_step = 0
        self.settings = {
            "format": RUN_FORMAT,
            "command": command,
            "config": config.resolved().to_dict(),
            "inputs": {"content_files": folder_fingerprint(config.content_dir), **inputs},
        }
        if not chief:
            # The chief checks the folder (and may be writing run.json right now).
            self._saved = self._read_checkpoint() if resume else None
            return
        _refuse_if_in_use(self.run_dir)
        self._found = self._check_folder()
        # Read now, so that a damaged file is refused before the model is built.
        self._saved = self._read_checkpoint() if self._found else None

    @property
    def checkpoint_path(self):
        return self.run_dir / CHECKPOINT_FILE

    def train(self, step, *, save, style_names=(), sample_grid=None, sample_every=0,
              progress=True):
        """Trains `step` from the checkpoint (or step 0) to `config.steps`, then saves.

        Args:
            step: The command's `TrainingStep` (model, optimizer, loss, styles).
            save: Called as `save(steps_trained)` once training ends, while the
                folder is still owned and its variables are known to be finite
                (on the chief only).
            style_names: Names of the styles drawn (history and TensorBoard have
                a loss column per style); empty for a folder of style images.
            sample_grid: Returns a picture (H, W, 3) logged every `sample_every`
                steps (0: never).
            progress: Show a progress bar with the losses and the time left.

        Returns:
            The number of steps trained in all.

        Raises:
            BadInput: a checkpoint that cannot be read or does not fit the model,
                more steps already trained than `config.steps`, a content folder
                without a readable image, or a folder that another process owns.
            TrainingDiverged: a loss or a variable turned NaN or infinite.
            WorkerLost: another worker of a multi-worker run is gone.
            RunInterrupted: Ctrl-C or SIGTERM (after writing a checkpoint).
        """
        config = self.config
        history = History(style_names)
        start = self._restore(step, history)
        distribution.check_same_start(step.strategy, start)
        batches = distribution.batches(step.strategy, config, start, step.num_styles)
        with self._owned():
            logs = TensorBoard(self.run_dir / LOG_DIR, style_names) if self.chief else None
            progbar = progress_bar(config.steps, start) if progress and self.chief else None
            try:
                with _StopRequests() as stop:
                    for number in range(start + 1, config.steps + 1):
                        style_ids, losses = self._one_step(step, batches, number, history)
                        if logs:
                            logs.add(number, style_ids, losses)
                        if logs and sample_every and number % sample_every == 0:
                            logs.image("samples", number, sample_grid())
                        if progbar:
                            progbar.update(number, list(zip(LOSS_PARTS, history.recent_means())))
                        if (number % config.checkpoint_every == 0 or number == config.steps
                                or stop.received):
                            self._write_checkpoint(step, history, number)
                        if stop.received:
                            raise RunInterrupted(stop.received)
            finally:
                if logs:
                    logs.close()
            if self.chief:
                save(config.steps)
        return config.steps

    def _one_step(self, step, batches, number, history):
        """Step `number` (from 1): trains on its batch, checks and records the losses."""
        try:
            style_ids, losses = step(*next(batches))
        except tf.errors.UnavailableError as error:
            # What TensorFlow's collectives raise when a peer's connection drops.
            reason = (str(error).strip().splitlines() or [""])[-1][:160]
            raise WorkerLost(f"training stopped at step {number}: another worker of the "
                             f"cluster is gone ({reason}); the last checkpoint is step "
                             f"{self._checkpoint_step}: start every worker again with "
                             f"`resume`.") from None
        losses = {part: value.numpy() for part, value in losses.items()}
        if not np.all(np.isfinite(losses["total"])):
            raise TrainingDiverged(
                f"training diverged at step {number}: the loss is "
                f"{losses['total'][~np.isfinite(losses['total'])][0]}; {self._kept()} Lower "
                f"the learning rate or the loss weights and start a new run.")
        style_ids = style_ids.numpy()
        history.append(number, style_ids, losses)
        return style_ids, losses

    def _kept(self):
        if self._checkpoint_step:
            return (f"the last good checkpoint (step {self._checkpoint_step}) is kept in "
                    f"{self.checkpoint_path}, no model was written.")
        return "no checkpoint had been written, nor a model."

    # ------------------------------------------------------------ the folder

    def _check_folder(self):
        """Refuses a folder that is not this run's; returns what it holds now (read only)."""
        run_dir, run_file = self.run_dir, self.run_dir / RUN_FILE
        if run_dir.exists() and not run_dir.is_dir():
            raise BadInput(f"output folder {run_dir} is a file.")
        if not run_file.is_file():
            others = [entry.name for entry in run_dir.iterdir()
                      if not _is_ours(entry.name)] if run_dir.is_dir() else []
            if others:
                raise BadInput(f"output folder {run_dir} is not empty and holds no training "
                               f"run; choose a new or empty folder.")
            return None
        try:
            found = parse_json(run_file.read_bytes(), f"run file {run_file}")
        except OSError:
            raise BadInput(f"{run_file} is not a readable run file; choose another "
                           f"folder.") from None
        if not self.resume:
            raise BadInput(f"output folder {run_dir} already holds a training run; "
                           f"`resume` continues it, or choose another folder.")
        self._check_same_run(found)
        if not self.checkpoint_path.is_file() and (run_dir / MODEL_FILE).is_file():
            # The run ended (its last step writes a checkpoint, then the model) and its
            # checkpoint is gone: resuming would train from step 0 over the model.
            raise BadInput(f"cannot resume {run_dir}: it holds a finished model "
                           f"({MODEL_FILE}) but no checkpoint ({CHECKPOINT_FILE}) to continue "
                           f"from; start a new run in another folder (the model is kept).")
        return found, _file_identity(self.checkpoint_path)

    def _check_same_run(self, found):
        run_dir, expected = self.run_dir, self.settings
        if (not isinstance(found, dict) or found.get("format") != RUN_FORMAT
                or not all(isinstance(found.get(key), dict) for key in ("config", "inputs"))):
            raise BadInput(f"cannot resume {run_dir}: it was made by another version of "
                           f"style-transfer; start a new run in another folder.")
        if found.get("command") != expected["command"]:
            raise BadInput(f"cannot resume {run_dir}: it holds a `{found.get('command')}` run, "
                           f"not a `{expected['command']}` run.")
        resumable = self.config.resumable_fields()
        # A setting added since the run started ran with its default.
        config, previous = expected["config"], {**self.config.default_values(), **found["config"]}
        changed = sorted(key for key in set(config) | set(previous)
                         if key not in resumable and config.get(key) != previous.get(key))
        if changed:
            raise BadInput(f"cannot resume {run_dir}: the run was started with different "
                           f"settings ({', '.join(_changed_names(changed, config, previous))}); "
                           f"use the same settings or another folder.")
        inputs, previous = expected["inputs"], found["inputs"]
        changed = sorted(key for key in set(inputs) | set(previous)
                         if inputs.get(key) != previous.get(key))
        if changed:
            raise BadInput(f"cannot resume {run_dir}: {_describe_change(changed[0])} changed "
                           f"since the run started, so it would not end as an uninterrupted "
                           f"run; put them back or start a new run in another folder.")

    @contextlib.contextmanager
    def _owned(self):
        """Locks the folder, checks nobody changed it meanwhile, clears stale temporaries
        and writes run.json; unlocks on leaving. Does nothing on a non-chief worker."""
        if not self.chief:
            yield
            return
        with _folder_lock(self.run_dir):
            if self._check_folder() != self._found:
                raise BadInput(f"{self.run_dir} changed while this run was starting (another "
                               f"process trained in it); start again.")
            remove_stale_partials(self.run_dir)
            for output in self.outputs:
                remove_stale_partials(output.parent, name=output.name)
            with atomic_write(self.run_dir / RUN_FILE, "w") as file:
                json.dump(self.settings, file, indent=2)
            yield

    # ----------------------------------------------------------- checkpoints

    def _read_checkpoint(self):
        path = self.checkpoint_path
        if not path.is_file():
            return None
        saved = read_checkpoint(path)
        if saved.get("step", np.zeros(1)).shape != () or saved["step"].dtype.kind not in "iu":
            raise BadInput(f"checkpoint {path} holds no step number; it is damaged: start a "
                           f"new run in another folder.")
        # A run never writes NaN or infinite variables (history columns may hold NaN: a
        # style absent from a step).
        bad = [key for key, value in saved.items() if key.startswith(("model/", "optimizer/"))
               and value.dtype.kind in "fc" and not np.all(np.isfinite(value))]
        if bad:
            raise BadInput(f"checkpoint {path} holds NaN or infinite values ({bad[0]}); it is "
                           f"damaged: start a new run in another folder.")
        return saved

    def _restore(self, step, history):
        """Loads the checkpoint into the step's variables and `history`; returns its step."""
        saved, path = self._saved, self.checkpoint_path
        if saved is None:
            return 0
        start = self._checkpoint_step = int(saved["step"])
        restore_variables(checkpoint_variables(step), saved, path,
                          other_keys={"step", *(f"history/{name}" for name in history.columns)})
        history.restore(saved, start, path)
        if start > self.config.steps:
            raise BadInput(f"{self.run_dir} has already trained {start} steps; give `steps` "
                           f"{start} or more to resume it.")
        return start

    def _write_checkpoint(self, step, history, number):
        """Writes step `number`'s state, then history.csv; refuses non-finite values.

        Every worker checks (they hold the same values, so all stop together); only
        the chief writes.
        """
        arrays = {key: keras.ops.convert_to_numpy(variable)
                  for key, variable in checkpoint_variables(step).items()}
        bad = [key for key, value in arrays.items() if not np.all(np.isfinite(value))]
        if bad:
            raise TrainingDiverged(
                f"training diverged by step {number}: {bad[0]} holds NaN or infinite values; "
                f"{self._kept()} Lower the learning rate or the loss weights and start a new "
                f"run.")
        if not _paints_a_test_picture(step):
            raise TrainingDiverged(
                f"training diverged by step {number}: its weights are finite but so large that "
                f"the network paints NaN or infinite pixels; {self._kept()} Lower the learning "
                f"rate or the loss weights and start a new run.")
        if self.chief:
            arrays["step"] = np.array(number, np.int64)
            arrays.update({f"history/{name}": column
                           for name, column in history.arrays().items()})
            with atomic_write(self.checkpoint_path) as file:
                np.savez(file, **arrays)
            history.write_csv(self.run_dir / HISTORY_FILE)
        self._checkpoint_step = number


def _paints_a_test_picture(step, styles=4, side_px=16):
    """Whether the step's network paints a small test picture (a smooth gradient) in its
    first `styles` styles with finite pixels only.

    Weights can stay finite while a picture overflows (a huge learning rate moves every
    weight to about its size in one step): such a model would paint NaN, so it is
    caught here, before a checkpoint or the model is written.
    """
    rows, columns = np.mgrid[0:side_px, 0:side_px] / side_px
    picture = np.stack([rows, columns, 1 - rows * columns], axis=-1).astype(np.float32)
    style_ids = tf.range(min(styles, step.num_styles), dtype=tf.int32)
    condition, _ = step.styles(style_ids)
    photos = np.repeat(picture[None], len(style_ids), axis=0)
    painted = keras.ops.convert_to_numpy(step.model(photos, condition, training=False))
    return bool(np.all(np.isfinite(painted)))


def read_checkpoint(path):
    """The arrays of a checkpoint file, {key: array}; never unpickles.

    Raises:
        BadInput: the file is truncated, damaged or not a checkpoint.
    """
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except Exception as error:  # zipfile, NumPy and the OS raise many types for a bad file.
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise BadInput(f"checkpoint {path} cannot be read ({reason}); it is damaged: start a "
                       f"new run in another folder.") from None


def checkpoint_variables(step):
    """{"model/PATH" or "optimizer/PATH": variable}: what a checkpoint holds, by name."""
    keyed = {}
    for prefix, variables in (("model", step.model.weights),
                              ("optimizer", step.optimizer.variables)):
        for variable in variables:
            key = f"{prefix}/{variable.path}"
            if key in keyed:
                raise ValueError(f"two variables have the path {variable.path!r}; checkpoints "
                                 f"match variables by path, so each needs its own.")
            keyed[key] = variable
    return keyed


def restore_variables(variables, saved, path, other_keys=()):
    """Assigns each of `variables` ({key: variable}) the array `saved` holds under its key.

    Raises:
        BadInput: `saved` (read from `path`) lacks a key, has one more than
            `variables` and `other_keys`, or holds an array of another shape or
            dtype than its variable: the checkpoint is not this network's.
    """
    expected = set(variables) | set(other_keys)
    if set(saved) != expected:
        key = sorted(set(saved) ^ expected)[0]
        raise BadInput(f"checkpoint {path} does not match the network ({key!r} is "
                       f"{'missing' if key in expected else 'unexpected'}); start a new run "
                       f"in another folder.")
    for key, variable in variables.items():
        value = saved[key]
        if value.shape != tuple(variable.shape) or value.dtype != variable.dtype:
            raise BadInput(f"checkpoint {path} does not match the network ({key} is "
                           f"{value.dtype}{list(value.shape)}, the network's {variable.dtype}"
                           f"{list(variable.shape)}); start a new run in another folder.")
    for key, variable in variables.items():
        variable.assign(saved[key])


def _file_identity(path):
    """What changes when a file is replaced: (inode, size, mtime), or None if absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _is_ours(name):
    """Files a run folder may hold before its run.json: the lock and stale temporaries."""
    return name == LOCK_FILE or (name.startswith(".") and PARTIAL_MARKER in name)


@contextlib.contextmanager
def _folder_lock(run_dir):
    """Holds an exclusive lock on RUN_DIR (RUN_DIR/.lock); refuses a folder another process
    holds."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"cannot write {run_dir}: {error.strerror or error}.") from None
    with held_lock(run_dir / LOCK_FILE, _in_use(run_dir)):
        yield


def _refuse_if_in_use(run_dir):
    """Refuses at once a folder whose lock another process holds (tries it, writes nothing)."""
    try:
        descriptor = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(run_dir) from None
    finally:
        os.close(descriptor)


def _in_use(run_dir):
    return BadInput(f"{run_dir} is in use by another training process; wait for it to end or "
                    f"choose another folder.")


def _changed_names(changed, config, previous):
    """The settings `changed` between two run configs, in backquotes (the command line
    shows their options); a nested setting (the loss) by the fields of it that changed."""
    names = []
    for key in changed:
        new, old = config.get(key), previous.get(key)
        if isinstance(new, dict) and isinstance(old, dict):
            names += [f"`{name}`" for name in sorted(set(new) | set(old))
                      if new.get(name) != old.get(name)]
        else:
            names.append(f"`{key}`")
    return names


def _describe_change(input_name):
    return {"content_files": "the photos of the content folder",
            "style_sha256": "the style images",
            "model_sha256": "the model file"}.get(input_name, input_name)


# --------------------------------------------------------------- signals


class _StopRequests:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM into a request, `received`, that the loop
    answers between steps; the previous handlers come back at once, so a second signal
    acts as usual (KeyboardInterrupt, termination). Python runs handlers between
    bytecodes, never inside a TensorFlow step, so a step is never cut in half.

    Only the main thread can install handlers; elsewhere, and for a signal the process
    ignores (a background job ignores SIGINT), signals keep their handlers.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.received = None
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for signal_number in self.SIGNALS:
                if signal.getsignal(signal_number) is not signal.SIG_IGN:
                    self._previous[signal_number] = signal.signal(signal_number, self._request)
        return self

    def _request(self, signal_number, frame):
        self.received = signal_number
        self._restore()
        _log.warning("stopping after the step under way, with a checkpoint (%s again stops at "
                     "once, keeping the last checkpoint)", signal.Signals(signal_number).name)

    def _restore(self):
        for signal_number, handler in self._previous.items():
            signal.signal(signal_number, handler)
        self._previous = {}

    def __exit__(self, *exception):
        self._restore()
