"""A quality report that needs no ground truth: confidence, per-edge residuals, pose jumps, depth
consistency between neighbouring frames, the prior's per-frame scale, flags."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from align3r.geometry import rotation_angle, umeyama_alignment
from align3r.infer.pairs import PairPredictions
from align3r.pipeline.aligned_prior import SPACE_OF_KIND, confident_static, fit_frame_scale_shift
from align3r.pipeline.consistency import FlowSource, neighbour_consistency
from align3r.prior.base import PriorMap
from align3r.reconstruction import Reconstruction

LOW_CONFIDENCE = 0.5
"""A frame is flagged when its median confidence is below this fraction of the video's median."""
HIGH_RESIDUAL = 3.0
"""... or when the median residual of its edges is above this multiple of the video's median."""
POSE_JUMP = 5.0
"""... or when its motion from the previous frame is above this multiple of the median motion
and above `MIN_JUMP` (a near-static camera's tiny steps vary a lot in relative terms)."""
MIN_JUMP = {"translation": 0.02, "rotation": 2.0}
"""Smallest step called a jump: 2 % of the median depth, 2 degrees."""
MIN_INCONSISTENCY = 0.05
"""A frame's depth is flagged as inconsistent with its neighbours above `HIGH_RESIDUAL` times the
video's median consistency residual and above this relative residual (5 %)."""
PRIOR_FIT_STRIDE = 2
"""The prior's per-frame scale is fitted on every 2nd pixel in each direction (4x cheaper than
`--aligned-prior`'s full-grid fit of the same function, and as good for a per-frame number)."""


def edge_residuals(rec: Reconstruction, pairs: PairPredictions) -> np.ndarray:
    """How well each pair prediction agrees with the final reconstruction.

    Both point maps of edge (i, j) are fitted with one similarity onto the reconstruction's world
    points of frames i and j (confidence-weighted); the residual is the median distance after the
    fit, relative to the median depth of frame i.

    Returns:
        (E,) float64 relative residuals.
    """
    frames, edges = torch.unique(pairs.edges.long(), return_inverse=True)  # edges: (E, 2) rows of `world`
    world = torch.from_numpy(rec.points_world(frames.numpy())).double()  # only the frames of these edges
    src = torch.cat([pairs.pts3d_i_in_i, pairs.pts3d_j_in_i], dim=1).double().flatten(1, 2)  # (E, 2HW, 3)
    dst = torch.cat([world[edges[:, 0]], world[edges[:, 1]]], dim=1).flatten(1, 2)
    weights = torch.cat([pairs.conf_i, pairs.conf_j], dim=1).double().flatten(1).log()
    scale, rot, trans = umeyama_alignment(src, dst, weights=weights)
    fitted = scale[:, None, None] * (src @ rot.transpose(1, 2)) + trans[:, None]
    distance = (fitted - dst).norm(dim=-1).median(dim=1).values
    depth_i = torch.from_numpy(rec.depths[pairs.edges[:, 0].numpy()]).double().flatten(1).median(dim=1).values
    return (distance / depth_i).numpy()


