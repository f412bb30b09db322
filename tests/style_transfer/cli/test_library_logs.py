"""`library_logs.worker_processes_quiet`: the processes started inside write to the standard
error all but the libraries' log lines (Apache Beam's worker processes; the real command in
tests/style_transfer/cli/test_stylize_dataset_cli.py)."""

import os
import subprocess
import sys

import pytest

from style_transfer.cli import library_logs

LIBRARY_LOG_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796653300.722197   18214 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.",
    "E0000 00:00:1796653286.064270   18036 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "W0522 14:21:00.000012    7 fork_posix.cc:71] Other threads are currently calling into gRPC",
    "WARNING:root:apitools not found, and bigquery client libraries are not available despite "
    "the import not raising an ImportError.",
    "INFO:__main__:Python sdk harness starting.",
    "ERROR:apache_beam.runners.worker.sdk_worker:Error processing instruction bundle_12.",
]
OTHER_LINES = [
    "F0000 00:00:1796653300.722197   18214 check.cc:10] Check failed: a fatal error",
    "CRITICAL:__main__:Python sdk harness failed: ",
    "Fatal Python error: Segmentation fault",
    "Traceback (most recent call last):",
    "style-transfer stylize-dataset: warning: the colour profile of a.png cannot be used",
    "WARNING: not absl's banner",
]


@pytest.mark.parametrize("line", LIBRARY_LOG_LINES)
def test_library_log_lines_are_known(line):
    assert library_logs.is_library_log_line(line)


@pytest.mark.parametrize("line", OTHER_LINES)
def test_fatal_errors_and_other_lines_are_no_library_log(line):
    assert not library_logs.is_library_log_line(line)


def test_processes_started_inside_write_all_but_library_log_lines(capfd):
    # Both kinds mixed, the last line without its line break.
    written = "\n".join(line for pair in zip(LIBRARY_LOG_LINES, OTHER_LINES) for line in pair)
    child = (f"import os, sys; print(os.environ[{library_logs.QUIET_PROGRAM_ENV!r}], "
             f"file=sys.stderr); sys.stderr.write(sys.argv[1])")
    with library_logs.worker_processes_quiet("style-transfer stylize-dataset"):
        subprocess.run([sys.executable, "-c", child, written], check=True, timeout=60)
        print("this process's own line", file=sys.stderr)
    assert sorted(capfd.readouterr().err.splitlines()) == sorted(
        [*OTHER_LINES, "style-transfer stylize-dataset", "this process's own line"])
    assert library_logs.QUIET_PROGRAM_ENV not in os.environ
