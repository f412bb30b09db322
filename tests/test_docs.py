"""The documentation builds, and its links lead somewhere.

`mkdocs build --strict` fails on a broken link between the guides, a missing anchor, a
reference to an API object that does not exist and a docstring whose arguments do not
match the signature; the README and BENCHMARKS.md, which live outside the guides, have
their relative links checked here.
"""

import argparse
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


# The command lines the guides show: in ```bash blocks (continued lines joined, comments cut,
# one per `&&`) and in `style-transfer ...` code spans. bad_inputs.md shows wrong ones on purpose.
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
CODE_SPAN = re.compile(r"`(style-transfer [^`]+)`")
SHOWN_COMMAND = re.compile(r"(?:^|\s)style-transfer\s+(\S.*)")


def shown_command_lines(text):
    for block in BASH_BLOCK.findall(text):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            for part in line.split(" #")[0].split("&&"):
                match = SHOWN_COMMAND.search(part)
                if match:
                    yield match.group(1).split()
    for span in CODE_SPAN.findall(text):
        yield span.split()[1:]


def unknown_options(words):
    """The options of `style-transfer WORDS` that its command does not have (the words up
    to a `--`, after which Apache Beam's own options go); the command itself if unknown."""
    from style_transfer.cli.main import build_parser

    command, words = words[0], words[1:]
    if command.startswith("-"):
        return []
    commands = build_parser(command).commands
    if command not in commands:
        return [command]
    parser = commands[command]
    words = words[:words.index("--")] if "--" in words else words
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and words and words[0] in action.choices:
            parser = action.choices[words[0]]
    known = {flag for action in parser._actions for flag in action.option_strings}
    return [word for word in words
            if word.startswith("--") and word.split("=")[0].rstrip(".,;)") not in known]


GUIDES = ["README.md", *sorted(f"docs/{path.name}" for path in (REPOSITORY / "docs").glob("*.md")
                               if path.name != "bad_inputs.md")]


@pytest.mark.parametrize("document", GUIDES)
def test_the_command_lines_of_the_guides_name_real_commands_and_options(document):
    text = (REPOSITORY / document).read_text()
    wrong = [f"style-transfer {' '.join(words)}: {unknown}"
             for words in shown_command_lines(text) for unknown in [unknown_options(words)]
             if unknown]
    assert not wrong, f"{document} shows options its commands do not have:\n" + "\n".join(wrong)


def test_the_command_line_check_sees_a_wrong_option_and_command():
    text = ("```bash\nstyle-transfer stylize photo.jpg \\\n    --colour red --out x.png  # --no\n"
            "style-transfer stylze photo.jpg\n```\nand `style-transfer pretrained get x --form y`"
            "\n```bash\nstyle-transfer stylize-dataset in --out o -- --runner=FlinkRunner\n```")
    found = [unknown_options(words) for words in shown_command_lines(text)]
    assert found == [["--colour"], ["stylze"], [], ["--form"]]