def pose_steps(poses_c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera motion between consecutive frames: (N-1,) translations and rotations in degrees."""
    c2w = torch.from_numpy(poses_c2w)
    step = torch.linalg.inv(c2w[:-1]) @ c2w[1:]
    return step[:, :3, 3].norm(dim=-1).numpy(), np.degrees(rotation_angle(step[:, :3, :3]).numpy())


def prior_scales(rec: Reconstruction, prior: PriorMap, conf_threshold: float) -> tuple[np.ndarray, float]:
    """How much the prior's scale flickers relative to the reconstruction, frame by frame.

    Each frame's prior is fitted onto the depth with the robust scale and shift of `--aligned-prior`
    (`fit_frame_scale_shift`, in the prior's own space) on the confident static pixels, every
    `PRIOR_FIT_STRIDE`-th pixel.

    Args:
        rec: the reconstruction.
        prior: the prior of its frames on the network grid, (N, H, W).
        conf_threshold: raw confidence a fit pixel must exceed.

    Returns:
        scale: (N,) float64 fitted scales divided by their median over the fitted frames (1: the
            typical frame); NaN where the fit falls back.
        spread: 1.4826 x the median absolute deviation of `scale` from 1 (a robust standard
            deviation: 0.1 means the prior's scale varies by about 10 % between frames); NaN without
            fitted frames.
    """
    step = slice(None, None, PRIOR_FIT_STRIDE)
    mask = confident_static(rec.conf, rec.dynamic_masks, conf_threshold)
    fit = fit_frame_scale_shift(prior.values[:, step, step], rec.depths[:, step, step], mask[:, step, step],
                                space=SPACE_OF_KIND[prior.kind])
    scale = np.where(fit.fallback, np.nan, fit.scale)
    if np.isnan(scale).all():
        return scale, float("nan")
    scale = scale / np.nanmedian(scale)
    return scale, float(1.4826 * np.nanmedian(np.abs(scale - 1)))


def _json_numbers(values: np.ndarray, decimals: int) -> list[float | None]:
    """(N,) floats rounded for JSON, NaN as None."""
    return [None if np.isnan(v) else round(float(v), decimals) for v in values]


def quality_report(rec: Reconstruction, edges: np.ndarray, load_pairs: Callable[[np.ndarray], PairPredictions], *,
                   conf_threshold: float, prior: PriorMap | None = None, flow_of: FlowSource | None = None,
                   chunk: int = 32) -> dict:
    """Per-frame confidence, per-edge residuals, pose jumps, depth consistency, prior scale and the
    frames they flag (JSON-ready).

    Args:
        rec: the reconstruction.
        edges: (E, 2) the pairs that were predicted (global frame indices).
        load_pairs: gives the predictions of a chunk of edges (e.g. `PairStore.load`).
        conf_threshold: raw confidence of the pixels the consistency and the prior fit use (the
            alignment's `min_conf_thr`).
        prior: the prior on the network grid, (N, H, W); None leaves the prior scale out.
        flow_of: stored optical flows (e.g. `PairStore.stored_flow`) for the consistency; None
            (or a pair without one) reprojects with the cameras (`pipeline.consistency`).
        chunk: edges scored at once (bounds memory).
    """
    conf = rec.conf.reshape(rec.num_frames, -1)
    median_conf = np.median(conf, axis=1)
    residual = np.concatenate([edge_residuals(rec, load_pairs(edges[k:k + chunk]))
                               for k in range(0, len(edges), chunk)])
    per_frame = np.array([np.median(residual[(edges == n).any(axis=1)]) if (edges == n).any() else np.nan
                          for n in range(rec.num_frames)])
    moves, turns = pose_steps(rec.poses_c2w)
    consistency, pairs_by = neighbour_consistency(rec, conf_threshold=conf_threshold, flow_of=flow_of)
    scale, spread = prior_scales(rec, prior, conf_threshold) if prior is not None else (None, None)
    reasons: dict[int, list[str]] = {}

    def flag(frames: np.ndarray, why: str) -> None:
        for n in np.flatnonzero(frames):
            reasons.setdefault(int(n), []).append(why)

    flag(median_conf < LOW_CONFIDENCE * np.median(median_conf), "low confidence")
    flag(per_frame > HIGH_RESIDUAL * np.nanmedian(per_frame), "high pair residual")
    floors = {"translation": MIN_JUMP["translation"] * float(np.median(rec.depths)), "rotation": MIN_JUMP["rotation"]}
    for steps, what in ((moves, "translation"), (turns, "rotation")):
        jumps = (steps > POSE_JUMP * np.median(steps)) & (steps > floors[what])
        flag(np.concatenate([[False], jumps]), f"{what} jump")
    if not np.isnan(consistency).all():
        with np.errstate(invalid="ignore"):
            flag((consistency > HIGH_RESIDUAL * np.nanmedian(consistency)) & (consistency > MIN_INCONSISTENCY),
                 "depth inconsistent with neighbours")
    return {"frame_median_conf": median_conf.round(4).tolist(),
            "frame_median_residual": np.nan_to_num(per_frame).round(6).tolist(),
            "edge_residual": {f"{i}_{j}": round(float(r), 6) for (i, j), r in zip(edges.tolist(), residual)},
            "step_translation": moves.round(6).tolist(), "step_rotation_deg": turns.round(4).tolist(),
            "frame_consistency": _json_numbers(consistency, 6), "consistency_pairs": pairs_by,
            "frame_prior_scale": None if scale is None else _json_numbers(scale, 6),
            "prior_scale_spread": None if spread is None or np.isnan(spread) else round(spread, 6),
            "flagged": {rec.names[n]: why for n, why in sorted(reasons.items())}}
