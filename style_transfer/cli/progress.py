"""The progress bars of the painting commands: on standard error, on a terminal only.

Keras's `Progbar` writes to standard output, carriage returns and colour codes included,
wherever that output goes: `style-transfer stylize photos/ --out painted/ > log.txt` filled
the file with redrawn bars. Progress is for a person watching, so the bar is drawn on
standard error, where the commands' other messages go, and only when that is a terminal;
standard output keeps the results alone (paths, JSON records). The bar writes to
`sys.stderr` itself (no redirection of `sys.stdout`, which would be process-wide: the
stylize-dataset and video bars are called from worker threads).
"""

import sys
import time

BAR_WIDTH = 30
# Redraw at most this often, but always the last update.
REDRAW_SECONDS = 0.1


def watched():
    """Whether a person watches the command: its standard error is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class ProgressBar:
    """Called as `bar(done, total)` (`total` may be `None`: a counter): one line on standard
    error, redrawn, with the rate and the time left; the line ends when `done` reaches
    `total`, or at `close`."""

    def __init__(self, unit_name):
        """Made as the work starts: the rate counts from then."""
        self.unit_name = unit_name
        self.started = time.monotonic()
        self.drawn_at = None
        self.width = 0
        self.finished = False

    def __call__(self, done, total):
        now = time.monotonic()
        self.finished = total is not None and done >= total
        if not self.finished and self.drawn_at is not None and (
                now - self.drawn_at < REDRAW_SECONDS):
            return
        self.drawn_at = now
        line = _line(done, total, now - self.started, self.unit_name)
        end = "\n" if self.finished else ""
        sys.stderr.write(f"\r{line}{' ' * max(0, self.width - len(line))}{end}")
        sys.stderr.flush()
        self.width = len(line)

    def close(self):
        """Ends the bar's line when it stopped short of its total, so that what follows
        starts a line of its own."""
        if self.drawn_at is not None and not self.finished:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _line(done, total, elapsed, unit_name):
    rate = done / elapsed if elapsed > 0 and done else None
    speed = f", {rate:.1f} {unit_name}/s" if rate else ""
    if not total:
        return f"{done} done, {_duration(elapsed)}{speed}"
    filled = BAR_WIDTH * min(done, total) // total
    bar = f"{done}/{total} [{'=' * filled}{'.' * (BAR_WIDTH - filled)}]"
    if done >= total or not rate:
        return f"{bar} {_duration(elapsed)}{speed}"
    return f"{bar} {_duration((total - done) / rate)} left{speed}"


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"
