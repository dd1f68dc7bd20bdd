"""The camera convention, stated once: OpenCV camera (x right, y down, z forward), z-depth,
camera-to-world 4x4 poses (`c2w`), intrinsics in pixels, pixel (u, v) = (column, row).

Every function is pure, follows its inputs' device and dtype, and broadcasts over leading
dimensions `*`. The principal point is always explicit: the official code uses W/2 in some
places and (W-1)/2 in others, so call sites pass intrinsics that say which.
"""

from __future__ import annotations

import torch


def check_shape(name: str, tensor: torch.Tensor, expected: tuple[int | None, ...]) -> None:
    """Raise ValueError naming `name` when `tensor`'s trailing dims differ from `expected`.

    `None` in `expected` accepts any size. Leading dims beyond `expected` are free.
    """
    actual = tuple(tensor.shape)
    ok = len(actual) >= len(expected) and all(
        e is None or a == e for a, e in zip(actual[len(actual) - len(expected):], expected)
    )
    if not ok:
        shown = ", ".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{name}: expected shape (..., {shown}), got {actual}")


def pixel_grid(height: int, width: int, *, dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Pixel coordinates (u, v) = (column, row) of an image, integers as floats.

    Returns:
        (H, W, 2): `grid[v, u] = (u, v)`.
    """
    v, u = torch.meshgrid(torch.arange(height, dtype=dtype, device=device),
                          torch.arange(width, dtype=dtype, device=device), indexing="ij")
    return torch.stack([u, v], dim=-1)


def unproject_depth(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Lift a z-depth map to points in its own camera frame.

    Args:
        depth: (*, H, W) z-depth.
        intrinsics: (*, 3, 3) pinhole K in pixels (skew ignored).

    Returns:
        (*, H, W, 3) points in the camera frame: X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z.
    """
    check_shape("intrinsics", intrinsics, (3, 3))
    height, width = depth.shape[-2:]
    uv = pixel_grid(height, width, dtype=depth.dtype, device=depth.device)
    k = intrinsics[..., None, None, :, :]  # (*, 1, 1, 3, 3)
    x = (uv[..., 0] - k[..., 0, 2]) * depth / k[..., 0, 0]
    y = (uv[..., 1] - k[..., 1, 2]) * depth / k[..., 1, 1]
    return torch.stack([x, y, depth], dim=-1)


def project_points(pts3d_in_cam: torch.Tensor, intrinsics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project camera-frame points to pixels.

    Args:
        pts3d_in_cam: (*, P, 3) points in the camera frame (P may be several dims, e.g. H, W).
        intrinsics: (*, 3, 3), broadcast against the points' leading dims.

    Returns:
        uv: (*, P, 2) pixel coordinates (column, row); z: (*, P) z-depth.
    """
    check_shape("pts3d_in_cam", pts3d_in_cam, (3,))
    extra = pts3d_in_cam.dim() - intrinsics.dim() + 1  # point dims P between batch and xyz
    k = intrinsics.reshape(intrinsics.shape[:-2] + (1,) * extra + (3, 3))
    z = pts3d_in_cam[..., 2]
    u = k[..., 0, 0] * pts3d_in_cam[..., 0] / z + k[..., 0, 2]
    v = k[..., 1, 1] * pts3d_in_cam[..., 1] / z + k[..., 1, 2]
    return torch.stack([u, v], dim=-1), z


def transform_points(a2b: torch.Tensor, pts3d_in_a: torch.Tensor) -> torch.Tensor:
    """Apply a 4x4 rigid or similarity transform to points.

    Args:
        a2b: (*, 4, 4) maps frame a to frame b.
        pts3d_in_a: (*, P, 3) points in frame a (P may be several dims).

    Returns:
        (*, P, 3) the same points in frame b.
    """
    check_shape("a2b", a2b, (4, 4))
    check_shape("pts3d_in_a", pts3d_in_a, (3,))
    extra = pts3d_in_a.dim() - a2b.dim() + 1  # point dims P between batch and xyz
    m = a2b.reshape(a2b.shape[:-2] + (1,) * extra + (4, 4))
    return (m[..., :3, :3] @ pts3d_in_a[..., None])[..., 0] + m[..., :3, 3]


def invert_pose(a2b: torch.Tensor) -> torch.Tensor:
    """Inverse of a rigid 4x4 transform (rotation transposed), (*, 4, 4) -> (*, 4, 4) `b2a`."""
    check_shape("a2b", a2b, (4, 4))
    rot_t = a2b[..., :3, :3].transpose(-1, -2)
    b2a = torch.zeros_like(a2b)
    b2a[..., :3, :3] = rot_t
    b2a[..., :3, 3] = -(rot_t @ a2b[..., :3, 3:])[..., 0]
    b2a[..., 3, 3] = 1
    return b2a
