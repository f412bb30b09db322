"""Bad user input (`BadInput`: the command line turns it into a one-line error), and warnings."""


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


class TrainingDiverged(BadInput):
    """The training loss or the weights became infinite or NaN (settings too aggressive).

    The run stops at once; its last checkpoint, written before the values went
    bad, is kept, and no model is written.
    """


class WorkerLost(BadInput):
    """Another worker of a multi-worker run stopped (killed, crashed, unreachable).

    The run stops; its last checkpoint is kept, and every worker resumes from it
    when started again with --resume.
    """


class RandomWeightsWarning(UserWarning):
    """A network runs with seeded random weights: it trains, but far worse than with ImageNet's."""
