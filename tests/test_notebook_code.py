"""The notebooks, read without running them (running them all is `python -m pytest notebooks`):
each is a valid notebook, every code cell compiles, and every name a cell imports from
this project (`cbn`, `style_transfer`) exists, so a renamed module or function fails here.

One runs here too: notebook 08, `cbn`'s diffusion transformer trained on JAX and PyTorch."""

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest

from tests.notebooks import run_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PROJECT = ("cbn", "style_transfer")


def code_cells(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            # IPython's magics and shell lines (%matplotlib, !pip) are not Python.
            lines = [line for line in cell.source.splitlines()
                     if not line.lstrip().startswith(("%", "!"))]
            yield index, "\n".join(lines)


def project_imports(tree):
    """(module, name or None) of every import of this project in a cell."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] in PROJECT):
            for alias in node.names:
                yield node.module, alias.name


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_every_cell_compiles_and_every_project_name_it_imports_exists(path):
    imported = 0
    for index, source in code_cells(path):
        tree = compile(source, f"{path.name}, cell {index}", "exec", ast.PyCF_ONLY_AST)
        for module_name, name in project_imports(tree):
            module = importlib.import_module(module_name)
            if name is not None and not hasattr(module, name):
                # `from package import submodule` imports the submodule.
                importlib.import_module(f"{module_name}.{name}")
            imported += 1
    assert imported, f"{path.name} imports nothing of this project"


@pytest.mark.slow
def test_the_diffusion_transformer_notebook_trains_on_jax_and_on_pytorch(tmp_path):
    notebook = run_notebook(NOTEBOOKS_DIR / "08_dit_adaln_zero_on_jax_and_pytorch.ipynb",
                            tmp_path, timeout_s=300)
    printed = "".join(output.get("text", "") for cell in notebook.cells
                      if cell.cell_type == "code" for output in cell.get("outputs", []))
    losses = {backend: (float(first), float(last)) for backend, first, last in re.findall(
        r"(jax|torch): first 20 steps ([0-9.]+), last 20 steps ([0-9.]+)", printed)}
    assert set(losses) == {"jax", "torch"}, printed
    # Its work folder went into the test's own temporary folder, not the system's.
    assert list((tmp_path / "tmp").glob("dit_digits_*"))
    for backend, (first, last) in losses.items():
        assert last < 0.7 * first, (backend, first, last)  # it learns on both backends
