"""Camera conventions of the tools we export to, converted here and nowhere else.

Ours (see `align3r.geometry`): OpenCV camera (x right, y down, z forward), `c2w` 4x4
camera-to-world, K in pixels with integer pixel centres (the top-left pixel's centre is (0, 0)).

COLMAP (text model, `images.txt`): world-to-camera rotation as a unit quaternion (qw, qx, qy, qz)
and translation t, same OpenCV camera axes:

    w2c = inverse(c2w):  R_w2c = R_c2w^T,  t_w2c = -R_c2w^T t_c2w,  qwxyz = quat(R_w2c), qw >= 0.

nerfstudio (`transforms.json`, `transform_matrix`): camera-to-world with the OpenGL/Blender camera
(x right, y up, z backward), so the camera's y and z axes flip:

    c2w_gl = c2w @ diag(1, -1, -1, 1)   (and back: c2w = c2w_gl @ diag(1, -1, -1, 1)).

Both COLMAP and nerfstudio place pixel centres at half-integers (the top-left pixel's centre is
(0.5, 0.5)), so their principal point is ours plus half a pixel: cx' = cx + 0.5, cy' = cy + 0.5.
Focal lengths are unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from align3r.geometry import check_shape, invert_pose, qwxyz_to_qxyzw, qxyzw_to_qwxyz, qxyzw_to_rotmat, rotmat_to_qxyzw

PIXEL_CENTRE_SHIFT = 0.5
"""Added to our principal point to get COLMAP's and nerfstudio's (half-integer pixel centres)."""

_FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])


def c2w_to_colmap(c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV camera-to-world -> COLMAP world-to-camera quaternion and translation.

    Args:
        c2w: (N, 4, 4) float64 rigid camera-to-world.

    Returns:
        qwxyz (N, 4) float64 of R_w2c with qw >= 0, and t_w2c (N, 3) float64.
    """
    c2w_t = torch.as_tensor(np.asarray(c2w, dtype=np.float64))
    check_shape("c2w", c2w_t, (4, 4))
    w2c = invert_pose(c2w_t)
    return qxyzw_to_qwxyz(rotmat_to_qxyzw(w2c[:, :3, :3])).numpy(), w2c[:, :3, 3].numpy()


def colmap_to_c2w(qwxyz: np.ndarray, t_w2c: np.ndarray) -> np.ndarray:
    """COLMAP world-to-camera quaternion (N, 4) wxyz and translation (N, 3) -> (N, 4, 4) float64 c2w."""
    w2c = torch.eye(4, dtype=torch.float64).repeat(len(qwxyz), 1, 1)
    w2c[:, :3, :3] = qxyzw_to_rotmat(qwxyz_to_qxyzw(torch.as_tensor(np.asarray(qwxyz, dtype=np.float64))))
    w2c[:, :3, 3] = torch.as_tensor(np.asarray(t_w2c, dtype=np.float64))
    return invert_pose(w2c).numpy()


def opencv_to_opengl_c2w(c2w: np.ndarray) -> np.ndarray:
    """Flip the camera's y and z axes, (N, 4, 4) -> (N, 4, 4); its own inverse (OpenGL -> OpenCV too)."""
    check_shape("c2w", torch.as_tensor(c2w), (4, 4))
    return np.asarray(c2w, dtype=np.float64) @ _FLIP_YZ


def pinhole_params(intrinsics: np.ndarray) -> np.ndarray:
    """Our K (N, 3, 3) -> (N, 4) fx, fy, cx, cy with half-integer pixel centres (COLMAP, nerfstudio)."""
    check_shape("intrinsics", torch.as_tensor(intrinsics), (3, 3))
    k = np.asarray(intrinsics, dtype=np.float64)
    return np.stack([k[:, 0, 0], k[:, 1, 1], k[:, 0, 2] + PIXEL_CENTRE_SHIFT, k[:, 1, 2] + PIXEL_CENTRE_SHIFT], axis=1)
