"""align3r: consistent depth, cameras and 4D point clouds from monocular dynamic videos."""

from align3r.model.checkpoint import load_model

__all__ = ["load_model"]
__version__ = "0.1.0"
