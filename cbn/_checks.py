"""Checks of constructor arguments: each raises a ValueError naming the layer, the argument,
the value received and what is expected."""

import numpy as np


def is_integer_value(value):
    """A Python or numpy integer; `True` and `False` are not counts, sizes or ids."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real_number(value):
    """A Python or numpy integer or float (NaN included); not a bool, not a string."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def positive_number(layer, name, value):
    """`value` as a float, if it is a positive finite number."""
    if not is_real_number(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"{layer._describe()}: `{name}` must be a positive finite number; received "
            f"{value!r}."
        )
    return float(value)


def boolean(layer, name, value):
    """`value` as a bool, if it is one (`"no"` would otherwise count as `True`)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{layer._describe()}: `{name}` must be True or False; received {value!r}."
        )
    return bool(value)


def lookup(layer, name, identifier, get):
    """`get(identifier)` (a Keras activation or initializer getter), or an error naming `name`."""
    try:
        return get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{layer._describe()}: `{name}`: {error}") from None
