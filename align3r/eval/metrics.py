"""The official video-depth and camera-pose metrics (docs/evaluation.md §1.4-1.6 and §2.4).

Depth (`tool/depth_test.py`): valid pixels 1e-3 < gt < depth_max pooled over all frames of a
sequence, one scale and shift per sequence (LAD or least squares), the aligned depth clipped to
[1e-5, depth_max], seven metrics in float32 torch as the official code computes them, and the
valid-pixel-weighted average over sequences. The per-frame variant is `tool/metric.py`'s.
Pose (`dust3r/utils/vo_eval.py::eval_metrics`, evo): one Sim(3) Umeyama alignment of the
estimated camera centres onto the ground truth, then ATE and RPE (delta 1 frame, all pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.optimize import minimize

from align3r.geometry import nearest_rotation, rotation_angle, similarity_matrix, umeyama_alignment

GT_MIN = 1e-3
PRED_MIN = 1e-5
DEPTH_MAX = 70.0
DepthAlign = Literal["lad", "lstsq", "scale"]
"""A sequence's alignment: LAD or least-squares scale and shift (official), or the L1 scale alone
(Weiszfeld, MonST3R / CUT3R `align_with_scale`)."""
SCALE_MIN = 1e-3
WEISZFELD_ITERATIONS = 10
WEISZFELD_EPS = 1e-8
DISP_MIN = 1e-3
"""DepthCrafter / Video Depth Anything: the clip of the disparity before and after its alignment."""
OFFICIAL_DEPTH_KEYS = {"abs_rel": "Abs Rel", "sq_rel": "Sq Rel", "rmse": "RMSE", "log_rmse": "Log RMSE",
                       "delta1": "δ < 1.25", "delta2": "δ < 1.25^2", "delta3": "δ < 1.25^3",
                       "valid_pixels": "valid_pixels"}


@dataclass(frozen=True)
class DepthMetrics:
    """The official per-sequence depth metrics, plus the fitted alignment."""

    abs_rel: float
    """mean |a - g| / g over valid pixels."""
    sq_rel: float
    """mean (a - g)^2 / g."""
    rmse: float
    """sqrt(mean (a - g)^2), metres of the ground truth."""
    log_rmse: float
    """sqrt(mean (ln a - ln g)^2)."""
    delta1: float
    """fraction with max(a/g, g/a) < 1.25."""
    delta2: float
    """fraction below 1.25^2."""
    delta3: float
    """fraction below 1.25^3."""
    valid_pixels: int
    """number of pooled valid pixels; the weight in the dataset average."""
    scale: float
    """fitted scale s of a = clip(s p + t)."""
    shift: float
    """fitted shift t."""

    def as_official_dict(self) -> dict[str, float]:
        """The dict `depth_test.py` prints, with its key names (no scale and shift)."""
        return {name: getattr(self, field) for field, name in OFFICIAL_DEPTH_KEYS.items()}


@dataclass(frozen=True, eq=False)
class SequenceAlignment:
    """The one alignment of a sequence's prediction onto its ground truth (docs/evaluation.md §1.4)."""

    valid: np.ndarray
    """(N, H, W) bool pixels with GT_MIN < gt < depth_max: where the alignment was fitted and is scored."""
    scale: float
    """fitted scale s of a = clip(s p + t, 1e-5, depth_max)."""
    shift: float
    """fitted shift t (0 for the scale-only alignment)."""


@dataclass(frozen=True)
class PerFrameDepthMetrics:
    """`tool/metric.py`'s metrics: each computed per frame over its valid pixels, then averaged."""

    abs_rel: float
    sq_rel: float
    rmse: float
    rmse_log: float
    delta1: float
    delta2: float
    delta3: float


@dataclass(frozen=True)
class PoseMetrics:
    """evo's APE / RPE root mean squares after a Sim(3) Umeyama alignment."""

    ate: float
    """RMSE of camera-centre errors, ground-truth units."""
    rpe_trans: float
    """RMSE of the translation of consecutive relative-pose errors, ground-truth units."""
    rpe_rot_deg: float
    """RMSE of the rotation angle of consecutive relative-pose errors, degrees."""


def depth_valid_mask(gt: np.ndarray, *, depth_max: float = DEPTH_MAX) -> np.ndarray:
    """Official evaluation mask (*, H, W) bool: GT_MIN < gt < depth_max (NaN is invalid)."""
    return (gt > GT_MIN) & (gt < depth_max)


