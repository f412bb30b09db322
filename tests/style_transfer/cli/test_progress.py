"""Progress bars: on standard error, only where a person watches (a terminal); standard output
keeps the commands' results alone."""

import io
import sys

import pytest

from style_transfer.cli import progress
from style_transfer.cli.main import main
from tests.style_transfer.builders import write_photo


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_is_drawn_on_standard_error_and_ends_its_line_when_cut_short(monkeypatch,
                                                                              capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert progress.watched()
    bar = progress.ProgressBar("frame")
    bar(1, 4)
    bar(2, 4)
    bar.close()
    assert "1/4" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert capsys.readouterr().out == ""
    finished = progress.ProgressBar("file")
    finished(3, 3)
    drawn = len(terminal.getvalue())
    finished.close()  # Keras ended its line on reaching the total
    assert len(terminal.getvalue()) == drawn


def test_nobody_watches_a_pipe_or_a_file(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.watched()


@pytest.mark.slow
@pytest.mark.parametrize("watching", [True, False])
def test_stylize_keeps_standard_output_for_its_results(monkeypatch, capsys, model_file, tmp_path,
                                                       watching):
    # `stylize photos/ --out painted/ > log.txt` filled the file with Keras's redrawn bar.
    photos = [write_photo(tmp_path / f"photo{i}.png") for i in range(2)]
    errors = Terminal() if watching else io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)
    assert main(["stylize", "--model", model_file, *map(str, photos), "--style", "wave",
                 "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == ""
    assert ("2/2" in errors.getvalue()) == watching, errors.getvalue()
