"""User-facing exception types: the CLI prints their message as one line and exits with 2."""

from __future__ import annotations

import importlib
from types import ModuleType


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


class MissingDependency(Align3rError):
    """An optional package is not installed: one line naming the extra that installs it."""


def require(module: str, extra: str, *, feature: str) -> ModuleType:
    """The module `module`, imported now.

    Args:
        module: its import name (`av`, `trimesh`, `viser`, `transformers`, ...).
        extra: the align3r extra that installs it (`pip install 'align3r[EXTRA]'`).
        feature: what needs it, for the message ("reading videos", "the viewer").

    Raises:
        MissingDependency: the package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise MissingDependency(f"{feature} needs {package}: pip install 'align3r[{extra}]'") from None
