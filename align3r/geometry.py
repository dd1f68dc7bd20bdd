"""The camera convention, stated once: OpenCV camera (x right, y down, z forward), z-depth,
camera-to-world 4x4 poses (`c2w`), intrinsics in pixels, pixel (u, v) = (column, row).

Every function is pure, follows its inputs' device and dtype, and broadcasts over leading
dimensions `*`. The principal point is always explicit: the official code uses W/2 in some
places and (W-1)/2 in others, so call sites pass intrinsics that say which. Similarity
transforms are 4x4 matrices `a2b` whose top-left block is scale * rotation. Quaternions go
through roma and carry their component order in their name (`qxyzw`, `qwxyz`).
"""

from __future__ import annotations

import roma
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


def centred_intrinsics(focals: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(*, 3, 3) pinhole K of focal lengths (*,) in pixels with the principal point (W/2, H/2),
    the aligner's (official `optimize_pp=False`); differentiable in `focals`."""
    zero, one = torch.zeros_like(focals), torch.ones_like(focals)
    rows = [focals, zero, zero + width / 2, zero, focals, zero + height / 2, zero, zero, one]
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))


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


def invert_similarity(a2b: torch.Tensor) -> torch.Tensor:
    """Inverse of a 4x4 similarity transform (top-left block s * R, s > 0).

    Args:
        a2b: (*, 4, 4) maps frame a to frame b.

    Returns:
        (*, 4, 4) `b2a`, whose top-left block is R^T / s.
    """
    check_shape("a2b", a2b, (4, 4))
    linear = a2b[..., :3, :3]
    scale_sq = (linear * linear).sum(dim=(-1, -2)) / 3  # ||s R||_F^2 = 3 s^2
    linear_inv = linear.transpose(-1, -2) / scale_sq[..., None, None]
    b2a = torch.zeros_like(a2b)
    b2a[..., :3, :3] = linear_inv
    b2a[..., :3, 3] = -(linear_inv @ a2b[..., :3, 3:])[..., 0]
    b2a[..., 3, 3] = 1
    return b2a


def similarity_matrix(scale: torch.Tensor, rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Assemble the 4x4 transform x -> scale * rot @ x + trans.

    Args:
        scale: (*,) positive scale (1 for a rigid transform).
        rot: (*, 3, 3) rotation matrix.
        trans: (*, 3) translation.

    Returns:
        (*, 4, 4) similarity matrix.
    """
    check_shape("rot", rot, (3, 3))
    check_shape("trans", trans, (3,))
    top = torch.cat([scale[..., None, None] * rot, trans[..., None]], dim=-1)  # (*, 3, 4)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1
    return torch.cat([top, bottom], dim=-2)


def umeyama_alignment(src: torch.Tensor, dst: torch.Tensor, *, weights: torch.Tensor | None = None,
                      with_scale: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares similarity from `src` to `dst` points (Umeyama 1991, eqs. 34-43).

    Minimises sum_k w_k ||dst_k - (s R src_k + t)||^2. Needs at least three points of non-zero
    weight not on one line for a unique rotation.

    Args:
        src: (*, P, 3) points in frame a (e.g. estimated camera centres).
        dst: (*, P, 3) the corresponding points in frame b (e.g. ground-truth centres).
        weights: (*, P) non-negative weights; None weighs every point 1.
        with_scale: estimate s; when False, s = 1 (rigid alignment).

    Returns:
        scale (*,), rot (*, 3, 3), trans (*, 3) of the transform a -> b.
    """
    check_shape("src", src, (None, 3))
    check_shape("dst", dst, tuple(src.shape[-2:]))
    if weights is None:
        weights = torch.ones_like(src[..., 0])
    check_shape("weights", weights, (src.shape[-2],))
    w = (weights / weights.sum(dim=-1, keepdim=True))[..., None]  # (*, P, 1), sums to 1
    mean_src, mean_dst = (w * src).sum(dim=-2), (w * dst).sum(dim=-2)
    centred_src = src - mean_src[..., None, :]
    centred_dst = dst - mean_dst[..., None, :]
    cov_dst_src = centred_dst.transpose(-1, -2) @ (w * centred_src)  # (*, 3, 3)
    u, sigma, vh = torch.linalg.svd(cov_dst_src)
    reflect = torch.linalg.det(u) * torch.linalg.det(vh) < 0  # keep a right-handed rotation
    signs = torch.ones_like(sigma)
    signs = torch.cat([signs[..., :2], torch.where(reflect, -signs[..., 2], signs[..., 2])[..., None]], dim=-1)
    rot = u @ (signs[..., :, None] * vh)
    if with_scale:
        var_src = (w * centred_src * centred_src).sum(dim=(-1, -2))
        scale = (sigma * signs).sum(dim=-1) / var_src
    else:
        scale = torch.ones_like(sigma[..., 0])
    trans = mean_dst - scale[..., None] * (rot @ mean_src[..., None])[..., 0]
    return scale, rot, trans


def nearest_rotation(mat: torch.Tensor) -> torch.Tensor:
    """Closest rotation in the Frobenius norm (special orthogonal Procrustes), (*, 3, 3) -> (*, 3, 3).

    Cleans almost-orthonormal matrices (float32 optimiser output); equals scipy's
    `Rotation.from_matrix(...).as_matrix()` to rounding.
    """
    check_shape("mat", mat, (3, 3))
    return roma.special_procrustes(mat)


def rotmat_to_qxyzw(rot: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (*, 3, 3) -> unit quaternions (*, 4) ordered (x, y, z, w), w >= 0."""
    check_shape("rot", rot, (3, 3))
    qxyzw = roma.rotmat_to_unitquat(rot)
    return torch.where(qxyzw[..., 3:] < 0, -qxyzw, qxyzw)


def qxyzw_to_rotmat(qxyzw: torch.Tensor) -> torch.Tensor:
    """Quaternions (*, 4) ordered (x, y, z, w), normalised first -> rotation matrices (*, 3, 3)."""
    check_shape("qxyzw", qxyzw, (4,))
    return roma.unitquat_to_rotmat(qxyzw / torch.linalg.norm(qxyzw, dim=-1, keepdim=True))


def qxyzw_to_qwxyz(qxyzw: torch.Tensor) -> torch.Tensor:
    """Reorder quaternions (*, 4) from (x, y, z, w) to (w, x, y, z)."""
    check_shape("qxyzw", qxyzw, (4,))
    return roma.quat_xyzw_to_wxyz(qxyzw)


def qwxyz_to_qxyzw(qwxyz: torch.Tensor) -> torch.Tensor:
    """Reorder quaternions (*, 4) from (w, x, y, z) to (x, y, z, w)."""
    check_shape("qwxyz", qwxyz, (4,))
    return roma.quat_wxyz_to_xyzw(qwxyz)


def rotation_angle(rot: torch.Tensor) -> torch.Tensor:
    """Angle in radians, in [0, pi], of rotation matrices (*, 3, 3) -> (*,).

    Uses atan2(sin, cos) with sin from the skew part and cos from the trace, accurate near 0
    and near pi (arccos of the trace alone loses half the digits near 0).
    """
    check_shape("rot", rot, (3, 3))
    skew = torch.stack([rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0],
                        rot[..., 1, 0] - rot[..., 0, 1]], dim=-1)
    sin = torch.linalg.norm(skew, dim=-1) / 2
    cos = (rot[..., 0, 0] + rot[..., 1, 1] + rot[..., 2, 2] - 1) / 2
    return torch.atan2(sin, cos)
