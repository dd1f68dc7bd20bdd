"""nerfstudio dataset folder: `transforms.json`, `images/`, `depth/` (16-bit PNG), `masks/` and
`sparse_pc.ply` (static points, nerfstudio's `ply_file_path`, used to initialise splatfacto).

Poses are OpenGL camera-to-world (`align3r.io.export.conventions`), intrinsics per frame with
half-integer pixel centres. Moving objects: 0 in `masks/` (nerfstudio ignores those pixels) and
left out of the point cloud.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from align3r.atomic import atomic_write_bytes
from align3r.io.export.colmap import write_image, write_static_mask
from align3r.io.export.conventions import opencv_to_opengl_c2w, pinhole_params
from align3r.io.export.depth import PNG16_MAX, depth_to_png16, max_depth, write_png16
from align3r.io.export.frames import FrameSource
from align3r.io.export.options import ExportOptions, staged_folder
from align3r.io.export.points import fused_points, ply_bytes

NERFSTUDIO_DEPTH_UNIT = 1e-3
"""nerfstudio's default `depth_unit_scale_factor` (PNG counts are millimetres)."""


def depth_unit(source: FrameSource, options: ExportOptions) -> float:
    """Depth units per PNG count: the option, else millimetres when the largest depth fits, else
    the smallest unit that fits (the CLI then names nerfstudio's flag to pass)."""
    if options.depth_scale is not None:
        return options.depth_scale
    return max(NERFSTUDIO_DEPTH_UNIT, max_depth(source) / PNG16_MAX)


def transforms(source: FrameSource, unit: float) -> dict[str, Any]:
    """The transforms.json mapping: per-frame intrinsics and OpenGL c2w, relative file paths."""
    params = pinhole_params(source.intrinsics)  # (N, 4) fx fy cx cy
    c2w_gl = opencv_to_opengl_c2w(source.poses_c2w)  # (N, 4, 4)
    height, width = source.size
    frames = [{"file_path": f"images/{name}.png", "depth_file_path": f"depth/{name}.png",
               "mask_path": f"masks/{name}.png", "transform_matrix": c2w_gl[i].tolist(),
               "fl_x": params[i, 0], "fl_y": params[i, 1], "cx": params[i, 2], "cy": params[i, 3],
               "w": width, "h": height} for i, name in enumerate(source.names)]
    return {"camera_model": "OPENCV", "depth_unit_scale_factor": unit, "ply_file_path": "sparse_pc.ply",
            "frames": frames}


def export_nerfstudio(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """Write the nerfstudio folder `dest` (layout in the module docstring)."""
    unit = depth_unit(source, options)
    with staged_folder(dest, overwrite=options.overwrite) as stage:
        for folder in ("images", "depth", "masks"):
            (stage / folder).mkdir()
        for i, name in enumerate(source.names):
            write_image(source, i, stage / "images" / f"{name}.png", mode=options.images)
            write_png16(stage / "depth" / f"{name}.png", depth_to_png16(source.depth(i), unit))
            write_static_mask(source, i, stage / "masks" / f"{name}.png")
        points = fused_points(source, min_conf=options.min_conf, static_only=True, max_points=options.max_points,
                              seed=options.seed)
        atomic_write_bytes(stage / "sparse_pc.ply", ply_bytes(points))
        atomic_write_bytes(stage / "transforms.json", json.dumps(transforms(source, unit), indent=2).encode())
    return [dest / "transforms.json"]
