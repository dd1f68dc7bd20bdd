"""Exact pair predictions from known geometry: cameras inside a box room, ray-cast z-depth."""

import math

import numpy as np
import roma
import torch

from align3r.infer.store import PairPredictions

ROOM_HALF_SIZE = 2.0  # the room is [-2, 2]^3; the scene size used for the ATE bound is 4


def trajectory(num_frames: int, seed: int) -> torch.Tensor:
    """(N, 4, 4) float64 camera-to-world: a smooth arc near the room centre, looking around +z."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, num_frames, dtype=torch.float64)
    yaw = 0.6 * t - 0.3 + 0.02 * torch.randn(num_frames, generator=gen, dtype=torch.float64)
    rot = roma.rotvec_to_rotmat(torch.stack([0.1 * torch.sin(3 * t), yaw, 0.05 * t], dim=-1))
    c2w = torch.eye(4, dtype=torch.float64).repeat(num_frames, 1, 1)
    c2w[:, :3, :3] = rot
    c2w[:, :3, 3] = torch.stack([0.8 * t - 0.4, 0.1 * torch.sin(5 * t), -0.5 + 0.3 * t], dim=-1)
    return c2w


def box_depth(c2w: torch.Tensor, focal: float, height: int, width: int) -> torch.Tensor:
    """(N, H, W) z-depth of the room's walls seen from each camera (principal point (W/2, H/2))."""
    v, u = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                          torch.arange(width, dtype=torch.float64), indexing="ij")
    rays_cam = torch.stack([(u - width / 2) / focal, (v - height / 2) / focal, torch.ones_like(u)], -1)
    rays = rays_cam @ c2w[:, None, :3, :3].transpose(-1, -2)  # (N, H, W, 3), z-component 1 in camera
    origin = c2w[:, None, None, :3, 3]
    hits = (torch.sign(rays) * ROOM_HALF_SIZE - origin) / rays  # distance to the wall ahead per axis
    return hits.nan_to_num(math.inf).clamp(min=0).amin(dim=-1)


def exact_pairs(c2w: torch.Tensor, depths: torch.Tensor, focal: float, edges: np.ndarray,
                seed: int) -> PairPredictions:
    """Noise-free pairs, each edge in its own random scale, random confidences in [1.5, 4]."""
    n, height, width = depths.shape
    k = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=torch.float64)
    from align3r.geometry import invert_pose, transform_points, unproject_depth
    pts_world = transform_points(c2w, unproject_depth(depths, k.expand(n, 3, 3)))
    ei, ej = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    w2c_i = invert_pose(c2w[ei])
    gen = torch.Generator().manual_seed(seed)
    scale = torch.exp(torch.randn(len(edges), generator=gen, dtype=torch.float64) * 0.3)[:, None, None, None]
    conf = 1.5 + 2.5 * torch.rand(2, len(edges), height, width, generator=gen)
    return PairPredictions(torch.from_numpy(edges), (scale * transform_points(w2c_i, pts_world[ei])).float(),
                           (scale * transform_points(w2c_i, pts_world[ej])).float(), conf[0], conf[1])
