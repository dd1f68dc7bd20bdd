"""Pair predictions computed from known geometry (an oracle network) for tests, benchmarks, demos."""

from __future__ import annotations

import numpy as np
import torch

from align3r.geometry import invert_pose, transform_points, unproject_depth
from align3r.infer.pairs import PairPredictions


def oracle_pairs(c2w: torch.Tensor, depths: torch.Tensor, intrinsics: torch.Tensor, edges: np.ndarray,
                 *, seed: int, noise: float = 0.0, scale_spread: float = 0.3) -> PairPredictions:
    """What a perfect network would predict for each edge, in a random scale per edge.

    Args:
        c2w: (N, 4, 4) camera-to-world poses.
        depths: (N, H, W) z-depth (> 0).
        intrinsics: (N, 3, 3) pinhole K.
        edges: (E, 2) frame pairs (i, j).
        seed: seeds the scales, the noise and the confidences.
        noise: relative Gaussian noise on the points (0: exact).
        scale_spread: standard deviation of the log of the per-edge scale.

    Returns:
        float32 predictions with confidences uniform in [1.5, 4].
    """
    gen = torch.Generator().manual_seed(seed)
    pts_world = transform_points(c2w, unproject_depth(depths, intrinsics))  # (N, H, W, 3)
    edge_t = torch.from_numpy(edges)
    w2c_i = invert_pose(c2w[edge_t[:, 0]])
    num_edges, (height, width) = len(edges), depths.shape[1:]
    scale = torch.exp(scale_spread * torch.randn(num_edges, generator=gen, dtype=c2w.dtype))

    def predict(frames: torch.Tensor) -> torch.Tensor:
        pts = transform_points(w2c_i, pts_world[frames]) * scale[:, None, None, None]
        jitter = 1 + noise * torch.randn(pts.shape, generator=gen, dtype=pts.dtype)
        return (pts * jitter).float()

    conf = 1.5 + 2.5 * torch.rand(2, num_edges, height, width, generator=gen)
    return PairPredictions(edges=edge_t, pts3d_i_in_i=predict(edge_t[:, 0]), pts3d_j_in_i=predict(edge_t[:, 1]),
                           conf_i=conf[0], conf_j=conf[1])
