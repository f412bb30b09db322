"""What the command line shows of the libraries' own output: nothing unless --verbose.

TensorFlow's C++ libraries log to the standard error while they load ("oneDNN
custom operations are on", "Could not find cuda drivers", each after the absl
banner, once per library), before `TF_CPP_MIN_LOG_LEVEL` or any Python setting
can reach them. `quiet_libraries` therefore
- sets `TF_CPP_MIN_LOG_LEVEL` to 3 (unless the user set it): no C++ log lines later;
- points file descriptor 2 at /dev/null while TensorFlow is imported, whenever
  that happens (`base.import_hooks.on_import`, so commands stay free to import
  TensorFlow late, after their arguments are checked);
- raises the Python loggers of TensorFlow and absl to ERROR, and OpenCV's own log
  (its "[ WARN:0@0.012] ... can't open camera by index" lines) to ERROR; Apache Beam's
  to CRITICAL (its ERROR lines are the tracebacks of the errors its run raises, which
  the command reports), and drops what Beam's workers print to `sys.stderr` (the same
  tracebacks again);
- shows the warnings of this project (`style_transfer`, `cbn`) as one line each
  and drops those of the libraries.
Call it before anything imports TensorFlow. Library code never calls it: it
changes the process's standard error, which is the command line's to decide.
"""

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

from style_transfer.base.import_hooks import on_import

QUIET_TF_CPP_MIN_LOG_LEVEL = "3"
_PROJECT_FOLDERS = tuple(
    str(Path(__file__).resolve().parents[2] / package) + os.sep
    for package in ("style_transfer", "cbn")
)


def quiet_libraries(program):
    """Keeps library log lines and warnings off the standard error (see the module docstring).

    Args:
        program: The prefix of the warnings that are shown ("style-transfer stylize").
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
    if "tensorflow" not in sys.modules:
        on_import("tensorflow", standard_error_discarded)
    # OpenCV reads its level when it first logs; one already imported is told.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    logging_of_opencv = getattr(getattr(sys.modules.get("cv2"), "utils", None), "logging", None)
    if logging_of_opencv is not None:
        logging_of_opencv.setLogLevel(logging_of_opencv.LOG_LEVEL_ERROR)
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Apache Beam logs, at ERROR, each failure of a worker with its traceback (several
    # screens, once per retry) before it raises it again: the command reports that error.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    # Apache Beam warns on the root logger while it is imported (optional cloud clients).
    logging.getLogger().addFilter(_not_from_apache_beam)
    if not isinstance(sys.stderr, _WithoutBeamPrints):
        sys.stderr = _WithoutBeamPrints(sys.stderr)

    def show_project_warnings_only(message, category, filename, lineno, file=None, line=None):
        if os.path.abspath(filename).startswith(_PROJECT_FOLDERS):
            text = " ".join(str(message).split())
            print(f"{program}: warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show_project_warnings_only


def _not_from_apache_beam(record):
    return f"{os.sep}apache_beam{os.sep}" not in record.pathname


def show_project_log(program):
    """Shows the log records of this project (`style_transfer`, `cbn`) of level WARNING
    and above as the command line's own lines: "style-transfer train: warning: ...".

    Called with or without --verbose: they are this project's words to the user.
    """
    for name in ("style_transfer", "cbn"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _ProgramLines)]:
            logger.removeHandler(handler)
        logger.addHandler(_ProgramLines(program))
        logger.propagate = False


class _ProgramLines(logging.Handler):
    """Writes "PROGRAM: LEVEL: MESSAGE" to the standard error of the moment (a test may
    have replaced it), the message on one line."""

    def __init__(self, program):
        super().__init__(logging.WARNING)
        self.program = program

    def emit(self, record):
        try:
            message = " ".join(record.getMessage().split())
            print(f"{self.program}: {record.levelname.lower()}: {message}", file=sys.stderr)
            if record.exc_info:
                print(logging.Formatter().formatException(record.exc_info), file=sys.stderr)
        except Exception:  # As logging.Handler does: a failed log line never stops the work.
            self.handleError(record)


class _WithoutBeamPrints:
    """A text stream that passes to `stream` everything but what Apache Beam's code writes.

    Beam's workers print the traceback of every failure to `sys.stderr` (besides
    logging it), several screens per retry, and go on printing those of the work they
    held after the run has raised the error, which the command reports.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            # print() is a builtin: the frame that called it is the caller of write().
            caller = sys._getframe(1).f_code.co_filename
        except ValueError:  # Called from C with no Python frame (Python's own traceback).
            caller = ""
        if f"{os.sep}apache_beam{os.sep}" in caller:
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def standard_error_discarded():
    """Points file descriptor 2 at /dev/null (what C and C++ code writes there is lost)."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
