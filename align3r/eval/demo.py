"""`align3r demo`: the paper's claim in miniature, offline, on a synthetic video scored against its exact ground truth.

Renders a held-out dynamic scene (`align3r.data.synthetic`) with its calibrated Depth-Pro-style
prior (the error structure and sizes of real monocular depth on video), reconstructs it with the
shipped Align3R-tiny and with DUSt3R-tiny (the ablation's control: the same network and training
without the prior branch), writes Align3R-tiny's output folder and compares depth (official
per-sequence scale-and-shift protocol) and camera poses (ATE / RPE after Sim(3)) with the ground
truth, next to the depth metrics of the prior alone: the table of `benchmarks/ablation.md` for
one video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from align3r.data.synthetic import PRIOR_PRESETS, SynthConfig, SyntheticSequence, generate_sequence
from align3r.data.synthetic.prior import PriorStyle
from align3r.data.synthetic.simulated_prior import SimulatedPrior
from align3r.eval.metrics import (
    PoseMetrics,
    align_in_disparity,
    aligned_depth_metrics,
    depth_valid_mask,
    fit_sequence_alignment,
    per_frame_depth_metrics,
    pose_metrics,
)
from align3r.eval.temporal import aligned_temporal_alignment_error, temporal_alignment_error
from align3r.infer.preprocess import FrameTransform, frame_transform, resize_maps, transform_intrinsics
from align3r.io.results import save_reconstruction
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.pipeline.resources import PER_SEQUENCE, Resources, ResourceSpec, load_resources
from align3r.reconstruction import Reconstruction

HELD_OUT_SEED = 20_000
"""Seeds from here on are never used in the tiny model's training (0-149) or its held-out tests
(10,000-10,019)."""
DEMO_VIDEO = SynthConfig(frames=24, width=170, height=96, seed=HELD_OUT_SEED + 2, priors=PRIOR_PRESETS["calibrated"])
"""The tiny model's training domain: 170x96 frames, network input long side 128, the calibrated
priors; the first held-out seed whose camera travels (20,000 and 20,001 only rotate, where ATE is
0 after Sim(3))."""
DEMO_RECONSTRUCTION = ReconstructConfig(size=128, flow="dis")
"""Official demo settings at the tiny model's size, with OpenCV's DIS flow (offline)."""
DEMO_STYLE: PriorStyle = "depth-pro"
"""The prior the shipped `tiny` was trained with."""
DEMO_MODELS = {"DUSt3R-tiny": "tiny-dust3r", "Align3R-tiny": "tiny"}
"""The demo's rows: packaged model names of the ablation's control (c) and Align3R-tiny (b)."""


@dataclass(frozen=True, eq=False)
class GridTruth:
    """A synthetic video's ground truth on the grid the network runs on."""

    transform: FrameTransform
    depths: np.ndarray
    """(N, H, W) depth, 0 where the frame has no surface."""
    intrinsics: np.ndarray
    """(N, 3, 3) K of the network grid."""
    poses_c2w: np.ndarray
    """(N, 4, 4) camera-to-world poses."""


@dataclass(frozen=True)
class DepthScore:
    """A depth video against the ground truth under one per-video alignment."""

    abs_rel: float
    delta1: float
    """fraction with max(a/g, g/a) < 1.25."""
    tae: float
    """temporal alignment error (`align3r.eval.temporal`) of the aligned depth, a fraction."""


@dataclass(frozen=True)
class PriorScore:
    """The prior alone against the ground truth."""

    depth: DepthScore | None
    """"depth" protocol; None for an affine disparity, which has no depth to align."""
    disp: DepthScore
    """"disp" protocol."""


@dataclass(frozen=True)
class MethodScore:
    """A reconstruction and its scores against the ground truth."""

    reconstruction: Reconstruction
    depth: DepthScore
    disp: DepthScore
    pose: PoseMetrics


@dataclass(frozen=True)
class DemoResult:
    """The prior alone and each method on one video."""

    prior: PriorScore
    methods: dict[str, MethodScore]

    @property
    def written(self) -> Reconstruction:
        """The reconstruction `run_demo` writes: the last method's."""
        return list(self.methods.values())[-1].reconstruction


def demo_resources(model: str = "tiny") -> Resources:
    """A network and the demo's flow estimator on the CPU (the prior is each video's own simulated one)."""
    return load_resources(ResourceSpec(model=model, prior=PER_SEQUENCE, flow=DEMO_RECONSTRUCTION.flow, device="cpu"))


def grid_truth(sequence: SyntheticSequence, config: ReconstructConfig = DEMO_RECONSTRUCTION) -> GridTruth:
    """The sequence's ground truth on the grid `config` runs the network on."""
    transform = frame_transform(*sequence.images.shape[1:3], size=config.size, crop=config.crop)
    intrinsics = transform_intrinsics(torch.from_numpy(np.asarray(sequence.intrinsics, np.float64)), transform)
    return GridTruth(transform, resize_maps(np.where(sequence.valid_masks, sequence.depths, 0), transform),
                     intrinsics.numpy(), sequence.poses_c2w)


