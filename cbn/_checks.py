"""Checks of constructor arguments: each raises a ValueError naming the layer, the argument,
the value received and what is expected."""

import itertools

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


# What a layer's config read from a file (`from_config`, `build_from_config`) may ask
# for: a file cannot make a layer allocate more than any model needs. A layer
# constructed in code is not bounded.
MAX_FILE_CONDITIONS = 2**20
MAX_FILE_MLP_LAYERS = 16
MAX_FILE_WIDTH = 2**16  # MLP units, channels, length of the conditioning vector
MAX_FILE_WEIGHTS = 2**28  # 1 GiB of float32
_VECTOR = "entries of the conditioning vector"


def config_within_file_bounds(layer_name, config):
    """Refuses a layer config whose table or MLP is larger than `MAX_FILE_*` allow."""
    conditions = config.get("num_conditions")
    if is_integer_value(conditions) and not 1 <= conditions <= MAX_FILE_CONDITIONS:
        raise ValueError(f"{layer_name}: a layer config may ask for 1 to "
                         f"{MAX_FILE_CONDITIONS} conditions (`num_conditions`); received "
                         f"{conditions!r}.")
    units = config.get("mlp_units")
    if isinstance(units, (list, tuple)) and (
            len(units) > MAX_FILE_MLP_LAYERS
            or any(is_integer_value(size) and size > MAX_FILE_WIDTH for size in units)):
        raise ValueError(f"{layer_name}: a layer config may ask for at most "
                         f"{MAX_FILE_MLP_LAYERS} hidden layers of at most {MAX_FILE_WIDTH} "
                         f"units (`mlp_units`); received {_short(units)}.")


def build_within_file_bounds(layer, build_config):
    """Refuses the shapes of a layer's `build_config` (read from a file) when building
    would create more than `MAX_FILE_WEIGHTS` weights or wider vectors than
    `MAX_FILE_WIDTH`."""
    shapes = build_config.get("shapes_dict") or {"inputs_shape": build_config.get("input_shape")}
    widths = {"channels": _last(shapes.get("inputs_shape"))}
    if not layer.uses_table:
        widths[_VECTOR] = _last(shapes.get("condition_shape"))
    for what, width in widths.items():
        if width is not None and not 1 <= width <= MAX_FILE_WIDTH:
            raise ValueError(f"{layer._describe()}: a layer config may build at most "
                             f"{MAX_FILE_WIDTH} {what}; received {width}.")
    channels = widths["channels"]
    if channels is None:
        return
    affine = (2 if layer._has_beta() else 1) * channels
    if layer.uses_table:
        count = layer.num_conditions * affine
    else:
        sizes = [widths.get(_VECTOR) or 1, *layer.mlp_units, affine]
        count = sum(inputs * outputs for inputs, outputs in itertools.pairwise(sizes))
    if count > MAX_FILE_WEIGHTS:
        raise ValueError(f"{layer._describe()}: a layer config may build at most "
                         f"{MAX_FILE_WEIGHTS:,} weights; this one would build {count:,}.")


def _last(shape):
    """The last entry of a shape from a config, if it is an integer."""
    if isinstance(shape, (list, tuple)) and shape and is_integer_value(shape[-1]):
        return int(shape[-1])
    return None


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
