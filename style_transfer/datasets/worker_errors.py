"""A worker's one-line error, carried across Apache Beam to the command that started the run.

A transform that raises on a worker reaches the runner as the text of its traceback,
whatever the runner (the DirectRunner's threads or processes, Flink, Spark, Dataflow):
the exception object itself never crosses. The transforms therefore raise a
`BadInput` (a model whose weights are damaged, an output that cannot be written) or
an operating system's error as a `WorkerBadInput`, whose message is the one line
followed by the same line tagged in URL-safe base64, which no runner's quoting or
escaping of the traceback's text changes; `worker_bad_input` finds it again in the
error the run raised. Any other error is a bug, and keeps its traceback.

On the DirectRunner the workers are threads of this process, and a run that failed
in one of them returns while the others go on with the work they hold (the rest of
the dataset, or loading the model). `settled_on_failure` stops them and waits for
them: Python must not end under a thread that is inside h5py (loading a model holds
its lock, and Python's shutdown then waits for it forever) or TensorFlow (a crash).
A run is named by the `run` its transforms are built with (`new_run`); work of no
run (None: a transform called by itself) is never stopped.

Light: no Beam, no TensorFlow.
"""

import base64
import contextlib
import re
import threading
import time
import uuid

from style_transfer.base.errors import BadInput, first_line
from style_transfer.base.files import os_error_line

_TAG = "style-transfer-bad-input"
_TAGGED = re.compile(rf"\[{_TAG}:([A-Za-z0-9_=-]*)\]")
# The longest line carried (a message is one line; this bounds a pathological one).
MAX_MESSAGE_CHARS = 2000
# The longest wait, after a run failed, for the work of this process's workers in flight
# (a picture being painted, a model being loaded) to end.
SETTLE_TIMEOUT_S = 120.0

_lock = threading.Lock()
_in_flight = {}  # run: the transforms' work of this process in flight
_stopped = set()  # the runs that failed: their workers start no more work


class WorkerBadInput(Exception):
    """A `BadInput` (or an operating system's error) raised by a transform on a worker:
    "MESSAGE [style-transfer-bad-input:BASE64]", readable in the runner's own log."""

    @classmethod
    def of(cls, message):
        encoded = base64.urlsafe_b64encode(message.encode("utf-8")).decode("ascii")
        return cls(f"{message} [{_TAG}:{encoded}]")


class RunStopped(Exception):
    """The run failed (on another worker thread of this process, or was interrupted):
    the work that was left is not started."""


def new_run():
    """A name for one run of a pipeline, that its transforms are built with."""
    return uuid.uuid4().hex


@contextlib.contextmanager
def user_errors(run=None):
    """A transform's work on a worker: a `BadInput` or an operating system's error inside
    is raised as a `WorkerBadInput` (anything else is a bug: it goes through as it is).

    The work of `run` is counted while in flight (`settled_on_failure`), and none starts
    once `run` has failed in this process (`RunStopped`).
    """
    with _lock:
        if run in _stopped:
            raise RunStopped("the run stopped: another worker failed")
        _in_flight[run] = _in_flight.get(run, 0) + 1
    try:
        yield
    except BadInput as error:
        raise WorkerBadInput.of(first_line(error, limit=MAX_MESSAGE_CHARS)) from None
    except OSError as error:
        raise WorkerBadInput.of(os_error_line(error)) from None
    finally:
        with _lock:
            _in_flight[run] -= 1
            if not _in_flight[run]:
                del _in_flight[run]


@contextlib.contextmanager
def settled_on_failure(run, timeout_s=SETTLE_TIMEOUT_S):
    """Runs the pipeline of `run` inside; if it fails (or is interrupted), the workers of
    this process start no more work of it, and the error goes on once its work in flight
    has ended (at most `timeout_s` later). Workers on other machines are their runner's
    to stop."""
    try:
        yield
    except BaseException:
        with _lock:
            _stopped.add(run)
        deadline = time.monotonic() + timeout_s
        while run in _in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        raise


def worker_bad_input(error):
    """The `BadInput` of the first `WorkerBadInput` that the error a pipeline's run raised
    holds (in its text, its arguments or the errors it was raised from), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts = []
        for part in (*getattr(error, "args", ()), error):
            try:
                texts.append(str(part))
            except Exception:  # An object whose text cannot be made holds no message.
                continue
        for text in texts:
            for encoded in _TAGGED.findall(text):
                try:
                    return BadInput(base64.urlsafe_b64decode(encoded).decode("utf-8"))
                except ValueError:  # Not base64, or not UTF-8: not one of ours.
                    continue
        error = error.__cause__ or error.__context__
    return None