def fit_scale_shift(pred: np.ndarray, gt: np.ndarray, *, align: DepthAlign = "lad") -> tuple[float, float]:
    """One scale and shift mapping pooled predicted depths onto ground truth.

    "lad": `scipy.optimize.minimize` (BFGS, default tolerances) of sum |s p + t - g| from
    s0 = median(g) / median(p) (torch's lower median, float32) and t0 = 0, the objective in
    float64, exactly as `depth_test.py::absolute_value_scaling` runs under NumPy 2.
    "lstsq": `numpy.linalg.lstsq` of [p, 1] [s, t]^T = g in the inputs' float32.

    Args:
        pred: (P,) float32 predicted depths at valid pixels.
        gt: (P,) float32 ground-truth depths at the same pixels.
        align: "lad" (official default) or "lstsq" (`fit_sequence_alignment` adds "scale").

    Returns:
        (scale, shift).

    Raises:
        ValueError: `align` is neither "lad" nor "lstsq".
    """
    if align not in ("lad", "lstsq"):
        raise ValueError(f"align: expected 'lad' or 'lstsq', got {align!r}")
    if align == "lstsq":
        design = np.stack([pred, np.ones_like(pred)], axis=1)
        solution = np.linalg.lstsq(design, gt, rcond=None)[0]
        return float(solution[0]), float(solution[1])
    scale0 = (torch.median(torch.from_numpy(gt)) / torch.median(torch.from_numpy(pred))).item()
    result = minimize(_absolute_error, np.array([scale0, 0.0]), args=(pred, gt))
    return float(result.x[0]), float(result.x[1])


def _absolute_error(params: np.ndarray, pred: np.ndarray, gt: np.ndarray) -> float:
    """sum |s p + t - g| in float64 (the scalars promote the float32 arrays)."""
    return float(np.sum(np.abs(params[0] * pred + params[1] - gt)))


def align_depth(pred: torch.Tensor, scale: float, shift: float, *, depth_max: float = DEPTH_MAX) -> torch.Tensor:
    """clip(scale * pred + shift, 1e-5, depth_max) in pred's dtype."""
    return torch.clamp(pred * scale + shift, min=PRED_MIN, max=depth_max)


def fit_scale_weiszfeld(pred: np.ndarray, gt: np.ndarray) -> float:
    """The L1 scale s minimising sum |s p - g|, as `align_with_scale` computes it (in float64).

    10 Weiszfeld iterations from mean(g) / mean(p), clamped to >= 1e-3.

    Args:
        pred: (P,) predicted depths at valid pixels.
        gt: (P,) ground-truth depths at the same pixels.
    """
    p, g = pred.astype(np.float64), gt.astype(np.float64)
    scale = g.mean() / p.mean()
    for _ in range(WEISZFELD_ITERATIONS):
        weights = 1.0 / (np.abs(scale * p - g) + WEISZFELD_EPS)
        scale = np.sum(weights * p * g) / np.sum(weights * p * p)
    return float(max(scale, SCALE_MIN))


def fit_sequence_alignment(pred: np.ndarray, gt: np.ndarray, *, align: DepthAlign = "lad",
                           depth_max: float = DEPTH_MAX) -> SequenceAlignment:
    """The valid pixels of a sequence and the one scale (and shift) fitted on all of them pooled.

    Serves the depth metrics (`aligned_depth_metrics`, the scale-only protocol) and the temporal
    alignment error (`eval.temporal.aligned_temporal_alignment_error`), so they score the same pixels
    of the same aligned depth.

    Args:
        pred: (N, H, W) predicted depth, any positive scale, at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth; invalid pixels <= 1e-3, >= depth_max or NaN.
        align: "lad" (official default), "lstsq" or "scale" (Weiszfeld L1 scale, shift 0).
        depth_max: upper validity bound (official 70).

    Returns:
        SequenceAlignment: the valid mask, scale and shift.

    Raises:
        ValueError: shapes differ, no pixel is valid, or `align` is unknown.
    """
    if align not in ("lad", "lstsq", "scale"):
        raise ValueError(f"align: expected 'lad', 'lstsq' or 'scale', got {align!r}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred: expected the ground truth's shape {gt.shape}, got {pred.shape}")
    valid = depth_valid_mask(gt, depth_max=depth_max)
    if not valid.any():
        raise ValueError(f"gt: no pixel with {GT_MIN} < depth < {depth_max}")
    pred_valid, gt_valid = pred[valid].astype(np.float32), gt[valid].astype(np.float32)
    if align == "scale":
        return SequenceAlignment(valid, fit_scale_weiszfeld(pred_valid, gt_valid), 0.0)
    return SequenceAlignment(valid, *fit_scale_shift(pred_valid, gt_valid, align=align))


