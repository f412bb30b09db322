"""`style-transfer`: the command line, a thin layer over the Python API.

Each subcommand lives in `style_transfer/commands/` and registers itself here.
Bad input (`BadInput`, an existing output, an unreadable file) prints one line
and exits with code 2; anything else is a bug and shows its traceback.
"""

import argparse
import os
import signal
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from style_transfer.errors import BadInput  # noqa: E402

EXIT_BAD_INPUT = 2


def build_parser():
    from style_transfer.commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog="style-transfer",
        description="Multi-style feed-forward style transfer with conditional instance "
        "normalization (Keras 3).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return args.run(args) or 0
    except (BadInput, FileExistsError, FileNotFoundError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"style-transfer {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        # A training run stopped by SIGTERM says so (`run.RunInterrupted`): exit 143.
        signal_number = getattr(interrupt, "signal_number", signal.SIGINT)
        print(f"style-transfer {args.command}: interrupted", file=sys.stderr)
        return 128 + signal_number


def _one_line_warning(command):
    """Shows a library warning as one line of the command's, without the source line."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = (str(message).strip().splitlines() or [category.__name__])[0]
        print(f"style-transfer {command}: warning: {text}", file=sys.stderr)

    return show


if __name__ == "__main__":
    sys.exit(main())
