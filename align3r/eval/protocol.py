"""The evaluation protocols over a whole benchmark: per-sequence metrics and the official averages.

Depth (docs/evaluation.md §1.4-1.5): all evaluated frames of a sequence pooled, one alignment per
sequence, the dataset average weighted by valid pixels. Protocols:
- `scale-shift` (default, official `--align_with_lad`): LAD scale and shift.
- `scale-shift-lstsq` (official `--align_with_lstsq`): least-squares scale and shift.
- `scale`: one scale per sequence, the protocol of newer papers (MonST3R / CUT3R
  `align_with_scale`): the L1 scale by 10 Weiszfeld iterations from mean(g) / mean(p), clamped
  to >= 1e-3 (in float64, as are its metrics); validity mask and clipping as the official protocol.
Every depth row of a sequence (the prediction, and the prior alone and the aligned prior where the
predictions hold them, `predictions.ROW_ORDER`) is aligned and scored alone under the protocol, on
the pixels its maps cover. Where the dataset stores every frame's camera, each row also gets the
temporal alignment error `TAE` of its aligned depth (`eval.temporal`; the same alignment and
pixels), averaged over sequences as a plain mean.
Pose (§2.4): Sim(3) alignment, ATE / RPE per sequence, the dataset average a plain mean.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from align3r.errors import InputError
from align3r.eval import predictions
from align3r.eval.datasets import EvalDataset, Task
from align3r.eval.metrics import (
    DepthAlign,
    DepthMetrics,
    SequenceAlignment,
    aligned_depth_metrics,
    average_depth_metrics,
    fit_sequence_alignment,
    per_frame_depth_metrics,
    pose_metrics,
)
from align3r.eval.temporal import aligned_temporal_alignment_error
from align3r.io.progress import track

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
DEPTH_ALIGN: dict[ProtocolName, DepthAlign] = {"scale-shift": "lad", "scale-shift-lstsq": "lstsq", "scale": "scale"}
"""Depth protocol -> the alignment `fit_sequence_alignment` fits."""
POSE_KEYS = ("ATE", "RPE trans", "RPE rot")
TAE_KEY = "TAE"


@dataclass(frozen=True)
class MetricRow:
    """One depth row of the table over the whole benchmark."""

    sequences: dict[str, dict[str, float]]
    """sequence -> metric -> value (official key names, `valid_pixels`, `scale`, `shift`, `TAE`)."""
    average: dict[str, float]
    """metric -> dataset average (valid-pixel weighted; TAE: plain mean over sequences)."""


@dataclass(frozen=True)
class BenchmarkResult:
    """Metrics of one benchmark run, in official key names."""

    task: Task
    dataset: str
    protocol: ProtocolName
    sequences: dict[str, dict[str, float]]
    """sequence -> metric -> value of the predictions (depth also `valid_pixels`, `scale`, `shift`, and
    `TAE` where the dataset has every frame's camera)."""
    average: dict[str, float]
    """metric -> dataset average (depth: valid-pixel weighted, TAE a plain mean; pose: plain mean)."""
    depth_max: float | None
    """validity bound and clip of the depth protocol; None for pose."""
    rows: dict[str, MetricRow] = field(default_factory=dict)
    """depth: the table's further rows by name (`prior`, `aligned_prior`), where every sequence has them."""
    missing: tuple[str, ...] = ()
    """official sequences absent from the dataset folder; the others were evaluated."""

    @property
    def complete(self) -> bool:
        """Whether every official sequence was evaluated (True for datasets without an official list)."""
        return not self.missing


def scale_only_metrics(pred: np.ndarray, gt: np.ndarray, alignment: SequenceAlignment, *,
                       depth_max: float) -> DepthMetrics:
    """Pooled metrics of one sequence under the scale-only protocol, in float64.

    Args:
        pred: (N, H, W) predicted depth at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth.
        alignment: the sequence's valid pixels and Weiszfeld scale (shift 0).
        depth_max: clip value.
    """
    valid = alignment.valid
    # The pooled metrics are the per-frame metrics of one frame holding every valid pixel.
    pooled = per_frame_depth_metrics(pred[valid][None, None], gt[valid][None, None], alignment.scale, 0.0,
                                     depth_max=depth_max)
    return DepthMetrics(abs_rel=pooled.abs_rel, sq_rel=pooled.sq_rel, rmse=pooled.rmse, log_rmse=pooled.rmse_log,
                        delta1=pooled.delta1, delta2=pooled.delta2, delta3=pooled.delta3,
                        valid_pixels=int(valid.sum()), scale=alignment.scale, shift=0.0)


def sequence_depth_metrics(pred: np.ndarray, gt: np.ndarray, protocol: ProtocolName, *,
                           depth_max: float) -> tuple[DepthMetrics, SequenceAlignment]:
    """Metrics of one sequence and the alignment they were computed under.

    Args:
        pred: (N, H, W) prediction at the ground truth's resolution.
        gt: (N, H, W) ground truth; NaN where the prediction does not cover it.
        protocol: a depth protocol.
        depth_max: validity bound and clip value.

    Raises:
        ValueError: shapes differ or no pixel is valid.
    """
    alignment = fit_sequence_alignment(pred, gt, align=DEPTH_ALIGN[protocol], depth_max=depth_max)
    if protocol == "scale":
        return scale_only_metrics(pred, gt, alignment, depth_max=depth_max), alignment
    return aligned_depth_metrics(pred, gt, alignment, depth_max=depth_max), alignment


def _row_values(pred: np.ndarray, gt: np.ndarray, protocol: ProtocolName, cameras: tuple[np.ndarray, np.ndarray] | None,
                depth_max: float) -> tuple[DepthMetrics, dict[str, float]]:
    """One row of one sequence: its DepthMetrics and the table's values (TAE when `cameras` are given)."""
    metrics, alignment = sequence_depth_metrics(pred, gt, protocol, depth_max=depth_max)
    values = metrics.as_official_dict() | {"scale": metrics.scale, "shift": metrics.shift}
    if cameras is not None:
        values[TAE_KEY] = aligned_temporal_alignment_error(pred, *cameras, alignment, depth_max=depth_max).tae
    return metrics, values


def _metric_row(metrics: list[DepthMetrics], values: dict[str, dict[str, float]]) -> MetricRow:
    """A row's sequences and averages: valid-pixel weighted metrics, TAE a plain mean where present."""
    average = average_depth_metrics(metrics)
    tae = [v[TAE_KEY] for v in values.values() if TAE_KEY in v]
    if tae:
        average[TAE_KEY] = float(np.mean(tae))
    return MetricRow(sequences=values, average=average)


def _common_rows(plans: dict[str, predictions.SequencePrediction]) -> list[str]:
    """The depth rows every sequence has, in table order; a row some sequences lack is logged and left out."""
    found = [set(plan.rows) for plan in plans.values()]
    common = set.intersection(*found)
    for row in set.union(*found) - common:
        logger.warning("%s/ is missing in some sequences; its row is left out", row)
    return [row for row in predictions.ROW_ORDER if row in common]


def evaluate_depth(dataset: EvalDataset, pred_root: Path, protocol: ProtocolName = "scale-shift") -> BenchmarkResult:
    """Depth metrics (and TAE) of every depth row of the saved predictions in `pred_root` against `dataset`.

    Every sequence's prediction folder is checked before any metric is computed.

    Raises:
        InputError: a missing sequence or frame, unreadable or unmappable files, a sequence without valid depth.
    """
    sequences = dataset.sequences()
    plans = {s: predictions.sequence_prediction(predictions.prediction_folder(pred_root, s),
                                                len(dataset.image_paths(s, "depth"))) for s in sequences}
    rows = _common_rows(plans)
    metrics: dict[str, list[DepthMetrics]] = {row: [] for row in rows}
    values: dict[str, dict[str, dict[str, float]]] = {row: {} for row in rows}
    for sequence in track(sequences, stage="eval depth", total=len(sequences), unit="seq"):
        gt = dataset.depth_gt(sequence)
        cameras = dataset.depth_cameras(sequence)
        plan = plans[sequence]
        for row in rows:
            pred, covered = predictions.read_depths(plan.rows[row], gt.shape[1:], len(gt), plan.transform)
            try:
                row_metrics, values[row][sequence] = _row_values(pred, np.where(covered, gt, np.nan), protocol,
                                                                 cameras, dataset.depth_max)
            except ValueError as err:
                raise InputError(f"{dataset.name} sequence {sequence} ({row}): {err}") from None
            metrics[row].append(row_metrics)
            logger.info("%s %s %s: Abs Rel %.4f", dataset.name, sequence, row, row_metrics.abs_rel)
    table = {row: _metric_row(metrics[row], values[row]) for row in rows}
    main = table.pop(predictions.PREDICTION_ROW)
    return BenchmarkResult(task="depth", dataset=dataset.name, protocol=protocol, sequences=main.sequences,
                           average=main.average, depth_max=dataset.depth_max, rows=table,
                           missing=tuple(dataset.missing_sequences()))


def evaluate_pose(dataset: EvalDataset, pred_root: Path) -> BenchmarkResult:
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
    for sequence in track(sequences, stage="eval pose", total=len(sequences), unit="seq"):
        try:
            metrics = pose_metrics(trajectories[sequence], dataset.pose_gt(sequence))
        except ValueError as err:
            raise InputError(f"{dataset.name} sequence {sequence}: {err}") from None
        results[sequence] = dict(zip(POSE_KEYS, (metrics.ate, metrics.rpe_trans, metrics.rpe_rot_deg)))
    average = {key: float(np.mean([r[key] for r in results.values()])) for key in POSE_KEYS}
    return BenchmarkResult(task="pose", dataset=dataset.name, protocol="sim3", sequences=results,
                           average=average, depth_max=None, missing=tuple(dataset.missing_sequences()))