def aligned_depth_metrics(pred: np.ndarray, gt: np.ndarray, alignment: SequenceAlignment, *,
                          depth_max: float = DEPTH_MAX) -> DepthMetrics:
    """Official metrics of one sequence under a given alignment (docs/evaluation.md §1.4), in float32.

    Args:
        pred: (N, H, W) predicted depth at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth.
        alignment: the sequence's valid pixels, scale and shift (`fit_sequence_alignment`).
        depth_max: clip value of the aligned depth (official 70).

    Returns:
        DepthMetrics of the pooled valid pixels.
    """
    a = align_depth(torch.from_numpy(pred[alignment.valid].astype(np.float32)), alignment.scale, alignment.shift,
                    depth_max=depth_max)
    g = torch.from_numpy(gt[alignment.valid].astype(np.float32))
    ratio = torch.maximum(a / g, g / a)
    return DepthMetrics(
        abs_rel=torch.mean(torch.abs(a - g) / g).item(),
        sq_rel=torch.mean((a - g) ** 2 / g).item(),
        rmse=torch.sqrt(torch.mean((a - g) ** 2)).item(),
        log_rmse=torch.sqrt(torch.mean((torch.log(a) - torch.log(g)) ** 2)).item(),
        delta1=torch.mean((ratio < 1.25).float()).item(),
        delta2=torch.mean((ratio < 1.25 ** 2).float()).item(),
        delta3=torch.mean((ratio < 1.25 ** 3).float()).item(),
        valid_pixels=int(alignment.valid.sum()), scale=alignment.scale, shift=alignment.shift)


def video_depth_metrics(pred: np.ndarray, gt: np.ndarray, *, align: DepthAlign = "lad",
                        depth_max: float = DEPTH_MAX) -> DepthMetrics:
    """Official metrics of one sequence (docs/evaluation.md §1.4): fit the alignment, then score it.

    Args:
        pred: (N, H, W) predicted depth, any positive scale, at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth; invalid pixels <= 1e-3, >= depth_max or NaN.
        align: "lad" (official default), "lstsq" or "scale".
        depth_max: upper validity bound and clip value (official 70).

    Returns:
        DepthMetrics of the pooled valid pixels.

    Raises:
        ValueError: shapes differ, no pixel is valid, or `align` is unknown.
    """
    alignment = fit_sequence_alignment(pred, gt, align=align, depth_max=depth_max)
    return aligned_depth_metrics(pred, gt, alignment, depth_max=depth_max)


def per_frame_depth_metrics(pred: np.ndarray, gt: np.ndarray, scale: float, shift: float, *,
                            depth_max: float = DEPTH_MAX) -> PerFrameDepthMetrics:
    """`tool/metric.py`'s per-frame metrics of the aligned prediction, averaged over frames.

    Each metric is sum(err * valid) / count(valid) per frame (RMSE: the square root of that
    per frame), then the mean over frames, in float64 (under NumPy 2 the official aligned map
    `pred * s + t` with NumPy float64 scalars is float64). Frames without a valid pixel are left
    out (the official code would return NaN).

    Args:
        pred: (N, H, W) predicted depth.
        gt: (N, H, W) ground truth.
        scale, shift: the sequence's alignment, e.g. from `video_depth_metrics`.
        depth_max: validity bound and clip value.
    """
    valid_np = depth_valid_mask(gt, depth_max=depth_max)
    keep = valid_np.any(axis=(-1, -2))
    valid = torch.from_numpy(valid_np[keep])
    a = align_depth(torch.from_numpy(pred[keep].astype(np.float64)), scale, shift, depth_max=depth_max)
    g = torch.from_numpy(gt[keep].astype(np.float64))
    count = valid.sum(dim=(-1, -2))
    ratio = torch.maximum(a / g, g / a)

    def frame_mean(err: torch.Tensor) -> torch.Tensor:
        return torch.where(valid, err, torch.zeros_like(err)).sum(dim=(-1, -2)) / count

    def frames_avg(err: torch.Tensor) -> float:
        return frame_mean(err).mean().item()

    return PerFrameDepthMetrics(
        abs_rel=frames_avg(torch.abs(a - g) / g),
        sq_rel=frames_avg(torch.abs(a - g) ** 2 / g),
        rmse=torch.sqrt(frame_mean((a - g) ** 2)).mean().item(),
        rmse_log=torch.sqrt(frame_mean((torch.log(a) - torch.log(g)) ** 2)).mean().item(),
        delta1=frames_avg((ratio < 1.25).float()),
        delta2=frames_avg((ratio < 1.25 ** 2).float()),
        delta3=frames_avg((ratio < 1.25 ** 3).float()))


