"""How a refused command must end: exit code 2, one error line, nothing written."""

from style_transfer.cli import main as cli


def snapshot(folder):
    """Every file under `folder` with its bytes and modification time (None: no folder)."""
    if not folder.exists():
        return None
    return {path.relative_to(folder): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_refused(capsys, command_line, folder, expected_words):
    """`style-transfer COMMAND_LINE` exits with 2 and one error line (after the warnings of
    what it loaded, if any) holding `expected_words`, and leaves `folder` as it was."""
    before = snapshot(folder)
    try:
        code = cli.main(command_line)
    except SystemExit as exit:  # An option's type refused the value (argparse).
        code = exit.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    prefix = f"style-transfer {command_line[0]}:"
    assert lines and all(line.startswith(f"{prefix} warning:") for line in lines[:-1]), lines
    assert lines[-1].startswith(f"{prefix} error:"), lines
    for word in expected_words:
        assert word in lines[-1], lines
    assert snapshot(folder) == before
