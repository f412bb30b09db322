"""The package's layout: every import runs downward, and no modules import each other in a circle.

The layers, from the ground up (a module may import its own layer and those below):

    cbn                          the layers; knows nothing of style transfer
    style_transfer.base          errors, files, images, settings
    style_transfer.models        the networks, loading, saving, pretrained, export
    style_transfer.painting      stylize, blends, video
    style_transfer.training      configs, data, losses, runs
    style_transfer.web, .demo,   the applications
      .augment, .datasets
    style_transfer.cli           the command line (it serves the applications)
    style_transfer (the face)    the package's public names

Imports inside functions count as well: they are there for start-up time, never to
hide a circle. The imports are read from the source (nothing is imported here).
"""

import ast
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("cbn", "style_transfer")
LAYERS = {
    "cbn": 0,
    "style_transfer.base": 1,
    "style_transfer.models": 2,
    "style_transfer.painting": 3,
    "style_transfer.training": 4,
    "style_transfer.web": 5,
    "style_transfer.demo": 5,
    "style_transfer.augment": 5,
    "style_transfer.datasets": 5,
    "style_transfer.cli": 6,
    "style_transfer": 7,
    "style_transfer.__main__": 7,
}


def module_files():
    """{module name: file} of every module of the two packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPOSITORY / package).rglob("*.py")):
            parts = list(path.relative_to(REPOSITORY).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(path, name, modules):
    """The modules of the two packages that the module `name` imports, anywhere in it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # "from package import module" imports the module; "from module import name" the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(module):
    while module not in LAYERS:
        module = module.rpartition(".")[0]
    return LAYERS[module]


@pytest.fixture(scope="module")
def graph():
    modules = module_files()
    return {name: imports_of(path, name, modules) for name, path in modules.items()}


def test_every_module_has_a_layer(graph):
    for module in graph:
        assert layer_of(module) is not None


def upward_imports(graph):
    return sorted(f"{module} -> {target}" for module, targets in graph.items()
                  for target in targets if layer_of(target) > layer_of(module))


def circles(graph):
    """Every import circle a depth-first walk meets, as "a -> b -> a"."""
    found, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_every_import_runs_downward(graph):
    assert not upward_imports(graph), "imports that run upward:\n" + "\n".join(
        upward_imports(graph))


def test_no_modules_import_each_other_in_a_circle(graph):
    assert not circles(graph), "import circles:\n" + "\n".join(circles(graph))


def test_the_checks_find_an_upward_import_and_a_circle(tmp_path):
    """The reader of imports sees imports inside functions, and the two checks fire."""
    modules = {"style_transfer.base.files": None, "style_transfer.models.network": None,
               "style_transfer.painting.stylize": None}
    source = tmp_path / "files.py"
    source.write_text("import style_transfer.painting.stylize\n"
                      "def late():\n    from style_transfer.models import network\n")
    found = imports_of(source, "style_transfer.base.files", modules)
    assert found == {"style_transfer.painting.stylize", "style_transfer.models.network"}
    graph = {"style_transfer.base.files": found,
             "style_transfer.models.network": {"style_transfer.painting.stylize"},
             "style_transfer.painting.stylize": {"style_transfer.models.network"}}
    assert upward_imports(graph) == [
        "style_transfer.base.files -> style_transfer.models.network",
        "style_transfer.base.files -> style_transfer.painting.stylize",
        "style_transfer.models.network -> style_transfer.painting.stylize"]
    assert circles(graph) == ["style_transfer.models.network -> style_transfer.painting.stylize"
                              " -> style_transfer.models.network"]
