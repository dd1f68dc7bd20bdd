"""A prior map -> the normalised point map `prior_pts` the prior branch is conditioned on (docs/method.md §10.2)."""

from __future__ import annotations

import logging

import numpy as np
import torch

from align3r.errors import InputError
from align3r.geometry import unproject_depth

logger = logging.getLogger(__name__)

DISPARITY_FOCAL_PX = 200.0
"""The focal the official code unprojects Depth Anything priors with (`image_pose.py`,
`load_images`). Any positive focal gives the same `prior_pts`."""


def prior_points(prior_depth: np.ndarray, focal_px: float = DISPARITY_FOCAL_PX, *, first_index: int = 0) -> np.ndarray:
    """Unproject prior maps with c = (W0/2, H0/2) and min-max each channel of each map to [0, 1].

    X = (u - W0/2) Z / f, Y = (v - H0/2) Z / f, Z, in float64 (`image_pose.py`,
    `pixel_to_pointcloud`: c = W/2, not (W-1)/2). The normalisation runs over all pixels of each
    map at its full resolution, before any resize (`normalize_pointcloud`). Metric depth and
    Depth Anything disparity alike are used as Z, never inverted. A channel that is constant over
    a map (the official code returns NaN there) becomes 0, with a warning.

    Args:
        prior_depth: (N, H0, W0) prior maps (metric depth or disparity), finite.
        focal_px: focal in pixels, > 0; it cancels in the normalisation.
        first_index: the video's index of the first map, for the messages.

    Returns:
        prior_pts: (N, H0, W0, 3) float32 in [0, 1], camera frame of each map, normalised.

    Raises:
        InputError: a map has NaN or infinite values.
    """
    if prior_depth.ndim != 3:
        raise ValueError(f"prior_depth: expected shape (N, H0, W0), got {prior_depth.shape}")
    if not focal_px > 0:
        raise ValueError(f"focal_px must be positive, got {focal_px}")
    bad = ~np.isfinite(prior_depth).all(axis=(1, 2))
    if bad.any():
        raise InputError(f"prior maps of frame(s) {(np.flatnonzero(bad) + first_index).tolist()} have NaN or infinite values")
    depth = torch.from_numpy(np.asarray(prior_depth, dtype=np.float64))
    height, width = depth.shape[-2:]
    intrinsics = torch.tensor([[focal_px, 0.0, width / 2], [0.0, focal_px, height / 2], [0.0, 0.0, 1.0]],
                              dtype=torch.float64)
    pts = unproject_depth(depth, intrinsics)  # (N, H0, W0, 3)
    low = pts.amin(dim=(1, 2), keepdim=True)  # (N, 1, 1, 3)
    span = pts.amax(dim=(1, 2), keepdim=True) - low
    constant = (span == 0).flatten(1)  # (N, 3)
    if constant.any():
        frames = (torch.nonzero(constant.any(dim=1)).flatten() + first_index).tolist()
        logger.warning("prior maps of frame(s) %s have a constant channel; it is set to 0", frames)
    normalised = torch.where(span > 0, (pts - low) / span.clamp(min=torch.finfo(pts.dtype).tiny), 0.0)
    return normalised.to(torch.float32).numpy()
