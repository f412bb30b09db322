"""What a run records: the loss history of every step, TensorBoard summaries, the progress bar.

The history lives in memory, in each checkpoint (so that a resumed run continues it
exactly) and in RUN_DIR/history.csv, rewritten with each checkpoint; `read_history`
reads it back.
"""

import collections
import csv
import importlib.util
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import install_hint
from style_transfer.base.files import atomic_write

HISTORY_FILE = "history.csv"
LOG_DIR = "logs"
LOSS_PARTS = ("total", "content", "style", "tv")
# TensorBoard scalars are means over this many steps (per-style ones would be noise
# per step: a batch of 4 holds each style about 4 / N times).
LOG_EVERY_STEPS = 10


class History:
    """The losses of every step: batch means of `LOSS_PARTS` and the mean total per style."""

    def __init__(self, style_names):
        self.style_names = list(style_names)
        self.columns = ["step", *LOSS_PARTS, *(f"style:{name}" for name in self.style_names)]
        self.rows = []

    def append(self, step, style_ids, losses):
        per_style = []
        for index in range(len(self.style_names)):
            mask = style_ids == index
            per_style.append(float(losses["total"][mask].mean()) if mask.any() else np.nan)
        self.rows.append([step, *(float(losses[part].mean()) for part in LOSS_PARTS),
                          *per_style])

    def recent_means(self):
        """The mean `LOSS_PARTS` over the last `LOG_EVERY_STEPS` steps."""
        recent = np.array([row[1:1 + len(LOSS_PARTS)] for row in self.rows[-LOG_EVERY_STEPS:]])
        return recent.mean(axis=0)

    def arrays(self):
        table = np.array(self.rows, np.float64).reshape(-1, len(self.columns))
        return {name: table[:, index] for index, name in enumerate(self.columns)}

    def restore(self, saved, step, path):
        columns = [saved[f"history/{name}"] for name in self.columns]
        if any(len(column) != step for column in columns):
            raise BadInput(f"checkpoint {path} holds a history of another length than its "
                           f"{step} steps; it is damaged: start a new run in another folder.")
        # One number per step in each column, and the steps 1, 2, ... in the first.
        if (any(column.shape != (step,) or column.dtype.kind not in "iuf" for column in columns)
                or not np.array_equal(columns[0], np.arange(1, step + 1))):
            raise BadInput(f"checkpoint {path} holds a history that is not one row of numbers "
                           f"per step; it is damaged: start a new run in another folder.")
        self.rows = np.stack(columns, axis=1).tolist()

    def write_csv(self, path):
        with atomic_write(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(self.columns)
            for row in self.rows:
                writer.writerow([int(row[0]), *("" if np.isnan(value) else f"{value:.6g}"
                                                for value in row[1:])])


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


class TensorBoard:
    """Window means of the losses (also per style) and pictures, through `tf.summary`.

    `tf.summary.scalar` and `.image` live in the `tensorboard` package (the
    `tensorboard` extra); without it the run trains and logs nothing, with one warning.
    """

    def __init__(self, log_dir, style_names):
        self.style_names = list(style_names)
        self.writer = None
        if not tensorboard_installed():
            warnings.warn("TensorBoard logs are not written: the tensorboard package is "
                          f"missing ({install_hint('tensorboard')}).", stacklevel=3)
        else:
            self.writer = tf.summary.create_file_writer(str(log_dir))
        self.last_step = 0
        self._reset()

    def _reset(self):
        self.sums = collections.Counter()
        self.count = 0
        self.style_sums = np.zeros(len(self.style_names))
        self.style_counts = np.zeros(len(self.style_names))

    def add(self, step, style_ids, losses):
        for part in LOSS_PARTS:
            self.sums[part] += float(losses[part].mean())
        self.count += 1
        self.last_step = step
        if self.style_names:
            np.add.at(self.style_sums, style_ids, losses["total"])
            np.add.at(self.style_counts, style_ids, 1)
        if step % LOG_EVERY_STEPS == 0:
            self._flush(step)

    def _flush(self, step):
        if self.writer is not None and self.count:
            with self.writer.as_default(step=step):
                for part in LOSS_PARTS:
                    tf.summary.scalar(f"loss/{part}", self.sums[part] / self.count)
                for name, total, count in zip(self.style_names, self.style_sums,
                                              self.style_counts):
                    if count:
                        tf.summary.scalar(f"style_loss/{name}", total / count)
        self._reset()

    def image(self, tag, step, picture):
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.image(tag, np.clip(picture, 0, 1)[None], step=step)

    def close(self):
        self._flush(self.last_step)
        if self.writer is not None:
            self.writer.close()


def tensorboard_installed():
    return importlib.util.find_spec("tensorboard") is not None


def progress_bar(steps, start_step):
    # Off a terminal (a log file), one line every 30 s instead of a redrawn bar.
    interval = 0.05 if sys.stdout.isatty() else 30.0
    progbar = keras.utils.Progbar(steps, stateful_metrics=LOSS_PARTS, interval=interval,
                                  unit_name="step")
    if start_step:
        progbar.update(start_step)
    return progbar
