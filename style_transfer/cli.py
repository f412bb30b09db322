"""`style-transfer`: the command line, a thin layer over the Python API.

Each subcommand lives in `style_transfer/commands/` and registers itself here.
Bad input (`BadInput`, an existing output, an unreadable file) prints one line
and exits with code 2; anything else is a bug and shows its traceback.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from style_transfer.errors import BadInput  # noqa: E402

EXIT_BAD_INPUT = 2


def build_parser(command=None):
    """The parser of every command, or only of `command` when one is named (faster to build)."""
    from style_transfer.commands import COMMAND_MODULES, command_modules

    parser = argparse.ArgumentParser(
        prog="style-transfer",
        description="Multi-style feed-forward style transfer with conditional instance "
        "normalization (Keras 3).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [command] if command in COMMAND_MODULES else None
    for module in command_modules(names):
        module.register(subparsers)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((word for word in argv if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (BadInput, FileExistsError, FileNotFoundError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"style-transfer {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"style-transfer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
