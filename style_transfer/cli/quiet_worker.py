"""Imported first by each Apache Beam worker process of a command run without --verbose.

`style-transfer stylize-dataset` in `--direct_running_mode=multi_processing` names this
module in Beam's `--beam_plugins`, which a worker process imports as it starts, before
any work; the command runs the pipeline inside `library_logs.worker_processes_quiet`,
which gives its processes the command's name in `library_logs.QUIET_PROGRAM_ENV`. The
worker then keeps its libraries quiet as the command does (`library_logs.quiet_libraries`:
TensorFlow's C++ start-up lines, Beam's log and its tracebacks of the errors that the
command reports in one line) and shows this project's warnings as the command's lines.
Imported anywhere else (no such name in the environment), it does nothing.
"""

import os
import signal
import threading
import time

from style_transfer.cli.keras_backend import skip_optional_integrations
from style_transfer.cli.library_logs import QUIET_PROGRAM_ENV, quiet_libraries, show_project_log

# How long a worker interrupted by Ctrl-C goes on before it ends (the command has stopped
# the run by then, and ends its workers itself when it ends first).
INTERRUPTED_WORKER_GRACE_S = 1.0


def quiet_this_worker():
    """`show_project_log` and `quiet_libraries` with the name of the command that started this
    process quiet, and TensorFlow imported as the command imports it
    (`keras_backend.skip_optional_integrations`); nothing if no command did."""
    program = os.environ.get(QUIET_PROGRAM_ENV)
    if program:
        skip_optional_integrations()
        show_project_log(program)
        quiet_libraries(program)
        # Ctrl-C in a terminal reaches the whole process group: the command stops the run
        # and says so in one line. A worker ends without its KeyboardInterrupt's traceback,
        # a moment later, so that the command knows it was interrupted before it sees its
        # workers go (what a worker was writing is a temporary file the next run removes).
        signal.signal(signal.SIGINT, _end_soon)


def _end_soon(signal_number, frame):
    def end():
        time.sleep(INTERRUPTED_WORKER_GRACE_S)
        os._exit(128 + signal_number)

    threading.Thread(target=end, name="end-after-interrupt", daemon=True).start()


quiet_this_worker()
