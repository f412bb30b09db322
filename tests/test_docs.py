"""The documentation builds, and its links lead somewhere.

`mkdocs build --strict` fails on a broken link between the guides, a missing anchor, a
reference to an API object that does not exist and a docstring whose arguments do not
match the signature; the README and BENCHMARKS.md, which live outside the guides, have
their relative links checked here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# [text](target) links of markdown, and the images among them.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.slow
def test_the_guides_and_the_api_reference_build_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "api" / "models" / "index.html").is_file()


@pytest.mark.parametrize("document", ["README.md", "BENCHMARKS.md"])
def test_relative_links_of_the_top_level_documents_lead_to_files(document):
    text = (REPOSITORY / document).read_text()
    missing = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (REPOSITORY / target.split("#")[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{document} links to files that do not exist: {missing}"


def test_the_link_check_sees_a_missing_file():
    found = [target for target in LINK.findall("see [the guide](docs/nowhere.md) and "
                                               "[a site](https://example.org)")]
    assert found == ["docs/nowhere.md", "https://example.org"]


# Where a machine keeps its files (its temporary folder too): a committed file that names one
# was written for one machine.
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|mnt|tmp)/[\w.-]+")
TEXT_SUFFIXES = (".md", ".json", ".txt", ".ipynb", ".yml", ".toml", ".csv")


def committed_text_files():
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=REPOSITORY, capture_output=True,
                                text=True, timeout=60, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files cannot be listed")
    return [REPOSITORY / name for name in listed if name.endswith(TEXT_SUFFIXES)]


def test_no_committed_document_or_result_holds_a_machine_path():
    found = [f"{path.relative_to(REPOSITORY)}: {match.group(0)}"
             for path in committed_text_files() if path.is_file()
             for match in MACHINE_PATH.finditer(path.read_text(errors="replace"))]
    assert not found, "machine paths in committed files:\n" + "\n".join(found[:20])


def test_the_machine_path_check_sees_one():
    assert MACHINE_PATH.findall("<!-- python /work/wt-x/bench.py --data-dir ../shared/data -->"
                                ) == ["/work/wt-x"]
    assert MACHINE_PATH.findall("refused: ... in /tmp/tmpf93d0tyi/int8.tflite") == [
        "/tmp/tmpf93d0tyi"]
