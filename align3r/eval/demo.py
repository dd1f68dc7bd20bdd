"""`align3r demo`: the whole pipeline offline on a synthetic video, scored against its exact ground truth.

Renders a dynamic scene (`align3r.data.synthetic`), simulates a Depth-Pro-style prior, reconstructs it with
the shipped `tiny` model, writes the output folder and compares depth (official per-sequence
scale-and-shift protocol) and camera poses (ATE / RPE after Sim(3)) with the ground truth, next
to the same depth metrics of the prior alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from align3r.data.synthetic import SynthConfig, SyntheticSequence, generate_sequence
from align3r.data.synthetic.simulated_prior import SimulatedPrior
from align3r.eval.metrics import DepthMetrics, PoseMetrics, pose_metrics, video_depth_metrics
from align3r.infer.preprocess import frame_transform, resize_map
from align3r.io.results import save_reconstruction
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.pipeline.resources import PER_SEQUENCE, Resources, ResourceSpec, load_resources
from align3r.reconstruction import Reconstruction

HELD_OUT_SEED = 20_000
"""Seeds from here on are never used in the tiny model's training (0-149) or its held-out tests
(10,000-10,019)."""
DEMO_VIDEO = SynthConfig(frames=24, width=170, height=96, seed=HELD_OUT_SEED + 2)
"""The tiny model's training domain: 170x96 frames, network input long side 128; the first
held-out seed whose camera travels (20,000 and 20,001 only rotate, where ATE is 0 after Sim(3))."""
DEMO_RECONSTRUCTION = ReconstructConfig(size=128, flow="dis")
"""Official demo settings at the tiny model's size, with OpenCV's DIS flow (offline)."""


@dataclass(frozen=True)
class DemoResult:
    """The reconstruction and its scores against the ground truth."""

    reconstruction: Reconstruction
    depth: DepthMetrics
    prior_depth: DepthMetrics
    pose: PoseMetrics


def demo_resources(model: str = "tiny") -> Resources:
    """The demo's network and flow estimator on the CPU (the prior is each video's own simulated one)."""
    return load_resources(ResourceSpec(model=model, prior=PER_SEQUENCE, flow=DEMO_RECONSTRUCTION.flow, device="cpu"))


def score_sequence(sequence: SyntheticSequence, resources: Resources,
                   config: ReconstructConfig = DEMO_RECONSTRUCTION) -> DemoResult:
    """Reconstruct a synthetic sequence with its Depth-Pro-style prior and score it against its GT."""
    names = [f"{i:06d}" for i in range(len(sequence.images))]
    prior = SimulatedPrior.from_maps(sequence.priors["depth-pro"], names)
    rec = reconstruct(sequence.images, resources.model, prior, config, names=names, flow=resources.flow)
    transform = frame_transform(*sequence.images.shape[1:3], size=config.size, crop=config.crop)
    gt = np.stack([resize_map(d, transform) for d in np.where(sequence.valid_masks, sequence.depths, 0)])
    prior_values = np.stack([resize_map(p, transform) for p in prior.estimate(sequence.images, names).values])
    return DemoResult(rec, video_depth_metrics(rec.depths, gt), video_depth_metrics(prior_values, gt),
                      pose_metrics(rec.poses_c2w, sequence.poses_c2w))


def run_demo(out: str | os.PathLike, *, video: SynthConfig = DEMO_VIDEO, resources: Resources | None = None,
             config: ReconstructConfig = DEMO_RECONSTRUCTION, overwrite: bool = False) -> DemoResult:
    """Reconstruct a held-out synthetic video into `out` and score it (default resources: `demo_resources()`)."""
    result = score_sequence(generate_sequence(video), resources or demo_resources(), config)
    save_reconstruction(result.reconstruction, out, overwrite=overwrite)
    return result


def report(result: DemoResult) -> str:
    """A markdown table of the scores."""
    lines = ["| | Abs Rel | δ<1.25 | ATE | RPE trans | RPE rot (°) |", "|---|---:|---:|---:|---:|---:|",
             (f"| align3r (tiny) | {result.depth.abs_rel:.4f} | {result.depth.delta1:.4f} | {result.pose.ate:.4f} | "
             f"{result.pose.rpe_trans:.4f} | {result.pose.rpe_rot_deg:.3f} |"),
             f"| prior alone | {result.prior_depth.abs_rel:.4f} | {result.prior_depth.delta1:.4f} | – | – | – |"]
    return "\n".join(lines)
