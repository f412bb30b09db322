"""The options of the commands: strict number types, and the training commands' options
built from their config dataclasses.

Every field of a config (`style_transfer.training.config`) that has a `help` becomes an
option whose default is the field's default, so `--help`, the Python API and
run.json read each default from one place. A `LossConfig` field becomes the group
of loss options; `--style-weight` is one weight for every style layer.

Python's int() and float() accept more than a user means: "1_000", "٣" (an
Arabic-Indic three) and, for float(), "0_5" read as 5. Every number option takes
ASCII decimal numbers only, so a bad value is an argument error (one line, exit
2) before anything runs. Light: no TensorFlow, no Keras, so that `--help` and bad
arguments answer at once.
"""

import argparse
import dataclasses
import math
import re

from style_transfer.base.errors import BadInput
from style_transfer.base.settings import describe_range, parse_number, value_kind
from style_transfer.training.config import LossConfig

_INTEGER = re.compile(r"[+-]?[0-9]+")
# Longer numbers are refused before int() reads them (it refuses 4,300 digits itself,
# and such a number would fill the error line).
_MAX_DIGITS = 30


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: ...)" for options that have a default to show."""

    def _get_help_string(self, action):
        if action.required or action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def integer_at_least(minimum=None):
    """An argparse type: a whole number >= `minimum` (any whole number if None)."""

    def parse(text):
        if not _INTEGER.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"expected a whole number; received {text!r}")
        if len(text.strip().lstrip("+-")) > _MAX_DIGITS:
            raise argparse.ArgumentTypeError(f"expected a whole number of at most {_MAX_DIGITS} "
                                             f"digits; received one of {len(text.strip())}")
        value = int(text)
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}; received {value}")
        return value

    parse.__name__ = "whole number" if minimum is None else f"whole number >= {minimum}"
    return parse


def integer_between(low, high):
    """An argparse type: a whole number in [low, high]."""
    parse_integer = integer_at_least()

    def parse(text):
        value = parse_integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}; "
                                             f"received {value}")
        return value

    parse.__name__ = f"whole number from {low} to {high}"
    return parse


def decimal_number(text):
    """An argparse type: a decimal number ("0.5", "-1e-3", "inf"; the configs check ranges)."""
    try:
        return parse_number(text, "the value")
    except BadInput:
        raise argparse.ArgumentTypeError(f"expected a decimal number; received "
                                         f"{_shown(text)}") from None


def number_between(low, high, high_excluded=False):
    """An argparse type: a decimal number in [low, high] (finite; `high` itself refused
    if `high_excluded`)."""
    excluded = f", {high:g} excluded" if high_excluded else ""

    def parse(text):
        value = decimal_number(text)
        if not (math.isfinite(value) and low <= value <= high
                and not (high_excluded and value == high)):
            raise argparse.ArgumentTypeError(f"expected a number from {low:g} to {high:g}"
                                             f"{excluded}; received {_shown(text)}")
        return value

    parse.__name__ = f"number from {low:g} to {high:g}{excluded}"
    return parse


def _shown(text):
    """An argument as the error line quotes it: at most 40 characters."""
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def add_config_options(parser, config_class, fields=None, repeatable=()):
    """Adds an option for each field of `config_class` that has a `help`.

    Args:
        parser: The command's parser.
        config_class: A settings dataclass (`style_transfer.base.settings.option` fields).
        fields: The names of the fields to offer (default: every field with a help).
        repeatable: Names of fields whose option may be given several times here
            (a list of values), although the config holds one.

    Fields with a `group` go into that argument group (a title, or a (title,
    description) pair); fields that share an `exclusive` name into one mutually
    exclusive group.
    """
    groups, exclusive_groups = {}, {}
    for field in _option_fields(config_class):
        if fields is not None and field.name not in fields:
            continue
        metadata = field.metadata
        if metadata.get("loss_options"):
            group = parser.add_argument_group(metadata["help"])
            add_loss_options(group, field.default if metadata["loss_options"] == "defaults"
                             else None)
            continue
        target = parser
        if metadata.get("group"):
            title = metadata["group"]
            title, description = title if isinstance(title, tuple) else (title, None)
            if title not in groups:
                groups[title] = parser.add_argument_group(title, description)
            target = groups[title]
        if metadata.get("exclusive"):
            if metadata["exclusive"] not in exclusive_groups:
                exclusive_groups[metadata["exclusive"]] = target.add_mutually_exclusive_group()
            target = exclusive_groups[metadata["exclusive"]]
        _add_option(target, field, _default(field), repeat=field.name in repeatable)


