"""The progress bars of the painting commands: Keras's bar, on standard error, on a terminal.

Keras's `Progbar` writes to standard output, carriage returns and colour codes included,
wherever that output goes: `style-transfer stylize photos/ --out painted/ > log.txt` filled
the file with redrawn bars. Progress is for a person watching, so the bar is drawn on
standard error, where the commands' other messages go, and only when that is a terminal;
standard output keeps the results alone (paths, JSON records).
"""

import contextlib
import sys


def watched():
    """Whether a person watches the command: its standard error is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class ProgressBar:
    """Called as `bar(done, total)` (`total` may be `None`: a counter); Keras's bar on
    standard error, made on the first call, when the total is known."""

    def __init__(self, unit_name):
        self.unit_name = unit_name
        self.bar = None
        self.finished = False

    def __call__(self, done, total):
        self.finished = total is not None and done >= total
        with contextlib.redirect_stdout(sys.stderr):
            if self.bar is None:
                import keras

                self.bar = keras.utils.Progbar(total, unit_name=self.unit_name)
            self.bar.update(done)
        sys.stderr.flush()

    def close(self):
        """Ends the bar's line when it stopped short of its total (Keras ends it on
        reaching the total), so that what follows starts a line of its own."""
        if self.bar is not None and not self.finished:
            print(file=sys.stderr, flush=True)
