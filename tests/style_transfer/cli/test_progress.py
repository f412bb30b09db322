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
    assert terminal.getvalue().startswith("\r1/4 [" + "=" * 7 + "." * 23 + "]")
    bar.close()
    assert terminal.getvalue().endswith("\n") and terminal.getvalue().count("\n") == 1
    assert capsys.readouterr().out == ""
    finished = progress.ProgressBar("file")
    finished(3, 3)  # the last update is drawn and ends its line
    assert terminal.getvalue().endswith("\n") and "3/3 [" + "=" * 30 + "]" in terminal.getvalue()
    drawn = terminal.getvalue()
    finished.close()
    assert terminal.getvalue() == drawn
    counter = progress.ProgressBar("frame")  # a video whose header gives no frame count
    counter(5, None)
    assert terminal.getvalue().rpartition("\n")[2].startswith("\r5 done, 0s")


def test_the_time_left_follows_the_rate():
    assert progress._line(10, 40, 5.0, "frame") == "10/40 [" + "=" * 7 + "." * 23 + \
        "] 15s left, 2.0 frame/s"
    assert progress._line(40, 40, 125.0, "frame").endswith("] 2:05, 0.3 frame/s")
    assert progress._duration(3725) == "1:02:05"


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
