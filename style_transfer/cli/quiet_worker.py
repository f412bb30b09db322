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

from style_transfer.cli.library_logs import QUIET_PROGRAM_ENV, quiet_libraries, show_project_log


def quiet_this_worker():
    """`show_project_log` and `quiet_libraries` with the name of the command that started this
    process quiet; nothing if none did."""
    program = os.environ.get(QUIET_PROGRAM_ENV)
    if program:
        show_project_log(program)
        quiet_libraries(program)


quiet_this_worker()
