"""Style names: the rules a name must follow, and choosing a style by name or index.

A model's styles are named; a name is chosen on the command line (--style wave,
--blend wave=0.7,scream=0.3), so it must not hold what separates names and
weights there, nor be all digits (digits choose a style by index).
"""

import re

import numpy as np

from style_transfer.base.errors import BadInput

MAX_STYLE_NAME_LENGTH = 100


def check_style_name(name):
    """Refuses a style name that could not be chosen on the command line.

    A name is 1 to `MAX_STYLE_NAME_LENGTH` printable characters without
    surrounding spaces; it has no ',' or '=' (they separate the styles and
    weights of --blend and --mask-styles), no '/' or '\\' (a picture's file name
    holds its style's name) and is not all digits (digits choose a style by
    index). Names read from a model file are checked as names given on the
    command line are (`StyleTransferNetwork.from_config`).

    Raises:
        BadInput: naming the name and the rule it breaks.
    """
    if not isinstance(name, str):
        raise BadInput(f"a style name is text; received {name!r}.")
    problem = None
    if not name.strip():
        problem = "it is empty"
    elif name != name.strip():
        problem = "it begins or ends with a space"
    elif not name.isprintable():
        problem = "it has a line break, tab or other control character"
    elif "," in name or "=" in name:
        problem = "',' and '=' separate styles and weights in --blend and --mask-styles"
    elif "/" in name or "\\" in name:
        problem = "'/' and '\\' separate folders in the file names pictures are saved under"
    elif INDEX.fullmatch(name):
        problem = "it is all digits, which choose a style by index"
    elif len(name) > MAX_STYLE_NAME_LENGTH:
        problem = f"it is longer than {MAX_STYLE_NAME_LENGTH} characters"
    if problem:
        raise BadInput(f"style name {name!r} cannot be used: {problem}.")
    return name


def check_style_names(names, taken=()):
    """Checks every name (`check_style_name`) and that no two, nor one and a name in
    `taken` (the styles a model already has), are equal; returns the names as a list.

    Raises:
        BadInput: the first bad or repeated name.
    """
    names = [check_style_name(name) for name in names]
    seen = set(taken)
    for name in names:
        if name in seen:
            raise BadInput(f"there are two styles named {name!r}; every style needs its own "
                           f"name.")
        seen.add(name)
    return names


def style_index(style, style_names):
    """The index of a style given by name or by index (an int, or a string of ASCII digits).

    Raises:
        BadInput: an unknown name (the message lists the available ones) or an
            index outside [0, num_styles).
    """
    num_styles = len(style_names)
    if isinstance(style, (int, np.integer)) or (isinstance(style, str)
                                                and INDEX.fullmatch(style.strip())):
        index = int(style)
        if not 0 <= index < num_styles:
            raise BadInput(
                f"style index {index} is out of range: the model has {num_styles} styles "
                f"(0 to {num_styles - 1})."
            )
        return index
    name = str(style).strip()
    if name in style_names:
        return list(style_names).index(name)
    raise BadInput(
        f"unknown style {name!r}; the model's styles are: {', '.join(style_names)}."
    )


# A style is chosen by index with ASCII digits only (int() would also take "٣").
INDEX = re.compile(r"[0-9]+")
