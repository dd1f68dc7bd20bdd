"""Reconstruction: the result of a video, the contract between `align/` and `io/`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from align3r.geometry import transform_points, unproject_depth


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """Per-frame depth, confidence, cameras and motion masks of a video, at the network's resolution.

    One scale for the whole video (metres only when the prior is metric). OpenCV cameras,
    camera-to-world poses, intrinsics in pixels.

    Attributes:
        images: (N, H, W, 3) uint8 RGB the network saw.
        depths: (N, H, W) float32 z-depth.
        conf: (N, H, W) float32 raw confidence (>= 1; the official files store its log).
        poses_c2w: (N, 4, 4) float64 camera-to-world.
        intrinsics: (N, 3, 3) float64 pinhole K.
        dynamic_masks: (N, H, W) bool, pixels on moving objects.
        names: N frame names (file stems, or `frame_NNNNNN` for videos).
        meta: settings, versions, model, prior, timings, quality report (JSON-ready).
    """

    images: np.ndarray
    depths: np.ndarray
    conf: np.ndarray
    poses_c2w: np.ndarray
    intrinsics: np.ndarray
    dynamic_masks: np.ndarray
    names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, h, w = self.depths.shape
        expected = {"images": (n, h, w, 3), "conf": (n, h, w), "poses_c2w": (n, 4, 4),
                    "intrinsics": (n, 3, 3), "dynamic_masks": (n, h, w)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {getattr(self, name).shape}")
        if len(self.names) != n:
            raise ValueError(f"names: expected {n} frame names, got {len(self.names)}")

    @property
    def num_frames(self) -> int:
        return self.depths.shape[0]

    def points_world(self, frames: np.ndarray | None = None) -> np.ndarray:
        """(F, H, W, 3) float32 world point of every pixel of `frames` (F indices; None: all N)."""
        pick = slice(None) if frames is None else frames
        pts = transform_points(torch.from_numpy(self.poses_c2w[pick]),
                               unproject_depth(torch.from_numpy(self.depths[pick]).double(),
                                               torch.from_numpy(self.intrinsics[pick])))
        return pts.float().numpy()

    def __eq__(self, other: object) -> bool:
        """Equal arrays, names and meta; confidences compared to 1e-6 relative, since the official
        files keep them as float32 logarithms."""
        if not isinstance(other, Reconstruction):
            return NotImplemented
        exact = ("images", "depths", "poses_c2w", "intrinsics", "dynamic_masks")
        return (all(np.array_equal(getattr(self, k), getattr(other, k)) for k in exact)
                and np.allclose(self.conf, other.conf, rtol=1e-6, atol=0)
                and self.names == other.names and self.meta == other.meta)
