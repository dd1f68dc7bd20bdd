"""Temporal alignment error (TAE): consecutive depth maps compared after warping by the true camera motion.

Definition (Depth Any Video, `Nightmare-n/DepthAnyVideo`, `dav/utils/eval_utils.py::tae`; used by
Video Depth Anything, `DepthAnything/Video-Depth-Anything`, `benchmark/eval/eval_tae.py::tae_torch`
and `eval_TAE`): with D_k the (already video-aligned) predicted depth of frame k,

    TAE = 1 / (2 (N - 1)) sum_{k=0}^{N-2} [AbsRel(D_k -> k+1, D_{k+1}) + AbsRel(D_{k+1} -> k, D_k)].

D_a -> b: every pixel (u, v) of frame a is unprojected at depth D_a(u, v) with K_a, moved into camera
b by the ground-truth `b_from_a = inv(c2w_b) c2w_a`, projected with K_b and rounded to the nearest
pixel (forward splatting, nearest sampling, no interpolation), where its z-depth in camera b is
written. AbsRel(D_a -> b, D_b) = mean |D_b - z| / D_b over the pixels hit, with the target frame's
own prediction D_b as reference. Pixel (u, v) sits at integer coordinates, as `geometry.pixel_grid`.

Choices where the two official scripts differ or leave things open:
- several points landing on one pixel: the nearest (smallest z) is kept, the visible surface; the
  official scatter keeps whichever write comes last, an order torch leaves unspecified;
- `valid` masks the source pixels and the target pixels (DepthAnyVideo's `tae`; Video Depth
  Anything masks the target only); points with z <= 0 in camera b are dropped;
- intrinsics per frame (DepthAnyVideo; Video Depth Anything uses K of frame k for both directions);
- a direction without a compared pixel counts as 0 in the mean, as `tae_torch` returns 0 (logged);
- TAE is a fraction; Video Depth Anything reports 100 TAE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import torch

from align3r.eval.metrics import DEPTH_MAX, SequenceAlignment, align_depth
from align3r.geometry import invert_pose, project_points, transform_points, unproject_depth

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TemporalAlignmentError:
    """TAE of a video and its parts."""

    tae: float
    """mean over the 2 (N - 1) directed pairs of their Abs Rel (a fraction, not percent)."""
    forward: np.ndarray
    """(N-1,) float64 Abs Rel of frame k warped into frame k+1 against D_{k+1}."""
    backward: np.ndarray
    """(N-1,) float64 Abs Rel of frame k+1 warped into frame k against D_k."""
    pixels: np.ndarray
    """(N-1, 2) int64 compared pixels of (forward, backward); 0 where that error counts as 0."""
    scale: float = 1.0
    """scale of the video-level alignment applied before (1 when none)."""
    shift: float = 0.0
    """shift of the video-level alignment applied before (0 when none)."""


def _check(name: str, array: np.ndarray, expected: tuple[int, ...]) -> None:
    if array.shape != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")


def _warped_abs_rel(depth_a: torch.Tensor, depth_b: torch.Tensor, b_from_a: torch.Tensor, k_a: torch.Tensor,
                    k_b: torch.Tensor, valid_a: torch.Tensor, valid_b: torch.Tensor) -> tuple[float, int]:
    """Abs Rel of frame a's depth splatted into frame b against frame b's depth.

    Args:
        depth_a, depth_b: (H, W) float64 z-depth of frames a and b.
        b_from_a: (4, 4) float64 rigid transform from camera a to camera b.
        k_a, k_b: (3, 3) float64 intrinsics of frames a and b.
        valid_a, valid_b: (H, W) bool pixels taking part as source and as target.

    Returns:
        (mean |D_b - z| / D_b over the pixels hit, their count); (0.0, 0) when none is hit.
    """
    height, width = depth_a.shape
    pts3d_a_in_b = transform_points(b_from_a, unproject_depth(depth_a, k_a))  # (H, W, 3)
    uv, z = project_points(pts3d_a_in_b, k_b)  # (H, W, 2), (H, W)
    col, row = torch.round(uv).unbind(dim=-1)  # half to even, as torch.round in `tae_torch`
    hit = (valid_a & torch.isfinite(depth_a) & (depth_a > 0) & (z > 0)
           & (col >= 0) & (col <= width - 1) & (row >= 0) & (row <= height - 1))
    index = (row[hit] * width + col[hit]).long()
    splat = torch.full((height * width,), torch.inf, dtype=z.dtype)
    splat = splat.scatter_reduce(0, index, z[hit], reduce="amin").view(height, width)  # nearest point wins
    compared = torch.isfinite(splat) & valid_b & (depth_b > 0)
    count = int(compared.sum())
    if count == 0:
        return 0.0, 0
    target = depth_b[compared]
    return float(torch.mean(torch.abs(target - splat[compared]) / target)), count


def temporal_alignment_error(depths: np.ndarray, poses_c2w: np.ndarray, intrinsics: np.ndarray, *,
                             valid: np.ndarray | None = None) -> TemporalAlignmentError:
    """TAE of a depth video under known cameras (module docstring: definition and sources).

    The depths are compared as given: align them to the ground truth first (the official protocol
    does; `aligned_temporal_alignment_error` applies the depth metrics' alignment). Computed in float64.

    Args:
        depths: (N, H, W) z-depth of N >= 2 consecutive frames.
        poses_c2w: (N, 4, 4) ground-truth camera-to-world poses (OpenCV camera), rigid.
        intrinsics: (N, 3, 3) ground-truth pinhole K in pixels of each frame.
        valid: (N, H, W) bool pixels that take part, as source and as target; None for all.

    Returns:
        TemporalAlignmentError with scale 1 and shift 0.

    Raises:
        ValueError: wrong shapes or fewer than 2 frames.
    """
    if depths.ndim != 3 or len(depths) < 2:
        raise ValueError(f"depths: expected shape (N >= 2, H, W), got {depths.shape}")
    n = len(depths)
    _check("poses_c2w", poses_c2w, (n, 4, 4))
    _check("intrinsics", intrinsics, (n, 3, 3))
    if valid is not None:
        _check("valid", valid, depths.shape)
    d = torch.from_numpy(np.asarray(depths, dtype=np.float64))
    c2w = torch.from_numpy(np.asarray(poses_c2w, dtype=np.float64))
    k = torch.from_numpy(np.asarray(intrinsics, dtype=np.float64))
    mask = torch.ones(d.shape, dtype=torch.bool) if valid is None else torch.from_numpy(np.asarray(valid, bool))
    w2c = invert_pose(c2w)
    errors = np.zeros((n - 1, 2))
    pixels = np.zeros((n - 1, 2), dtype=np.int64)
    for i in range(n - 1):
        j = i + 1
        errors[i, 0], pixels[i, 0] = _warped_abs_rel(d[i], d[j], w2c[j] @ c2w[i], k[i], k[j], mask[i], mask[j])
        errors[i, 1], pixels[i, 1] = _warped_abs_rel(d[j], d[i], w2c[i] @ c2w[j], k[j], k[i], mask[j], mask[i])
    empty = [f"{i}->{i + 1}" if side == 0 else f"{i + 1}->{i}" for i, side in zip(*np.nonzero(pixels == 0))]
    if empty:
        logger.warning("TAE: no pixel compared in %s; each counts as 0, as the official script does",
                       ", ".join(empty))
    return TemporalAlignmentError(tae=float(errors.mean()), forward=errors[:, 0], backward=errors[:, 1],
                                  pixels=pixels)


def aligned_temporal_alignment_error(pred: np.ndarray, poses_c2w: np.ndarray, intrinsics: np.ndarray,
                                     alignment: SequenceAlignment, *,
                                     depth_max: float = DEPTH_MAX) -> TemporalAlignmentError:
    """TAE of a prediction after the depth metrics' alignment of its sequence to the ground truth.

    `alignment` is the depth metrics' own (`fit_sequence_alignment`: one scale and shift for the
    sequence on the pixels 1e-3 < gt < depth_max); the aligned depth is clipped to
    [1e-5, depth_max] and those valid pixels take part. (Video Depth Anything aligns its
    affine-invariant disparity to the ground-truth disparity by least squares instead; our
    predictions are depths.)

    Args:
        pred: (N, H, W) predicted depth, any positive scale, at the ground truth's resolution.
        poses_c2w: (N, 4, 4) ground-truth camera-to-world poses (OpenCV camera).
        intrinsics: (N, 3, 3) ground-truth pinhole K in pixels.
        alignment: valid (N, H, W), scale and shift of the sequence.
        depth_max: clip value of the aligned depth.

    Returns:
        TemporalAlignmentError with the alignment's scale and shift.

    Raises:
        ValueError: wrong shapes or fewer than 2 frames.
    """
    aligned = align_depth(torch.from_numpy(np.asarray(pred, dtype=np.float64)), alignment.scale, alignment.shift,
                          depth_max=depth_max)
    result = temporal_alignment_error(aligned.numpy(), poses_c2w, intrinsics, valid=alignment.valid)
    return replace(result, scale=alignment.scale, shift=alignment.shift)
