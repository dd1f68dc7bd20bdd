"""Depth consistency without ground truth: how far each frame's static depth disagrees with its
neighbours' once carried into them.

For a frame a and a neighbour b (b = a - 1, a + 1), every usable pixel p of a is lifted with a's
depth and intrinsics, moved into camera b with the poses, and compared, as a z-depth z_b(p), with
b's own depth d_b at the pixel q of b that p corresponds to:
- q = p + flow_ab(p) when the pair store holds the optical flow a -> b (an image correspondence
  independent of the depths and poses: the flow-warped residual);
- else q = the projection of that point into b (reprojection: depths and poses alone).
The residual of p is |z_b(p) - d_b(q)| / d_b(q) (d_b bilinear); a frame's score is the mean of the
medians of its (one or two) neighbour pairs, so one frame whose depth is off by r scores r and its
neighbours r / 2. Usable pixels are confident (raw confidence above the
threshold) and static in a, and q falls inside b on usable pixels of b only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from align3r.geometry import invert_pose, pixel_grid, project_points, transform_points, unproject_depth
from align3r.reconstruction import Reconstruction

FlowSource = Callable[[int, int], np.ndarray | None]
"""(a, b) -> (2, H, W) float32 optical flow a -> b in pixels (channel 0 = x), or None when not stored."""
FULLY_USABLE = 1 - 1e-6
"""A sampled location counts only when every pixel of its bilinear footprint in b is usable."""


def _sample(image: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of (C, H, W) `image` at (H', W', 2) pixel coordinates (integer centres); 0 outside."""
    height, width = image.shape[-2:]
    scale = torch.tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)], dtype=uv.dtype)
    grid = (uv * scale - 1)[None]  # (1, H', W', 2) in [-1, 1] at the corner pixels' centres
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]


def pair_residuals(rec: Reconstruction, usable: torch.Tensor, a: int, b: int,
                   flow_ab: np.ndarray | None = None) -> torch.Tensor:
    """Relative depth residuals of frame a's usable pixels carried into frame b.

    Args:
        rec: the reconstruction (depths, poses_c2w, intrinsics).
        usable: (N, H, W) bool pixels that take part (confident, static, positive depth).
        a, b: the frame compared and its neighbour.
        flow_ab: (2, H, W) optical flow a -> b in pixels, or None to reproject with the cameras.

    Returns:
        (M,) float64 |z_b(p) - d_b(q)| / d_b(q) over the M pixels p of a whose correspondence q is usable.
    """
    depth = torch.from_numpy(rec.depths[[a, b]]).double()  # (2, H, W)
    k = torch.from_numpy(rec.intrinsics[[a, b]]).double()
    c2w = torch.from_numpy(rec.poses_c2w[[a, b]]).double()
    pts_a_in_b = transform_points(invert_pose(c2w[1]) @ c2w[0], unproject_depth(depth[0], k[0]))  # (H, W, 3)
    uv_projected, z_in_b = project_points(pts_a_in_b, k[1])  # (H, W, 2), (H, W)
    if flow_ab is None:
        uv = uv_projected
    else:
        uv = pixel_grid(*depth.shape[1:], dtype=torch.float64) + torch.from_numpy(flow_ab).double().permute(1, 2, 0)
    depth_b, usable_b = _sample(torch.stack([depth[1], usable[b].double()]), uv)  # (H, W) each
    valid = usable[a] & (z_in_b > 0) & (usable_b > FULLY_USABLE) & torch.isfinite(uv).all(dim=-1)
    return ((z_in_b - depth_b).abs() / depth_b)[valid]


def neighbour_consistency(rec: Reconstruction, *, conf_threshold: float,
                          flow_of: FlowSource | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Per-frame relative depth residual against the neighbouring frames (module docstring).

    Args:
        rec: the reconstruction, N >= 2 frames.
        conf_threshold: raw confidence a pixel must exceed to take part.
        flow_of: stored flows (e.g. `PairStore.stored_flow`); None, or None for a pair, reprojects.

    Returns:
        consistency: (N,) float64 per-frame mean of the neighbour pairs' median residuals, NaN for a
            frame without usable pixels.
        pairs_by: how many of the 2 (N - 1) directed neighbour pairs used "flow" and "reprojection".
    """
    usable = torch.from_numpy((rec.conf > conf_threshold) & ~rec.dynamic_masks & (rec.depths > 0)
                              & np.isfinite(rec.depths))
    consistency = np.full(rec.num_frames, np.nan)
    pairs_by = {"flow": 0, "reprojection": 0}
    for a in range(rec.num_frames):
        medians = []
        for b in (a - 1, a + 1):
            if not 0 <= b < rec.num_frames:
                continue
            flow_ab = None if flow_of is None else flow_of(a, b)
            pairs_by["reprojection" if flow_ab is None else "flow"] += 1
            residuals = pair_residuals(rec, usable, a, b, flow_ab)
            if len(residuals):
                medians.append(float(residuals.median()))
        if medians:
            consistency[a] = float(np.mean(medians))
    return consistency, pairs_by
