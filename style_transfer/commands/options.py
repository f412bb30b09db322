"""Argument types shared by the commands: strict numbers, checked as argparse parses them.

Python's int() and float() accept more than a user means: "1_000", "٣" (an
Arabic-Indic three) and, for float(), "0_5" read as 5. These take ASCII
decimal numbers only, and check the range, so a bad value is an argument error
(one line, exit 2) before anything runs.
"""

import argparse
import math
import re

_INTEGER = re.compile(r"[+-]?[0-9]+")


def integer_at_least(minimum):
    """An argparse type: a whole number >= `minimum`."""

    def parse(text):
        if not _INTEGER.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"expected a whole number; received {text!r}")
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}; received {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def number_between(low, high):
    """An argparse type: a decimal number in [low, high] (finite)."""

    def parse(text):
        from style_transfer.conditions import parse_number
        from style_transfer.errors import BadInput

        try:
            value = parse_number(text, "the value")
        except BadInput:
            raise argparse.ArgumentTypeError(
                f"expected a decimal number; received {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected a number from {low:g} to {high:g}; "
                                             f"received {text!r}")
        return value

    parse.__name__ = f"number from {low:g} to {high:g}"
    return parse
