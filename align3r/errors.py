"""User-facing exception types: the CLI prints their message as one line and exits with 2."""


class Align3rError(Exception):
    """A mistake in what the user gave us (a file, a name, a flag): one line, what and what to do."""


class InputError(Align3rError):
    """An input file, folder or array is missing, unreadable or malformed."""


class CheckpointError(Align3rError):
    """A checkpoint cannot be loaded: truncated, unsafe, or of another architecture."""


class ModelNotFoundError(Align3rError):
    """A model name cannot be resolved (unknown, or not cached while offline)."""


class ReconstructionError(Align3rError):
    """The reconstruction failed on valid input (e.g. alignment diverged on unusable predictions)."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (for one-line reports)."""
    text = str(err)
    return text.splitlines()[0] if text else type(err).__name__
