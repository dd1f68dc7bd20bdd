"""Per-frame depth maps as 16-bit PNG with one scale for the video (never the official 8-bit
wrap-around `uint8(depth * 255)`), or as float32 npy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from align3r.atomic import atomic_save_npy, atomic_write, atomic_write_bytes
from align3r.io.export.frames import FrameSource
from align3r.io.export.options import ExportOptions, staged_folder

PNG16_MAX = 65535
SCALE_FILE = "depth_scale.json"


def max_depth(source: FrameSource) -> float:
    """Largest finite depth of the video (reads every frame once); 0 when there is none."""
    largest = 0.0
    for i in range(source.num_frames):
        depth = source.depth(i)
        valid = depth[np.isfinite(depth)]
        largest = max(largest, float(valid.max(initial=0.0)))
    return largest


def fitting_scale(largest: float) -> float:
    """Depth units per PNG count so that `largest` maps to 65535 (1 for a video without depth)."""
    return largest / PNG16_MAX if largest > 0 else 1.0


def depth_to_png16(depth: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) float depth -> (H, W) uint16 round(depth / scale); 0 where depth is not finite or <= 0.

    Depths above 65535 * scale saturate at 65535; the round trip error is at most scale / 2 below that.
    """
    valid = np.isfinite(depth) & (depth > 0)
    counts = np.round(np.where(valid, depth, 0) / scale)
    return np.clip(counts, 0, PNG16_MAX).astype(np.uint16)


def png16_to_depth(counts: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) uint16 -> (H, W) float32 depth = counts * scale (0 = no depth)."""
    return (counts.astype(np.float64) * scale).astype(np.float32)


def write_png16(path: Path, counts: np.ndarray) -> None:
    """Write a (H, W) uint16 array as a 16-bit greyscale PNG, atomically."""
    atomic_write(path, lambda tmp: Image.fromarray(counts).save(tmp, format="PNG"))


def export_depth(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """Folder `dest` with `<name>.png` (+ depth_scale.json) or `<name>.npy` per frame."""
    with staged_folder(dest, overwrite=options.overwrite) as stage:
        if options.depth_format == "npy":
            for i, name in enumerate(source.names):
                atomic_save_npy(stage / f"{name}.npy", source.depth(i).astype(np.float32))
            return [dest / f"{name}.npy" for name in source.names]
        scale = options.depth_scale or fitting_scale(max_depth(source))
        sidecar = {"scale": scale, "formula": "depth = png_value * scale", "invalid_value": 0,
                   "unit": "same as the reconstruction (metres with a metric prior, else one scale per video)"}
        atomic_write_bytes(stage / SCALE_FILE, json.dumps(sidecar, indent=2).encode())
        for i, name in enumerate(source.names):
            write_png16(stage / f"{name}.png", depth_to_png16(source.depth(i), scale))
    return [dest / f"{name}.png" for name in source.names] + [dest / SCALE_FILE]
