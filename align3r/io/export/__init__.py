"""Exports of a reconstruction to the formats other tools read: PLY, GLB, COLMAP, nerfstudio,
depth maps, a side-by-side MP4 and TUM trajectories."""

from align3r.io.export.api import ExportResult, export
from align3r.io.export.options import FORMATS, ExportFormat, ExportOptions

__all__ = ["FORMATS", "ExportFormat", "ExportOptions", "ExportResult", "export"]
