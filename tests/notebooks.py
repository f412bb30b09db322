"""Runs a notebook top to bottom in a fresh kernel (nbclient), TensorFlow backend, no display.

Used by `notebooks/test_notebooks.py` (every notebook) and by the suite
(`tests/test_notebook_code.py` runs the one the suite must run on every change).
"""

import os
from pathlib import Path
from unittest import mock

import nbclient
import nbformat


def run_notebook(path, working_dir, timeout_s):
    """Executes every cell of the notebook at `path` in `working_dir`; raises nbclient's
    CellExecutionError, naming the cell, if one fails. `timeout_s` applies to each cell."""
    notebook = nbformat.read(path, as_version=4)
    # The kernel inherits this environment: the TensorFlow backend, quiet logs, no display,
    # and temporary folders (the notebooks' `tempfile.mkdtemp()`) inside `working_dir`,
    # which the caller removes, instead of left in the system's.
    temporary = Path(working_dir) / "tmp"
    temporary.mkdir(exist_ok=True)
    environment = {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "MPLBACKEND": "Agg", "TMPDIR": str(temporary)}
    with mock.patch.dict(os.environ, environment):  # put back as it was afterwards
        nbclient.NotebookClient(
            notebook, timeout=timeout_s, kernel_name="python3",
            resources={"metadata": {"path": str(working_dir)}},  # the kernel's working directory
        ).execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors, errors
    return notebook
