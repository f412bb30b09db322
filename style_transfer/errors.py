"""The one exception type for bad user input: the command line turns it into a one-line error."""


class BadInput(ValueError):
    """A problem with what the user asked for (a path, a name, a value), not a bug.

    The message is one line that names the problem and what is expected; the
    command line prints it and exits with code 2, without a traceback.
    """


def first_line(error, limit=200):
    """The first line of an exception's message (at most `limit` characters), to quote it
    inside a one-line `BadInput`."""
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else ""
