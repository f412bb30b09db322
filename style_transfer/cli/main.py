"""`style-transfer`: the command line, a thin layer over the Python API.

It starts instantly: the arguments are parsed before TensorFlow, Keras or
matplotlib is imported. `style-transfer --help` imports no command module;
`style-transfer COMMAND ...` imports that command's module only (the registry
is `style_transfer.cli.commands.COMMANDS`), whose `run` imports the heavy machinery.

What it prints:
- bad input (`BadInput`, an argument error, an operating-system error such as a
  read-only folder) is one line, `style-transfer COMMAND: error: ...`, and exit
  code 2; anything else is a bug and shows its traceback;
- no log lines of TensorFlow and no library warnings unless --verbose
  (`style_transfer.cli.library_logs`); this project's warnings are one line each;
- Ctrl-C or SIGTERM: `COMMAND: interrupted`, exit code 130 or 143, and no temporary
  file left behind.
"""

import argparse
import contextlib
import importlib
import re
import signal
import sys
import threading
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.cli.commands import COMMANDS
from style_transfer.cli.options import HelpFormatter

PROGRAM = "style-transfer"
EXIT_BAD_INPUT = 2


class CommandParser(argparse.ArgumentParser):
    """The parser of `style-transfer` and of each command: one look, one-line errors.

    Every command gets --verbose, and the same help formatter whatever its module
    asks for, so that every --help shows its defaults the same way.
    """

    def __init__(self, *args, is_command=True, **kwargs):
        kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)
        if is_command:
            self.add_argument("--verbose", action="store_true",
                              help="show the log lines and warnings of TensorFlow and "
                              "the other libraries")

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command=None):
    """The parser of `style-transfer`; only `command`'s module is imported (none if None).

    The other commands get a placeholder parser with their summary, which is all
    `style-transfer --help` shows of them.
    """
    parser = CommandParser(
        prog=PROGRAM, is_command=False,
        description="Multi-style feed-forward style transfer with conditional instance "
        "normalization (Keras 3). Run `style-transfer COMMAND --help` for a command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=CommandParser)
    if command in COMMANDS:
        module_name, _ = COMMANDS[command]
        importlib.import_module(module_name).register(subparsers)
    for name, (_, summary) in COMMANDS.items():
        if name not in subparsers.choices:
            subparsers.add_parser(name, help=summary)
    parser.commands = subparsers.choices
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(argument) for argument in argv]
    command = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(command)
    args, unknown = parser.parse_known_args(argv)
    pass_through = getattr(parser.commands.get(args.command), "pass_through", None)
    if pass_through and "--" in unknown:
        # What follows `--` once INPUT and the options are parsed is another program's
        # (argparse leaves it unparsed when an option came between INPUT and `--`).
        split = unknown.index("--")
        setattr(args, pass_through, [*getattr(args, pass_through), *unknown[split + 1:]])
        unknown = unknown[:split]
    if unknown:
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    program = f"{PROGRAM} {args.command}"
    from style_transfer.cli.keras_backend import check_keras_backend, skip_optional_integrations
    from style_transfer.cli.library_logs import quiet_libraries, show_project_log

    skip_optional_integrations()
    show_project_log(program)
    if not args.verbose:
        quiet_libraries(program)
    try:
        # Before Keras is imported: a backend the command cannot run on fails in one line.
        check_keras_backend(args.command, getattr(args, "needs_tensorflow", False))
        with _terminate_as_interrupt():
            return args.run(args) or 0
    except BadInput as error:
        return _fail(program, as_options(str(error), parser.commands[args.command]), argv)
    except OSError as error:
        # The commands check their paths and `files` names the destination of a
        # failed write; this is the net for what slips through (a full disk on read).
        from style_transfer.base.files import os_error_line

        return _fail(program, os_error_line(error), argv)
    except KeyboardInterrupt as interrupt:
        # A training run stopped by SIGTERM says so (`run.RunInterrupted`): exit 143.
        signal_number = getattr(interrupt, "signal_number", signal.SIGINT)
        _ignore_further_interrupts()
        print(f"{program}: interrupted", file=sys.stderr)
        return 128 + signal_number


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (`kill`, `timeout`, a service manager) stops a command as Ctrl-C does: a
    KeyboardInterrupt that removes what the command was writing (a video's temporary
    file, standard input's copy) on its way out, and exit code 143. Python's default
    ends the process at once and left them behind. A training run installs its own
    handler over this one while it trains (a checkpoint first, `training.run`)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN):
        yield
        return

    def interrupt(signal_number, frame):
        stop = KeyboardInterrupt()
        stop.signal_number = signal_number
        raise stop

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore_further_interrupts():
    """Once stopped, another Ctrl-C while the libraries' threads wind down would only
    print a traceback from Python's shutdown (or end the process before its exit code):
    the command is stopping already."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def as_options(message, parser):
    """`message` with the settings it names in backquotes (`max_size`) as the options of
    `parser` that set them (--max-size), and without the backquotes where no option sets them:
    the library speaks of its arguments, the command line of its options."""
    flags = {}
    parsers = [parser]
    while parsers:  # a command's own sub-commands (`pretrained get`) hold options too
        for action in parsers.pop()._actions:
            long_options = [option for option in action.option_strings
                            if option.startswith("--")]
            if long_options:
                flags.setdefault(action.dest, long_options[0])
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    # A setting the command has no option for is named plainly (the command sets it itself).
    return re.sub(r"`(\w+)`", lambda match: flags.get(match.group(1), match.group(1)), message)


def _fail(program, message, argv=()):
    message = _with_arguments_escaped(message, argv)
    first_line = message.strip().splitlines()[0] if message.strip() else "bad input"
    print(f"{program}: error: {first_line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _with_arguments_escaped(message, argv):
    """`message` with the line breaks and other control characters of the arguments it
    quotes (a file named "bad\\nname.png", or a folder of its path) written as escapes:
    only the error's first line is shown, and a file name's line break cut it short of
    the problem ("Cannot read image bad")."""
    quoted = set()
    for argument in argv:
        if not argument.isprintable():
            quoted |= {argument, str(Path(argument)),
                       *(part for part in Path(argument).parts if not part.isprintable())}
    for raw in sorted(quoted, key=len, reverse=True):
        message = message.replace(raw, "".join(character if character.isprintable()
                                               else repr(character)[1:-1]
                                               for character in raw))
    return message


if __name__ == "__main__":
    sys.exit(main())
