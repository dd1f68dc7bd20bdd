"""The simulated prior of a synthetic sequence written by `align3r synth`, read back from its files."""

from __future__ import annotations

from pathlib import Path

from align3r.prior.base import PriorKind
from align3r.prior.files import FilesPrior

STYLE_FOLDERS: dict[PriorKind, str] = {"depth_metric": "depth-pro", "disparity_affine": "depth-anything"}
"""The generator's prior style folder (`<sequence>/prior/<style>/`) holding each kind."""


def sequence_prior(folder: str | Path, kind: PriorKind = "depth_metric") -> FilesPrior:
    """The simulated prior of a sequence written by `align3r synth`: `<folder>/prior/<style>/<frame>.npz`."""
    return FilesPrior(Path(folder) / "prior" / STYLE_FOLDERS[kind], kind=kind, name=f"simulated:{folder}")
