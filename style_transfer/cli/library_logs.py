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

Processes that a command starts write to the same standard error themselves: Apache
Beam's workers in `--direct_running_mode=multi_processing` start Python, Beam's
logging and TensorFlow's C++ libraries again. `worker_processes_quiet` runs a block with
the standard error of the processes started inside going through a filter that drops
library log lines (`is_library_log_line`) and passes the rest (a crash's message);
and such a process that imports `style_transfer.cli.quiet_worker` (Beam's
`--beam_plugins`) runs `quiet_libraries` itself, as the command did.
"""

import contextlib
import logging
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

from style_transfer.base.import_hooks import on_import

QUIET_TF_CPP_MIN_LOG_LEVEL = "3"
# The command's name, for the processes started inside `worker_processes_quiet`.
QUIET_PROGRAM_ENV = "STYLE_TRANSFER_QUIET_PROGRAM"
# What libraries write on the standard error of a process before it can be quieted:
# absl's log lines below FATAL ("I0000 00:00:1796653300.722197   18214 port.cc:153] oneDNN
# custom operations are on..."; TensorFlow's C++ start-up, gRPC), absl's banner before
# them, and Python's log records below CRITICAL in `logging`'s default format
# ("INFO:apache_beam.runners.worker.sdk_worker:Control channel established.").
_LIBRARY_LOG_LINE = re.compile(
    r"[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|(?:DEBUG|INFO|WARNING|ERROR):[^\s:]*:")
# The longest wait, once the block of `worker_processes_quiet` has ended, for the last
# lines of its processes (they have exited: Beam waits for its workers).
RELAY_DRAIN_S = 5.0
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


def is_library_log_line(line):
    """Whether `line` (text, without its line break) is a library's log line that a quiet
    command does not show: absl's (TensorFlow's C++ code) below FATAL, absl's banner,
    Python's log records below CRITICAL in `logging`'s default format."""
    return _LIBRARY_LOG_LINE.match(line.rstrip("\r")) is not None


@contextlib.contextmanager
def worker_processes_quiet(program):
    """Runs the block with what the processes started inside write to the standard error
    (Apache Beam's worker processes) relayed to it without library log lines.

    File descriptor 2, which those processes inherit, is a pipe inside; a thread passes its
    lines on to the standard error but those of `is_library_log_line`. This process's
    own `sys.stderr` (its messages, the progress bar) keeps writing to the standard error
    directly. The processes find `program` in `QUIET_PROGRAM_ENV`, for
    `style_transfer.cli.quiet_worker`. A line that is no library's log (a worker's
    crash, a fatal error) is shown.
    """
    _interrupted.clear()
    restore_interrupt = _quiet_threads_of_an_interrupted_run()
    sys.stderr.flush()
    terminal = os.dup(2)
    read, write = os.pipe()
    relay = threading.Thread(target=_relay_lines, args=(read, os.dup(terminal)),
                             name="worker-stderr-relay", daemon=True)
    relay.start()
    previous_program = os.environ.get(QUIET_PROGRAM_ENV)
    restore_stream = None
    try:
        restore_stream = _python_stderr_kept_on(terminal)
        os.environ[QUIET_PROGRAM_ENV] = program
        os.dup2(write, 2)
        yield
    except KeyboardInterrupt:
        _interrupted.set()
        raise
    finally:
        restore_interrupt()
        os.close(write)
        os.dup2(terminal, 2)
        os.close(terminal)
        if restore_stream is not None:
            restore_stream()
        if previous_program is None:
            os.environ.pop(QUIET_PROGRAM_ENV, None)
        else:
            os.environ[QUIET_PROGRAM_ENV] = previous_program
        # The pipe ends once every process that holds it has exited (Beam waits for its
        # workers before the run returns or raises).
        relay.join(RELAY_DRAIN_S)


_interrupted = threading.Event()
# How Beam's thread that waits for a worker process reports one ended by a signal (SIGINT).
_WORKER_KILLED = re.compile(r"Worker subprocess exited with return code -(\d+)")


def _quiet_threads_of_an_interrupted_run():
    """From now on, an exception that ends a thread of an interrupted run prints nothing.

    Ctrl-C in a terminal reaches every process of the group: the command stops and says so
    in one line, each worker ends a second later without a traceback (`quiet_worker`), and
    the shell Beam starts it with (`/bin/sh -c`) dies of it at once. Beam's threads then end with errors ("Worker
    subprocess exited with return code -2", the broken gRPC streams) that Python prints
    as tracebacks while the command winds down. Dropped: those of any thread once the
    command was interrupted, and a worker's end by SIGINT, which may come first. Any
    other exception of a thread prints as before.

    Until the returned function is called, SIGINT in this (main) thread also marks the run
    interrupted, before its KeyboardInterrupt, which is raised as before."""
    if not getattr(threading.excepthook, "_quiet_when_interrupted", False):
        previous_hook = threading.excepthook

        def excepthook(args):
            killed = _WORKER_KILLED.search(str(args.exc_value))
            if _interrupted.is_set() or (killed and int(killed.group(1)) == signal.SIGINT):
                return
            previous_hook(args)

        excepthook._quiet_when_interrupted = True
        threading.excepthook = excepthook
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous_handler = signal.getsignal(signal.SIGINT)

    def on_interrupt(signal_number, frame):
        _interrupted.set()
        if callable(previous_handler):
            return previous_handler(signal_number, frame)
        if previous_handler == signal.SIG_IGN:
            return None
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    return lambda: signal.signal(signal.SIGINT, previous_handler)


def _python_stderr_kept_on(terminal):
    """Points `sys.stderr` (the stream that `_WithoutBeamPrints` wraps, if it is one) at a
    copy of `terminal` when it writes to file descriptor 2; returns what undoes it. A
    stream of another file (a test's capture) is left as it is."""
    holder = sys.stderr if isinstance(sys.stderr, _WithoutBeamPrints) else None
    stream = holder._stream if holder is not None else sys.stderr
    try:
        on_descriptor_2 = stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: no file
        on_descriptor_2 = False
    if not on_descriptor_2:
        return lambda: None
    stream.flush()
    replacement = open(os.dup(terminal), "w", buffering=1, encoding=stream.encoding,
                       errors=stream.errors)
    if holder is not None:
        holder._stream = replacement
    else:
        sys.stderr = replacement

    def restore():
        replacement.flush()
        if holder is not None:
            holder._stream = stream
        elif sys.stderr is replacement:
            sys.stderr = stream
        replacement.close()

    return restore


def _relay_lines(read, write):
    """Copies the lines of file descriptor `read` to `write` until its end, but library log
    lines, and nothing once the run is interrupted (the workers' dying words: the command
    says it stopped); closes both."""
    with open(read, "rb", buffering=0) as source, open(write, "wb", buffering=0) as target:
        pending = b""
        while chunk := source.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            shown = b"".join(line + b"\n" for line in lines
                             if not is_library_log_line(line.decode("utf-8", "replace")))
            if len(pending) > 65536:  # a line without end so far: passed on as it comes
                shown, pending = shown + pending, b""
            if not _interrupted.is_set():
                _write_all(target, shown)
        if not (_interrupted.is_set() or is_library_log_line(pending.decode("utf-8",
                                                                            "replace"))):
            _write_all(target, pending)


def _write_all(target, data):
    view = memoryview(data)
    while view:
        view = view[target.write(view):]


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
