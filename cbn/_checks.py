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


FLOAT32 = np.finfo(np.float32)


def positive_number(layer, name, value):
    """`value` as a float, if it is a positive number that float32 holds (the statistics are
    float32: 1e-50 would become 0 there, and a constant input would divide by zero)."""
    if not is_real_number(value) or not FLOAT32.tiny <= value <= FLOAT32.max:
        raise ValueError(
            f"{layer._describe()}: `{name}` must be a positive finite number that float32 "
            f"can hold ({FLOAT32.tiny:.2g} to {FLOAT32.max:.2g}); received {value!r}."
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