def score_in_depth(pred: np.ndarray, truth: GridTruth) -> DepthScore:
    """The "depth" protocol (official): one LAD scale and shift per video fitted in depth
    (`video_depth_metrics`), shared by Abs Rel, delta < 1.25 and TAE.

    Args:
        pred: (N, H, W) depth on the truth's grid, any positive scale.
    """
    alignment = fit_sequence_alignment(pred, truth.depths)
    metrics = aligned_depth_metrics(pred, truth.depths, alignment)
    tae = aligned_temporal_alignment_error(pred, truth.poses_c2w, truth.intrinsics, alignment)
    return DepthScore(metrics.abs_rel, metrics.delta1, tae.tae)


def score_in_disparity(disparity: np.ndarray, truth: GridTruth) -> DepthScore:
    """The "disp" protocol (DepthCrafter / Video Depth Anything): one least-squares scale and shift per
    video fitted in disparity (`align_in_disparity`), per-frame Abs Rel and delta < 1.25 averaged over
    frames, TAE of the aligned depth.

    Args:
        disparity: (N, H, W) inverse depth up to an affine map, on the truth's grid.
    """
    aligned = align_in_disparity(disparity, truth.depths)
    metrics = per_frame_depth_metrics(aligned, truth.depths, 1.0, 0.0)
    tae = temporal_alignment_error(aligned, truth.poses_c2w, truth.intrinsics, valid=depth_valid_mask(truth.depths))
    return DepthScore(metrics.abs_rel, metrics.delta1, tae.tae)


def _simulated_prior(sequence: SyntheticSequence, style: PriorStyle) -> tuple[SimulatedPrior, list[str]]:
    names = [f"{i:06d}" for i in range(len(sequence.images))]
    return SimulatedPrior.from_maps(sequence.priors[style], names), names


def score_prior(sequence: SyntheticSequence, style: PriorStyle = DEMO_STYLE,
                config: ReconstructConfig = DEMO_RECONSTRUCTION) -> PriorScore:
    """The simulated prior of one style alone, on the network's grid, under both protocols."""
    prior, names = _simulated_prior(sequence, style)
    truth = grid_truth(sequence, config)
    estimate = prior.estimate(sequence.images, names)
    values = resize_maps(estimate.values, truth.transform).astype(np.float64)
    if estimate.kind == "disparity_affine":
        return PriorScore(None, score_in_disparity(values, truth))
    return PriorScore(score_in_depth(values, truth), score_in_disparity(1.0 / values, truth))


def score_sequence(sequence: SyntheticSequence, resources: Resources,
                   config: ReconstructConfig = DEMO_RECONSTRUCTION, style: PriorStyle = DEMO_STYLE) -> MethodScore:
    """Reconstruct a synthetic sequence with its simulated prior of `style` and score it against its GT."""
    prior, names = _simulated_prior(sequence, style)
    rec = reconstruct(sequence.images, resources.model, prior, config, names=names, flow=resources.flow)
    truth = grid_truth(sequence, config)
    return MethodScore(rec, score_in_depth(rec.depths, truth), score_in_disparity(1.0 / rec.depths, truth),
                       pose_metrics(rec.poses_c2w, sequence.poses_c2w))


def run_demo(out: str | os.PathLike, *, video: SynthConfig = DEMO_VIDEO, models: dict[str, str] | None = None,
             config: ReconstructConfig = DEMO_RECONSTRUCTION, overwrite: bool = False) -> DemoResult:
    """Reconstruct a held-out synthetic video with each model (default `DEMO_MODELS`), score them and
    the prior alone, and write the last model's reconstruction into `out`."""
    sequence = generate_sequence(video)
    methods = {name: score_sequence(sequence, demo_resources(model), config)
               for name, model in (models or DEMO_MODELS).items()}
    result = DemoResult(score_prior(sequence, config=config), methods)
    save_reconstruction(result.written, out, overwrite=overwrite)
    return result


def report(result: DemoResult) -> str:
    """A markdown table of the scores (depth: the official "depth" protocol; TAE in percent)."""
    prior = result.prior.depth
    lines = ["| | Abs Rel | δ<1.25 | TAE % | ATE | RPE trans | RPE rot (°) |", "|---|---:|---:|---:|---:|---:|---:|",
             f"| prior alone | {prior.abs_rel:.4f} | {prior.delta1:.4f} | {100 * prior.tae:.2f} | – | – | – |"]
    lines += [f"| {name} | {m.depth.abs_rel:.4f} | {m.depth.delta1:.4f} | {100 * m.depth.tae:.2f} | {m.pose.ate:.4f} | "
              f"{m.pose.rpe_trans:.4f} | {m.pose.rpe_rot_deg:.3f} |" for name, m in result.methods.items()]
    return "\n".join(lines)
