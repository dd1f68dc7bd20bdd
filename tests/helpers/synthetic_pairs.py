"""Known geometry for exact pairs: cameras inside a box room, ray-cast z-depth."""

import math

import roma
import torch

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
