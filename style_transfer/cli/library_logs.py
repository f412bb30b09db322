"""What the command line shows of the libraries' own output: nothing unless --verbose.

TensorFlow's C++ libraries log to the standard error while they load ("oneDNN
custom operations are on", "Could not find cuda drivers", each after the absl
banner, once per library), before `TF_CPP_MIN_LOG_LEVEL` or any Python setting
can reach them. `quiet_libraries` therefore
- sets `TF_CPP_MIN_LOG_LEVEL` to 3 (unless the user set it): no C++ log lines later;
- points file descriptor 2 at /dev/null while TensorFlow is imported, whenever
  that happens (the import is found by a one-shot `sys.meta_path` finder, so
  commands stay free to import TensorFlow late, after their arguments are checked);
- raises the Python loggers of TensorFlow and absl to ERROR;
- shows the warnings of this project (`style_transfer`, `cbn`) as one line each
  and drops those of the libraries.
Call it before anything imports TensorFlow. Library code never calls it: it
changes the process's standard error, which is the command line's to decide.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from pathlib import Path

QUIET_TF_CPP_MIN_LOG_LEVEL = "3"
_PROJECT_FOLDERS = tuple(
    str(Path(__file__).resolve().parent.parent / package) + os.sep
    for package in ("style_transfer", "cbn")
)


def quiet_libraries(program):
    """Keeps library log lines and warnings off the standard error (see the module docstring).

    Args:
        program: The prefix of the warnings that are shown ("style-transfer stylize").
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport("tensorflow"))
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def show_project_warnings_only(message, category, filename, lineno, file=None, line=None):
        if os.path.abspath(filename).startswith(_PROJECT_FOLDERS):
            text = " ".join(str(message).split())
            print(f"{program}: warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show_project_warnings_only


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds one top-level module through the other finders, and runs its import
    with file descriptor 2 on /dev/null. Removes itself when used."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps the real loader (importlib.resources and friends ask it).
        module.__loader__ = module.__spec__.loader = self.loader
        with standard_error_discarded():
            self.loader.exec_module(module)


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
