"""align3r: consistent depth, cameras and 4D point clouds from monocular dynamic videos.

The public API, imported on first use (PEP 562), so that `import align3r` and `align3r --help`
load no torch:

    model = align3r.load_model("align3r-depthanything")     # or "tiny", a .pth, a folder, a hub id
    prior = align3r.load_prior("depth-anything-v2-large")   # or "depth-pro", "files:DIR"
    rec = align3r.reconstruct(frames, model, prior, align3r.ReconstructConfig())
    align3r.save_reconstruction(rec, "out/")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "align3r.model.checkpoint",
    "load_prior": "align3r.prior",
    "reconstruct": "align3r.pipeline.reconstruct",
    "ReconstructConfig": "align3r.pipeline.reconstruct",
    "Reconstruction": "align3r.reconstruction",
    "KnownInputs": "align3r.io.known_inputs",
    "save_reconstruction": "align3r.io.results",
    "load_reconstruction": "align3r.io.results",
}
"""Public name -> the module that defines it."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'align3r' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
