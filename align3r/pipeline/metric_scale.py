"""Metric scale: one robust factor that puts a reconstruction in a metric prior's units.

The alignment fixes the free scale by a convention (the official gauge), so the depths and poses
are right only up to one factor per video. A metric prior (Depth Pro, or `files:` maps of metric
depth) knows the scale, frame by frame, with errors that vary from frame to frame and pixel to
pixel; the median of prior / aligned depth over the confident static pixels of the whole video is
robust to both, and one factor keeps the video's consistency.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from align3r.errors import ReconstructionError
from align3r.reconstruction import Reconstruction

MIN_PIXELS = 100
"""Fewer confident static pixels than this leave the scale undetermined."""


def metric_factor(depths: np.ndarray, prior_depths: np.ndarray, usable: np.ndarray) -> tuple[float, int]:
    """The median of prior / aligned depth over the usable pixels.

    Args:
        depths: (N, H, W) aligned z-depth, the reconstruction's scale.
        prior_depths: (N, H, W) metric z-depth of the prior on the same grid.
        usable: (N, H, W) bool, confident static pixels.

    Returns:
        (factor, number of pixels used).

    Raises:
        ReconstructionError: fewer than `MIN_PIXELS` usable pixels with positive finite depths.
    """
    keep = usable & np.isfinite(prior_depths) & (prior_depths > 0) & np.isfinite(depths) & (depths > 0)
    count = int(keep.sum())
    if count < MIN_PIXELS:
        raise ReconstructionError(f"--metric: only {count} confident static pixels with a valid prior depth; "
                                  "the metric scale is undetermined (run without --metric)")
    return float(np.median(prior_depths[keep].astype(np.float64) / depths[keep])), count


def rescale(rec: Reconstruction, factor: float) -> Reconstruction:
    """`rec` with depths and camera centres multiplied by `factor` (rotations and intrinsics kept)."""
    poses_c2w = rec.poses_c2w.copy()
    poses_c2w[:, :3, 3] *= factor
    return replace(rec, depths=(rec.depths * factor).astype(rec.depths.dtype), poses_c2w=poses_c2w)
