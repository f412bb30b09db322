"""The package's metadata keeps its promises: every extra brings what its feature imports.

A feature that needs an optional module imports it with
`style_transfer.base.extras.import_extra(module, extra, purpose)`, which names the extra in
its error. Here every such call is read from the source, and the module's distribution must
be a requirement of that extra in pyproject.toml, so that `pip install '.[EXTRA]'` fixes what
the error reports.
"""

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def extras():
    """{extra: {distribution names}} from pyproject.toml."""
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    return {extra: {_name(requirement) for requirement in requirements}
            for extra, requirements in project["optional-dependencies"].items()}


def _name(requirement):
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def import_extra_calls():
    """(file, module, extra) of every `import_extra("module", "extra", ...)` in the package."""
    calls = []
    for path in sorted((REPOSITORY / "style_transfer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_extra"
                    and len(node.args) >= 2
                    and all(isinstance(arg, ast.Constant) for arg in node.args[:2])):
                calls.append((path.relative_to(REPOSITORY).as_posix(), node.args[0].value,
                              node.args[1].value))
    return calls


def test_the_package_asks_for_extras_by_name():
    assert len(import_extra_calls()) >= 5


@pytest.mark.parametrize("where, module, extra", import_extra_calls())
def test_each_extra_brings_the_modules_that_name_it(where, module, extra):
    top_level = module.split(".")[0]
    distributions = importlib.metadata.packages_distributions().get(top_level)
    if distributions is None:
        pytest.skip(f"{top_level} is not installed here, so its distribution is unknown")
    declared = extras()
    assert extra in declared, f"{where} names the extra {extra!r}, which pyproject.toml lacks"
    names = {name.lower().replace("_", "-") for name in distributions}
    assert names & declared[extra], (
        f"{where} imports {module} from the {extra} extra, but [{extra}] does not require "
        f"{' or '.join(sorted(names))}")


def test_every_extra_of_the_install_lines_exists():
    """The extras the README and the guides tell users to install are declared."""
    declared = extras()
    documents = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]
    named = {extra for document in documents
             for group in re.findall(r"pip install [^\n`]*?\.\[([\w,]+)\]", document.read_text())
             for extra in group.split(",")}
    assert named and named <= set(declared), sorted(named - set(declared))


def test_the_web_extra_brings_the_photos_the_page_offers():
    """The page's bundled photos and style thumbnails are scikit-image's (`sample_photo`), so
    `[web]` alone must give a working page (a `[demo]` extra was needed before)."""
    web_sources = " ".join(path.read_text() for path in (REPOSITORY / "style_transfer" / "web")
                           .rglob("*.py"))
    assert "sample_photo" in web_sources
    assert "scikit-image" in extras()["web"]
