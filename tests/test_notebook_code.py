"""The notebooks, read without running them (running them is `python -m pytest notebooks`):
each is a valid notebook, every code cell compiles, and every name a cell imports from
this project (`cbn`, `style_transfer`) exists, so a renamed module or function fails here."""

import ast
import importlib
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
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
