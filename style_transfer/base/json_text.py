"""JSON from untrusted text (a model's config, a run's settings, a web request, TF_CONFIG):
one-line errors, and a bound on how deeply it nests.

Python's JSON parser and every recursive reader after it (Keras's deserializer,
the checks of this package) use a stack frame per level: a few kilobytes of
"[[[[..." exhaust it with a `RecursionError`. What this package reads nests a
few levels, so anything deeper is refused before it is used. Light: no
TensorFlow, no Keras.
"""

import json

from style_transfer.base.errors import BadInput

MAX_DEPTH = 32


def parse_json(text, what, max_depth=MAX_DEPTH):
    """The value of the JSON `text` (str or bytes).

    Args:
        text: The JSON text.
        what: What it is, for messages ("the request", "run.json of runs/a").
        max_depth: The most levels of lists and objects it may nest.

    Raises:
        BadInput: `text` is not JSON, or nests deeper than `max_depth`.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadInput(f"{what} nests lists or objects more than {max_depth} levels "
                       f"deep.") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise BadInput(f"{what} is not JSON: {error}.") from None
    check_depth(value, what, max_depth)
    return value


def check_depth(value, what, max_depth=MAX_DEPTH):
    """Refuses lists and dicts nested more than `max_depth` levels (checked without
    recursion, so that any depth is refused at once)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise BadInput(f"{what} nests lists or objects more than {max_depth} levels "
                               f"deep.")
            pending.extend((child, depth + 1) for child in children)
