"""Frame access shared by the exports and the viewer: one interface over an output folder (lazy)
or an in-memory Reconstruction, world points of one frame with filters, and colour maps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from align3r.io.results import OutputFolder
from align3r.reconstruction import Reconstruction

ColourMode = Literal["rgb", "confidence", "dynamic"]
SAMPLE_FRAMES = 16
"""Frames read (evenly spaced) to fix a colour range for a whole video."""


class FrameSource(Protocol):
    """Per-frame access to a reconstruction; `OutputFolder` reads each call from disk."""

    names: list[str]
    size: tuple[int, int]
    poses_c2w: np.ndarray
    intrinsics: np.ndarray
    meta: dict[str, Any]

    @property
    def num_frames(self) -> int: ...
    def depth(self, i: int) -> np.ndarray: ...
    def conf(self, i: int) -> np.ndarray: ...
    def image(self, i: int) -> np.ndarray: ...
    def dynamic_mask(self, i: int) -> np.ndarray: ...


class InMemoryFrames:
    """A Reconstruction behind the `FrameSource` interface (for `align3r run --export`)."""

    def __init__(self, rec: Reconstruction) -> None:
        self.rec = rec
        self.names = list(rec.names)
        self.size = (rec.depths.shape[1], rec.depths.shape[2])
        self.poses_c2w = rec.poses_c2w
        self.intrinsics = rec.intrinsics
        self.meta = rec.meta

    @property
    def num_frames(self) -> int:
        return self.rec.num_frames

    def depth(self, i: int) -> np.ndarray:
        return self.rec.depths[i]

    def conf(self, i: int) -> np.ndarray:
        return self.rec.conf[i]

    def image(self, i: int) -> np.ndarray:
        return self.rec.images[i]

    def dynamic_mask(self, i: int) -> np.ndarray:
        return self.rec.dynamic_masks[i]


def open_source(source: str | os.PathLike | Reconstruction | FrameSource) -> FrameSource:
    """An output folder path (opened lazily), a Reconstruction, or a FrameSource as is.

    Raises:
        InputError: the path is not a reconstruction folder.
    """
    if isinstance(source, Reconstruction):
        return InMemoryFrames(source)
    if isinstance(source, str | os.PathLike):
        return OutputFolder(source)
    return source


def image_file(source: FrameSource, i: int) -> Path | None:
    """The PNG file of frame i's image when `source` is an output folder (official name
    `frame_%04d_rgb.png`), else None."""
    if isinstance(source, OutputFolder):
        return source.folder / f"frame_{i:04d}_rgb.png"
    return None


@dataclass(frozen=True)
class FramePoints:
    """The kept pixels of one frame as world points (P of them)."""

    pts_world: np.ndarray
    """(P, 3) float32 world points."""
    rgb: np.ndarray
    """(P, 3) uint8 colours from the frame's image."""
    conf: np.ndarray
    """(P,) float32 raw confidence (>= 1)."""
    dynamic: np.ndarray
    """(P,) bool: the pixel is on a moving object."""
    pixels: np.ndarray
    """(P, 2) int64 pixel (u, v) = (column, row) each point comes from."""

    def subset(self, index: np.ndarray | slice) -> FramePoints:
        """The points picked by a (P,) bool mask, an index array or a slice."""
        return FramePoints(**{name: getattr(self, name)[index] for name in FIELDS})

    @staticmethod
    def concatenate(parts: list[FramePoints]) -> FramePoints:
        """All points of `parts`, in order."""
        return FramePoints(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in FIELDS})


FIELDS = ("pts_world", "rgb", "conf", "dynamic", "pixels")
"""The per-point arrays of FramePoints, for selecting or concatenating them together."""


def frame_points(source: FrameSource, i: int, *, min_conf: float = 1.0, static_only: bool = False,
                 max_points: int | None = None, seed: int = 0) -> FramePoints:
    """World points of frame i with confidence >= `min_conf` and a finite, positive depth.

    Args:
        source: the reconstruction.
        i: frame index.
        min_conf: raw-confidence threshold (1 keeps every pixel).
        static_only: drop pixels under the dynamic mask.
        max_points: keep at most this many, drawn uniformly without replacement (seeded by
            `seed` and i, so the same call gives the same points).
        seed: seed of that draw.
    """
    depth, conf = source.depth(i), source.conf(i)
    keep = np.isfinite(depth) & (depth > 0) & (conf >= min_conf)
    dynamic = source.dynamic_mask(i)
    if static_only:
        keep &= ~dynamic
    rows, cols = np.nonzero(keep)
    if max_points is not None and len(rows) > max_points:
        pick = np.sort(np.random.default_rng([seed, i]).choice(len(rows), size=max_points, replace=False))
        rows, cols = rows[pick], cols[pick]
    # geometry.unproject_depth and transform_points on the kept pixels only, as one numpy matrix product
    # (the whole image through torch costs ~10x more; tests compare with Reconstruction.points_world)
    k, c2w, z = source.intrinsics[i], source.poses_c2w[i], depth[rows, cols].astype(np.float64)
    pts_cam = np.stack([(cols - k[0, 2]) * z / k[0, 0], (rows - k[1, 2]) * z / k[1, 1], z], axis=1)  # (P, 3) camera i
    pts_world = pts_cam @ c2w[:3, :3].T + c2w[:3, 3]  # (P, 3) world
    return FramePoints(pts_world=pts_world.astype(np.float32), rgb=source.image(i)[rows, cols],
                       conf=conf[rows, cols].astype(np.float32), dynamic=dynamic[rows, cols],
                       pixels=np.stack([cols, rows], axis=1).astype(np.int64))


def colourise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values (*,) linearly from [lo, hi] (clipped) through the turbo colour map -> (*, 3) uint8 RGB."""
    import cv2

    scaled = np.clip((values.astype(np.float64) - lo) / max(hi - lo, 1e-12), 0, 1)
    levels = np.round(scaled * 255).astype(np.uint8).reshape(-1, 1)
    bgr = cv2.applyColorMap(levels, cv2.COLORMAP_TURBO).reshape(-1, 3)
    return bgr[:, ::-1].reshape(values.shape + (3,)).copy()


def sampled_range(source: FrameSource, kind: Literal["depth", "log_conf"], *,
                  percentiles: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """One colour range for the whole video from up to `SAMPLE_FRAMES` evenly spaced frames.

    `kind` "depth" uses valid (finite, positive) depths, "log_conf" the log of the confidence.
    """
    frames = np.unique(np.linspace(0, source.num_frames - 1, min(SAMPLE_FRAMES, source.num_frames)).round().astype(int))
    if kind == "depth":
        values = np.concatenate([d[np.isfinite(d) & (d > 0)] for d in (source.depth(i) for i in frames)])
    else:
        values = np.concatenate([np.log(source.conf(i)).ravel() for i in frames])
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values, percentiles)
    return float(lo), float(max(hi, lo + 1e-6))


def point_colours(points: FramePoints, mode: ColourMode, *, log_conf_range: tuple[float, float]) -> np.ndarray:
    """(P, 3) uint8 colours: the image's, the confidence through turbo, or dynamic red over grey."""
    if mode == "rgb":
        return points.rgb
    if mode == "confidence":
        return colourise(np.log(points.conf), *log_conf_range)
    grey = points.rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    colours = np.repeat((grey * 0.6 + 40).astype(np.uint8)[:, None], 3, axis=1)
    colours[points.dynamic] = (230, 40, 40)
    return colours
