"""Export settings (one frozen dataclass, shared by the CLI and `align3r run --export`) and the
destination rules: a file is written atomically, a folder is built beside its destination and
moved into place at the end, so a failed export leaves nothing half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from align3r.errors import InputError

ExportFormat = Literal["ply", "glb", "colmap", "nerfstudio", "depth", "mp4", "tum"]
FORMATS: tuple[ExportFormat, ...] = ("ply", "glb", "colmap", "nerfstudio", "depth", "mp4", "tum")


@dataclass(frozen=True)
class ExportOptions:
    """What to keep and how to write it; each format reads the fields that apply to it."""

    min_conf: float = 1.0
    """Raw-confidence threshold for points (ply, glb, colmap, nerfstudio); 1 keeps every pixel."""
    static_only: bool = False
    """ply, glb: drop points under the dynamic masks (colmap and nerfstudio always do)."""
    per_frame: bool = False
    """ply: one file per frame in a folder instead of one fused file."""
    max_points: int = 2_000_000
    """Most points in one file; a fused cloud takes an equal share from every frame."""
    images: Literal["copy", "link"] = "copy"
    """colmap, nerfstudio: copy the frames' images, or symbolic links to the output folder's."""
    depth_format: Literal["png16", "npy"] = "png16"
    """depth: 16-bit PNG (depth = value * scale, scale in depth_scale.json, 0 = no depth) or float32 npy."""
    depth_scale: float | None = None
    """depth, nerfstudio: depth units per PNG count; None: the video's largest depth maps to 65535
    (depth), millimetres when they fit (nerfstudio)."""
    fps: float = 10.0
    """mp4: frames per second."""
    overwrite: bool = False
    """Replace an existing destination."""
    seed: int = 0
    """Seed of the point subsampling (same seed, same points)."""

    def __post_init__(self) -> None:
        checks = [(self.min_conf >= 0, f"min_conf must be >= 0 (got {self.min_conf})"),
                  (self.max_points > 0, f"max_points must be positive (got {self.max_points})"),
                  (self.images in ("copy", "link"), f"images must be copy or link (got {self.images!r})"),
                  (self.depth_format in ("png16", "npy"),
                   f"depth_format must be png16 or npy (got {self.depth_format!r})"),
                  (self.depth_scale is None or self.depth_scale > 0,
                   f"depth_scale must be positive (got {self.depth_scale})"),
                  (self.fps > 0, f"fps must be positive (got {self.fps})")]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


def check_destination(dest: Path, *, overwrite: bool) -> None:
    """Raise InputError when `dest` holds something (a file, or a non-empty folder) and not `overwrite`."""
    taken = dest.is_file() or dest.is_symlink() or (dest.is_dir() and any(dest.iterdir()))
    if taken and not overwrite:
        raise InputError(f"{dest} already exists; pass --overwrite to replace it or -o to choose another destination")


@contextmanager
def staged_folder(dest: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield an empty hidden folder beside `dest`; on success it replaces `dest`, on error it is removed.

    Raises:
        InputError: `dest` holds something and not `overwrite`.
    """
    check_destination(dest, overwrite=overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    try:
        yield stage
        if dest.is_dir() and not dest.is_symlink():
            old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-"))
            os.replace(dest, old / dest.name)
            os.replace(stage, dest)
            shutil.rmtree(old)
        else:
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