def add_loss_options(parser, defaults):
    """Adds the loss options (the `LossConfig` fields that have a `help`) to `parser`.

    Args:
        parser: A parser or an argument group.
        defaults: The `LossConfig` holding the defaults, or None: every option
            then defaults to None, meaning "keep the model's own" (see
            `config_from_args`).
    """
    for field in _option_fields(LossConfig):
        default = None if defaults is None else getattr(defaults, field.name)
        if field.name == "style_layer_weights" and default is not None:
            default = default[0]
        _add_option(parser, field, default)


def config_from_args(config_class, args, **values):
    """The `config_class` of parsed arguments; `values` set fields the options do not.

    A field the options do not offer keeps its default.

    Raises:
        BadInput: a value the config refuses (before anything heavy is imported; the
            command line shows the fields it names, `field`, as options).
    """
    for field in _option_fields(config_class):
        kind = field.metadata.get("loss_options")
        if field.name in values or (not kind and not hasattr(args, field.name)):
            continue
        if kind == "defaults":
            loss = _loss_values(args)
            loss["style_layer_weights"] = ((loss["style_layer_weights"],)
                                           * len(loss["style_layers"]))
            values[field.name] = LossConfig(**loss)
        elif kind == "overrides":
            # One --style-weight stays one number: the model's layers decide how many.
            values[field.name] = {name: value for name, value in _loss_values(args).items()
                                  if value is not None}
        else:
            values[field.name] = getattr(args, field.name)
    return config_class(**values)


def add_run_options(parser, out_metavar, out_help):
    """--out, --resume and --quiet: where the run goes and how it runs, not what it is."""
    parser.add_argument("--out", required=True, metavar=out_metavar, help=out_help)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run from its last checkpoint (same settings and "
                        "files; --steps may grow)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _option_fields(config_class):
    return [field for field in dataclasses.fields(config_class) if field.metadata.get("help")]


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _flag(field):
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def _add_option(parser, field, default, repeat=False):
    metadata = field.metadata
    arguments = {"dest": field.name, "help": metadata["help"]}
    if default is dataclasses.MISSING:
        arguments["required"] = True
    elif metadata.get("action") == "append" or repeat:
        # A list grows from None (argparse would append to a shared default list).
        arguments.update(action="append", default=None)
        if repeat:
            arguments["help"] += "; repeat it for several"
        if default not in (None, ()):
            arguments["help"] += f" (default: {default})"
    else:
        # Lists print as lists in --help; the config turns them back into tuples.
        arguments["default"] = list(default) if isinstance(default, tuple) else default
    if isinstance(default, bool):
        parser.add_argument(_flag(field), action="store_true", **arguments)
        return
    for key in ("metavar", "nargs", "choices"):
        if key in metadata:
            arguments[key] = metadata[key]
    if metadata.get("once"):
        arguments["action"] = _Once
    arguments["type"] = _option_type(field)
    expected = describe_range(field)
    if expected is not None:
        arguments["help"] += f"; {expected}"
    parser.add_argument(_flag(field), **arguments)


class _Once(argparse._StoreAction):
    """An option that may be given once: argparse keeps the last of several values, so a
    second `--blend` (next to `--style`, which repeats) silently dropped the first."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = f"_{self.dest}_given"
        if getattr(namespace, given, False):
            raise argparse.ArgumentError(self, "given twice; it takes one value (the second "
                                         "replaced the first)")
        setattr(namespace, given, True)
        super().__call__(parser, namespace, values, option_string)


def _option_type(field):
    """The strict argparse type of a field's values, with its range if it has one.

    The type comes from the field's own default (or its `type`): an option that
    defaults to None ("keep the model's own") still parses numbers as numbers.
    """
    metadata = field.metadata
    kind = value_kind(field)
    low, high = metadata.get("minimum"), metadata.get("maximum")
    if kind is int:
        return integer_at_least(low) if high is None else integer_between(low, high)
    if kind is float:
        if low is None and high is None:
            return decimal_number
        return number_between(-math.inf if low is None else low,
                              math.inf if high is None else high,
                              metadata.get("maximum_excluded", False))
    return kind or str


def _loss_values(args):
    """The loss options of `args` as `LossConfig` fields (--style-weight: one number)."""
    return {field.name: getattr(args, field.name) for field in _option_fields(LossConfig)}


