"""Settings dataclasses: fields that are also command-line options, and the checks of their values.

The training configs (`style_transfer.training.config`) and the painting config
(`style_transfer.painting.config`) declare each setting once, with `option`: its
default is the default of the Python API, of the command line (whose options are
generated from the fields, `style_transfer.cli.options`) and of what a run records.
Constructing a config checks every value with the functions below, so a bad value
fails before anything is loaded. Light: no TensorFlow, no Keras.
"""

import dataclasses
import math
import numbers
import re

from style_transfer.base.errors import BadInput

# A weight is a plain decimal number (float() would also take "0_5", as 5, or "０.5").
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def parse_number(text, what):
    """A decimal number ("0.5", "-1e-3", "nan"): no "0_5", no digits other than 0-9.

    Args:
        text: The text.
        what: What the number is, for the message ("--blend weight of 'wave'").

    Raises:
        BadInput: `text` is not such a number.
    """
    if not NUMBER.fullmatch(str(text).strip()):
        raise BadInput(f"{what} is not a number: {str(text).strip()!r}.")
    return float(text)


# Every seed (the --seed options, the configs', RandomStyle's) is from 0 to MAX_SEED: the
# range that works wherever a seed flows. NumPy takes 0 to 2**32 - 1
# (keras.utils.set_random_seed seeds it), Keras's seed generators hold a seed as uint32 on
# JAX, int32 on PyTorch and int64 on TensorFlow, tf.random's stateless seeds int64, and
# training seeds its sample crops with seed + 1; stylize-dataset hashes its seed with the
# path and the copy (any integer would do there, the same range keeps one rule).
MAX_SEED = 2**31 - 1


def option(default=dataclasses.MISSING, help=None, **command_line):
    """A dataclass field that is also a command-line option (when it has `help`).

    `command_line` may give `flag` (default: --field-name), `metavar`, `nargs`,
    `choices` and `type` (needed when the default is None); `path=True` marks a
    file or folder (stored resolved in run.json); `resumable=True` a setting that
    may change when a run is resumed, because it does not change the result;
    `loss_options` ("defaults" or "overrides") a `LossConfig` (or a dict of
    overrides) that becomes the group of loss options; fields with the same
    `exclusive` name are mutually exclusive options; `once=True` an option that may not
    be repeated (a second value would replace the first). A number's `minimum` and
    `maximum` (with `maximum_excluded=True`, the maximum itself is refused) are
    its range: the option's type refuses other values before anything runs
    (`style_transfer.cli.options`), `--help` shows them, and `check_ranges`
    refuses them in the Python API.
    """
    metadata = {"help": help, **command_line}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def value_kind(field):
    """`int`, `float`, `str`, ... : the type of a field's values (of its items, for a
    tuple), from its `type` metadata or its default."""
    kind = field.metadata.get("type")
    if kind is not None:
        return kind
    if field.default is not dataclasses.MISSING:
        declared = field.default
    elif field.default_factory is not dataclasses.MISSING:
        declared = field.default_factory()
    else:
        return None
    if isinstance(declared, tuple):
        declared = declared[0] if declared else None
    return None if declared is None else type(declared)


def describe_range(field):
    """A field's range in words ("from 16 to 4096", "from 0 to 1, 1 excluded"), or None."""
    low, high = field.metadata.get("minimum"), field.metadata.get("maximum")
    low, high = (None if bound is None else _bound_text(bound) for bound in (low, high))
    if low is None and high is None:
        return None
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    excluded = f", {high} excluded" if field.metadata.get("maximum_excluded") else ""
    return f"from {low} to {high}{excluded}"


def _bound_text(bound):
    """An integer in full ("2147483647"), a float as "%g" ("0.001", "1e+15")."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def check_ranges(config):
    """Checks every field of the dataclass `config` that has a range (`minimum`,
    `maximum`; see `option`), and stores its value as an int or a float.

    Values of None (a setting left to the model) pass; a tuple is checked item by item.

    Raises:
        BadInput: `field` must be an integer (a number) in its range, naming the
            value received.
    """
    for field in dataclasses.fields(config):
        expected = describe_range(field)
        value = getattr(config, field.name)
        if expected is None or value is None:
            continue
        if isinstance(value, (tuple, list)):
            checked = tuple(_in_range(field, f"{field.name}[{index}]", item, expected)
                            for index, item in enumerate(value))
        else:
            checked = _in_range(field, field.name, value, expected)
        object.__setattr__(config, field.name, checked)


def _in_range(field, name, value, expected):
    integer = value_kind(field) is int
    low, high = field.metadata.get("minimum"), field.metadata.get("maximum")
    kind = numbers.Integral if integer else numbers.Real
    # Integers are compared as they are (float(10**400) would overflow).
    good = (not isinstance(value, bool) and isinstance(value, kind)
            and (isinstance(value, numbers.Integral) or math.isfinite(value))
            and (low is None or value >= low) and (high is None or value <= high)
            and not (field.metadata.get("maximum_excluded") and value == high))
    if not good:
        raise BadInput(f"`{name}` must be {'an integer' if integer else 'a finite number'} "
                       f"{expected}; received {shown_value(value)}.")
    return int(value) if integer else float(value)


def shown_value(value):
    """`repr(value)` as a message quotes it: at most 40 characters (a 400-digit number is
    shown cut)."""
    try:
        text = repr(value)
    except ValueError:  # An integer of more digits than Python converts to text.
        return "a number of thousands of digits"
    return text if len(text) <= 40 else text[:37] + "..."


def check_integer(name, value, minimum):
    """An integer >= `minimum` (NumPy's too), as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise BadInput(f"{name} must be an integer >= {minimum}; received {value!r}.")
    return int(value)


def check_number(name, value, minimum, inclusive=True):
    """A finite number above `minimum` (or at it, if `inclusive`), as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadInput(f"{name} must be a number; received {value!r}.")
    above = value >= minimum if inclusive else value > minimum
    if not (math.isfinite(value) and above):
        relation = ">=" if inclusive else ">"
        raise BadInput(f"{name} must be a finite number {relation} {minimum:g}; received "
                       f"{value!r}.")
    return float(value)


def check_seed(name, value):
    """A seed: an integer (NumPy's too) from 0 to `MAX_SEED`, as a Python int.

    Raises:
        BadInput (a ValueError): naming `name`, the range and the value received.
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or not 0 <= value <= MAX_SEED):
        raise BadInput(f"`{name}` must be an integer from 0 to {MAX_SEED}; received "
                       f"{shown_value(value)}.")
    return int(value)


def check_flag(name, value):
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be True or False; received {value!r}.")


def check_choice(name, value, choices):
    if value not in choices:
        raise BadInput(f"{name} must be one of {', '.join(choices)}; received {value!r}.")


def field_default(config_class, name):
    """The default of one field of a config class."""
    return next(field.default for field in dataclasses.fields(config_class) if field.name == name)


def json_ready(value):
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [json_ready(item) for item in value]
    return value
