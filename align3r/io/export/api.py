"""`export`: one entry for every format, used by `align3r export` and `align3r run --export`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from align3r.errors import InputError
from align3r.io.export.colmap import export_colmap
from align3r.io.export.depth import export_depth
from align3r.io.export.frames import FrameSource, open_source
from align3r.io.export.nerfstudio import NERFSTUDIO_DEPTH_UNIT, depth_unit, export_nerfstudio
from align3r.io.export.options import FORMATS, ExportFormat, ExportOptions, check_destination
from align3r.io.export.points import export_glb, export_ply
from align3r.io.export.video import export_mp4
from align3r.io.results import OutputFolder
from align3r.io.trajectory import write_trajectory
from align3r.reconstruction import Reconstruction
from align3r.settings import from_mapping

logger = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
"""Default destinations live in OUT/exports/."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and what it could not keep."""

    paths: list[Path]
    """Files and folders written."""
    notes: list[str]
    """One line per loss of information (e.g. moving objects left out), for the user."""


def default_destination(folder: Path, fmt: ExportFormat, options: ExportOptions) -> Path:
    """OUT/exports/<points.ply | ply/ | scene.glb | colmap/ | nerfstudio/ | depth/ | video.mp4 | trajectory_tum.txt>."""
    names = {"ply": "ply" if options.per_frame else "points.ply", "glb": "scene.glb", "colmap": "colmap",
             "nerfstudio": "nerfstudio", "depth": "depth", "mp4": "video.mp4", "tum": "trajectory_tum.txt"}
    return folder / EXPORTS_FOLDER / names[fmt]


def export_tum(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """Standard TUM trajectory (`t x y z qx qy qz qw`, camera-to-world, t = frame index), read by evo."""
    check_destination(dest, overwrite=options.overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stamps = np.arange(source.num_frames, dtype=np.float64)
    write_trajectory(dest, stamps, source.poses_c2w, fmt="tum")
    return [dest]


WRITERS: dict[ExportFormat, Callable[[FrameSource, Path, ExportOptions], list[Path]]] = {
    "ply": export_ply, "glb": export_glb, "colmap": export_colmap, "nerfstudio": export_nerfstudio,
    "depth": export_depth, "mp4": export_mp4, "tum": export_tum}


def loss_notes(source: FrameSource, fmt: ExportFormat, options: ExportOptions) -> list[str]:
    """One line per piece of information the export drops (empty when it keeps everything it claims)."""
    if fmt in ("colmap", "nerfstudio"):
        notes = [f"{fmt}: a static format; moving objects are left out of the points and masked (0) in masks/"]
        if fmt == "nerfstudio" and depth_unit(source, options) != NERFSTUDIO_DEPTH_UNIT:
            notes.append(f"nerfstudio: depth PNGs are in units of {depth_unit(source, options):.6g}; train with "
                         f"--pipeline.datamanager.dataparser.depth-unit-scale-factor {depth_unit(source, options):.6g}")
        return notes
    if fmt in ("ply", "glb") and not options.per_frame:
        kept = "moving objects dropped (static only)" if options.static_only else "moving objects smeared along paths"
        return [f"{fmt}: all frames fused into one static cloud; {kept}"]
    if fmt == "depth" and options.depth_format == "png16":
        return ["depth: 16-bit PNG quantises depth to the scale in depth_scale.json"]
    return []


def export(source: str | os.PathLike | Reconstruction | FrameSource, fmt: str, out: str | os.PathLike | None = None,
           **options: Any) -> ExportResult:
    """Export a reconstruction to a format other tools read.

    Args:
        source: an output folder (read lazily, frame by frame), a Reconstruction, or a FrameSource.
        fmt: ply | glb | colmap | nerfstudio | depth | mp4 | tum.
        out: destination file or folder; None: OUT/exports/<default name> (an output folder only).
        **options: `ExportOptions` fields (unknown names are errors).

    Raises:
        InputError: unknown format or option, no destination, destination taken without overwrite.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    settings = from_mapping(ExportOptions, options)
    frames = open_source(source)
    if out is None and not isinstance(frames, OutputFolder):
        raise InputError("export: pass a destination (out) when exporting a reconstruction held in memory")
    dest = Path(out) if out is not None else default_destination(frames.folder, fmt, settings)
    paths = WRITERS[fmt](frames, dest, settings)
    notes = loss_notes(frames, fmt, settings)
    for note in notes:
        logger.info(note)
    return ExportResult(paths=paths, notes=notes)