def align_in_disparity(disparity: np.ndarray, gt: np.ndarray, *, depth_max: float = DEPTH_MAX) -> np.ndarray:
    """The DepthCrafter / Video Depth Anything alignment (VDA `benchmark/eval/eval.py`): one
    least-squares scale and shift per video fitted in disparity, the protocol of the published
    Depth Anything V2 video-depth rows.

    Args:
        disparity: (N, H, W) predicted inverse depth up to an affine map.
        gt: (N, H, W) ground-truth depth; valid where 1e-3 < gt < depth_max.
        depth_max: validity bound and clip value.

    Returns:
        (N, H, W) float64 aligned depth in [1e-3, depth_max].
    """
    valid = depth_valid_mask(gt, depth_max=depth_max)
    disparity = np.clip(disparity.astype(np.float64), DISP_MIN, None)
    design = np.stack([disparity[valid], np.ones(int(valid.sum()))], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, 1.0 / (gt[valid].astype(np.float64) + 1e-8), rcond=None)
    aligned = np.clip(scale * disparity + shift, DISP_MIN, None)
    return np.clip(1.0 / aligned, GT_MIN, depth_max)


def average_depth_metrics(sequences: list[DepthMetrics]) -> dict[str, float]:
    """Valid-pixel-weighted mean of each official metric over sequences (official key names)."""
    weights = [m.valid_pixels for m in sequences]
    fields = [f for f in OFFICIAL_DEPTH_KEYS if f != "valid_pixels"]
    return {OFFICIAL_DEPTH_KEYS[f]: float(np.average([getattr(m, f) for m in sequences], weights=weights))
            for f in fields}


def align_trajectory(c2w_est: torch.Tensor, c2w_gt: torch.Tensor) -> torch.Tensor:
    """Sim(3)-align estimated poses onto the ground truth by their camera centres (evo's `align`).

    Args:
        c2w_est: (N, 4, 4) estimated camera-to-world poses.
        c2w_gt: (N, 4, 4) ground-truth camera-to-world poses.

    Returns:
        (N, 4, 4) rigid c2w poses in the ground-truth world: rotation R_a R_k and centre
        s R_a t_k + t_a (the scale moves centres only, as evo's `scale` does).
    """
    scale, rot, trans = umeyama_alignment(c2w_est[:, :3, 3], c2w_gt[:, :3, 3])
    est2gt = similarity_matrix(scale, rot, trans)
    aligned = est2gt @ c2w_est
    aligned[:, :3, :3] = rot @ c2w_est[:, :3, :3]
    return aligned


def _rigid(c2w: np.ndarray) -> torch.Tensor:
    """(N, 4, 4) float64 with each rotation replaced by its nearest rotation matrix.

    The official code hands evo quaternions from scipy's `Rotation.from_matrix`
    (`c2w_to_tumpose`), which projects slightly non-orthonormal rotations (float32 optimiser
    output) onto the nearest rotation; so do we.
    """
    c2w_t = torch.as_tensor(c2w, dtype=torch.float64).clone()
    c2w_t[:, :3, :3] = nearest_rotation(c2w_t[:, :3, :3])
    return c2w_t


def pose_metrics(c2w_est: np.ndarray, c2w_gt: np.ndarray) -> PoseMetrics:
    """ATE and RPE (delta 1 frame, all pairs) after Sim(3) alignment, as the official evo call.

    Args:
        c2w_est: (N, 4, 4) estimated camera-to-world poses, paired with the ground truth by row.
        c2w_gt: (N, 4, 4) ground-truth camera-to-world poses.

    Returns:
        PoseMetrics (ATE, RPE translation in GT units, RPE rotation in degrees).

    Raises:
        ValueError: shapes differ or fewer than 3 poses.
    """
    if c2w_est.shape != c2w_gt.shape or c2w_est.shape[1:] != (4, 4) or len(c2w_est) < 3:
        raise ValueError(f"c2w_est, c2w_gt: expected two (N >= 3, 4, 4) arrays, got "
                         f"{c2w_est.shape} and {c2w_gt.shape}")
    gt = _rigid(c2w_gt)
    est = align_trajectory(_rigid(c2w_est), gt)
    ate = torch.linalg.norm(est[:, :3, 3] - gt[:, :3, 3], dim=-1)
    rel_est = torch.linalg.inv(est[:-1]) @ est[1:]  # (N-1, 4, 4) `k+1 -> k`
    rel_gt = torch.linalg.inv(gt[:-1]) @ gt[1:]
    error = torch.linalg.inv(rel_gt) @ rel_est
    rpe_trans = torch.linalg.norm(error[:, :3, 3], dim=-1)
    rpe_rot = torch.rad2deg(rotation_angle(error[:, :3, :3]))

    def rms(values: torch.Tensor) -> float:
        return torch.sqrt(torch.mean(values ** 2)).item()

    return PoseMetrics(ate=rms(ate), rpe_trans=rms(rpe_trans), rpe_rot_deg=rms(rpe_rot))

