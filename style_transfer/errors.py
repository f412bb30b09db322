"""The one exception type for bad user input: the command line turns it into a one-line error."""


class BadInput(ValueError):
    """A problem with what the user asked for (a path, a name, a value), not a bug.

    The message is one line that names the problem and what is expected; the
    command line prints it and exits with code 2, without a traceback.
    """
