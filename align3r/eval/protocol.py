"""The evaluation protocols over a whole benchmark: per-sequence metrics and the official averages.

Depth (docs/evaluation.md §1.4-1.5): all evaluated frames of a sequence pooled, one alignment per
sequence, the dataset average weighted by valid pixels. Protocols:
- `scale-shift` (default, official `--align_with_lad`): LAD scale and shift.
- `scale-shift-lstsq` (official `--align_with_lstsq`): least-squares scale and shift.
- `scale`: one scale per sequence, the protocol of newer papers (MonST3R / CUT3R
  `align_with_scale`): the L1 scale by 10 Weiszfeld iterations from mean(g) / mean(p), clamped
  to >= 1e-3 (in float64, as are its metrics); validity mask and clipping as the official protocol.
Pose (§2.4): Sim(3) alignment, ATE / RPE per sequence, the dataset average a plain mean.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from align3r.errors import InputError
from align3r.eval import predictions
from align3r.eval.datasets import EvalDataset, Task
from align3r.eval.metrics import (DepthMetrics, average_depth_metrics, depth_valid_mask, per_frame_depth_metrics,
                                  pose_metrics, video_depth_metrics)

logger = logging.getLogger(__name__)

ProtocolName = Literal["scale-shift", "scale-shift-lstsq", "scale", "sim3"]
PROTOCOLS: dict[ProtocolName, str] = {
    "scale-shift": "per-sequence scale & shift (LAD, official)",
    "scale-shift-lstsq": "per-sequence scale & shift (least squares)",
    "scale": "per-sequence scale only (Weiszfeld L1)",
    "sim3": "per-sequence Sim(3) alignment (official)",
}
"""Protocol name -> the title every table and metrics.json carries."""
TASK_PROTOCOLS: dict[Task, tuple[ProtocolName, ...]] = {"depth": ("scale-shift", "scale-shift-lstsq", "scale"),
                                                        "pose": ("sim3",)}
SCALE_MIN = 1e-3
WEISZFELD_ITERATIONS = 10
WEISZFELD_EPS = 1e-8
POSE_KEYS = ("ATE", "RPE trans", "RPE rot")


@dataclass(frozen=True)
class BenchmarkResult:
    """Metrics of one benchmark run, in official key names."""

    task: Task
    dataset: str
    protocol: ProtocolName
    sequences: dict[str, dict[str, float]]
    """sequence -> metric -> value (depth also `valid_pixels`, `scale`, `shift`)."""
    average: dict[str, float]
    """metric -> dataset average (depth: valid-pixel weighted; pose: plain mean)."""
    depth_max: float | None
    """validity bound and clip of the depth protocol; None for pose."""


def fit_scale_weiszfeld(pred: np.ndarray, gt: np.ndarray) -> float:
    """The L1 scale s minimising sum |s p - g|, as `align_with_scale` computes it (in float64).

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


def scale_only_metrics(pred: np.ndarray, gt: np.ndarray, *, depth_max: float) -> DepthMetrics:
    """Pooled metrics of one sequence under the scale-only protocol.

    Args:
        pred: (N, H, W) predicted depth at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth.
        depth_max: validity bound and clip value.
    """
    valid = depth_valid_mask(gt, depth_max=depth_max)
    if not valid.any():
        raise ValueError(f"gt: no pixel with valid depth below {depth_max}")
    scale = fit_scale_weiszfeld(pred[valid], gt[valid])
    # The pooled metrics are the per-frame metrics of one frame holding every valid pixel.
    pooled = per_frame_depth_metrics(pred[valid][None, None], gt[valid][None, None], scale, 0.0, depth_max=depth_max)
    return DepthMetrics(abs_rel=pooled.abs_rel, sq_rel=pooled.sq_rel, rmse=pooled.rmse, log_rmse=pooled.rmse_log,
                        delta1=pooled.delta1, delta2=pooled.delta2, delta3=pooled.delta3,
                        valid_pixels=int(valid.sum()), scale=scale, shift=0.0)


def sequence_depth_metrics(pred: np.ndarray, gt: np.ndarray, protocol: ProtocolName, *,
                           depth_max: float) -> DepthMetrics:
    """Metrics of one sequence: (N, H, W) prediction and ground truth of equal shape."""
    if protocol == "scale":
        return scale_only_metrics(pred, gt, depth_max=depth_max)
    return video_depth_metrics(pred, gt, align="lad" if protocol == "scale-shift" else "lstsq", depth_max=depth_max)


def _progress(sequences: list[str], task: Task, quiet: bool) -> tqdm:
    return tqdm(sequences, desc=f"eval {task}", unit="seq", disable=quiet or not sys.stderr.isatty())


def evaluate_depth(dataset: EvalDataset, pred_root: Path, protocol: ProtocolName = "scale-shift", *,
                   quiet: bool = False) -> BenchmarkResult:
    """Depth metrics of the saved predictions in `pred_root` against `dataset`.

    Every sequence's prediction folder is checked before any metric is computed.

    Raises:
        InputError: a missing sequence or frame, unreadable files, a sequence without valid depth.
    """
    sequences = dataset.sequences()
    folders = {s: predictions.prediction_folder(pred_root, s) for s in sequences}
    for sequence in sequences:
        predictions.depth_files(folders[sequence], len(dataset.image_paths(sequence, "depth")))
    results = {}
    for sequence in _progress(sequences, "depth", quiet):
        gt = dataset.depth_gt(sequence)
        pred = predictions.read_depths(folders[sequence], gt.shape[1:], len(gt))
        try:
            results[sequence] = sequence_depth_metrics(pred, gt, protocol, depth_max=dataset.depth_max)
        except ValueError as err:
            raise InputError(f"{dataset.name} sequence {sequence}: {err}") from None
        logger.info("%s %s: Abs Rel %.4f", dataset.name, sequence, results[sequence].abs_rel)
    per_sequence = {s: m.as_official_dict() | {"scale": m.scale, "shift": m.shift} for s, m in results.items()}
    average = average_depth_metrics(list(results.values()))
    return BenchmarkResult(task="depth", dataset=dataset.name, protocol=protocol, sequences=per_sequence,
                           average=average, depth_max=dataset.depth_max)


def evaluate_pose(dataset: EvalDataset, pred_root: Path, *, quiet: bool = False) -> BenchmarkResult:
    """ATE / RPE of the saved trajectories in `pred_root` against `dataset` (plain mean over sequences).

    Raises:
        InputError: a missing sequence, a trajectory of the wrong length, fewer than 3 poses.
    """
    if "pose" not in dataset.tasks:
        raise InputError(f"{dataset.name} has no camera ground truth; evaluate depth instead")
    sequences = dataset.sequences()
    folders = {s: predictions.prediction_folder(pred_root, s) for s in sequences}
    trajectories = {s: predictions.read_poses(folders[s], len(dataset.image_paths(s, "pose"))) for s in sequences}
    results = {}
    for sequence in _progress(sequences, "pose", quiet):
        try:
            metrics = pose_metrics(trajectories[sequence], dataset.pose_gt(sequence))
        except ValueError as err:
            raise InputError(f"{dataset.name} sequence {sequence}: {err}") from None
        results[sequence] = dict(zip(POSE_KEYS, (metrics.ate, metrics.rpe_trans, metrics.rpe_rot_deg)))
    average = {key: float(np.mean([r[key] for r in results.values()])) for key in POSE_KEYS}
    return BenchmarkResult(task="pose", dataset=dataset.name, protocol="sim3", sequences=results,
                           average=average, depth_max=None)
