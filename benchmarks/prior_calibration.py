"""Prior-alone scores of the simulated priors on held-out synthetic videos, beside published numbers.

    python benchmarks/prior_calibration.py [--videos 24] [--frames 24] [--size 256x144]
                                           [--presets realistic calibrated]

Renders videos from seed 20,000 on (never used in training: the tiny recipe renders seeds 0-149
for training and 10,000-10,019 for its held-out tests), applies each preset's priors and scores
the prior alone against the exact ground truth, per setting (indoor rooms, outdoor scenes):

- "disp" protocol, that of the DepthCrafter and Video Depth Anything tables
  (`benchmark/eval/eval.py` of Video Depth Anything): one least-squares scale and shift per
  video fitted in disparity, depth clipped to [1e-3, depth_max], Abs Rel and delta < 1.25 per
  frame then averaged over frames and videos (`per_frame_depth_metrics` of the aligned depth).
- "depth" protocol, ours and MonST3R's (`video_depth_metrics`): one LAD scale and shift per video
  fitted in depth, pooled pixels, valid-pixel-weighted over videos. Metric (depth-pro) priors only.
- TAE (temporal alignment error, Video Depth Anything `benchmark/eval/eval_tae.py`): after the
  "disp" alignment, the depth of frame k unprojected, moved into frame k+1 with the ground-truth
  pose and intrinsics and compared with the prediction there (Abs Rel, the prediction at k+1 as
  reference), both directions, averaged over the 2 (N - 1) pairs and the videos, in percent
  (`align3r.eval.temporal`: where several pixels land on one, the nearest surface wins, not the
  official last write); moving objects, pixels without a surface and ground truth
  beyond depth_max are left out. The ground truth's own TAE (pixel rounding and disocclusions) is
  printed as the floor.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from align3r.data.synthetic import (
    PRIOR_PRESETS,
    PriorMaps,
    SynthConfig,
    SyntheticSequence,
    generate_sequence,
    simulate_prior,
)
from align3r.eval.metrics import (
    DepthMetrics,
    align_in_disparity,
    average_depth_metrics,
    depth_valid_mask,
    per_frame_depth_metrics,
    video_depth_metrics,
)
from align3r.eval.temporal import temporal_alignment_error

HELD_OUT_SEED = 20_000
DEPTH_MAX = 70.0  # Sintel's bound (the official default); our indoor rooms lie well within it


@dataclass(frozen=True)
class Published:
    """One published prior-alone row."""

    style: str
    """the simulated style it calibrates: depth-anything or depth-pro."""
    setting: str
    """indoor or outdoor: which of our videos it is compared with."""
    protocol: str
    """disp or depth (see the module docstring)."""
    abs_rel: float | None
    """Abs Rel, None where not published."""
    delta1: float | None
    """fraction with max(a/g, g/a) < 1.25, None where not published."""
    tae: float | None
    """temporal alignment error in percent, None where not published."""
    source: str
    """paper, table, row and dataset."""


PUBLISHED = (
    Published("depth-anything", "indoor", "disp", 0.106, 0.921, None,
              "DA-V2-L, Bonn 110 frames (DepthCrafter README v1.0.1 table)"),
    Published("depth-anything", "indoor", "disp", 0.135, 0.822, None,
              "DA-V2-L, ScanNet 90 frames (DepthCrafter README v1.0.1 table)"),
    Published("depth-anything", "indoor", "disp", None, None, 1.140,
              "DA-V2-L, TAE ScanNet 170 frames (Video Depth Anything, Table 1)"),
    Published("depth-anything", "outdoor", "disp", 0.140, 0.804, None,
              "DA-V2-L, KITTI 110 frames (DepthCrafter README v1.0.1 table)"),
    Published("depth-pro", "indoor", "depth", 0.049, 0.986, None,
              "Depth Pro, Bonn 5 x 110 frames, scale and shift per sequence (Uni4D, Table 2)"),
    Published("depth-pro", "indoor", "disp", None, None, 2.73,
              "Depth Pro, TAE ScanNet (Video Depth Anything README, metric models)"),
    Published("depth-pro", "outdoor", "depth", 0.29, 0.628, None,
              "Depth Pro, 6 Sintel sequences (ViPE, Table 3); reference only, Sintel is not our outdoor"),
)


def tae_percent(depth: np.ndarray, intrinsics: np.ndarray, c2w: np.ndarray, keep: np.ndarray) -> float:
    """Temporal alignment error of a video's depth (`align3r.eval.temporal`), percent.

    Args:
        depth: (N, H, W) aligned depth.
        intrinsics: (N, 3, 3) ground-truth K.
        c2w: (N, 4, 4) ground-truth camera-to-world poses.
        keep: (N, H, W) bool pixels that take part (static surfaces with valid ground truth).
    """
    return 100.0 * temporal_alignment_error(depth, c2w, intrinsics, valid=keep).tae


@dataclass(frozen=True)
class VideoScore:
    """One prior on one video."""

    abs_rel: float
    """Abs Rel, "disp" protocol."""
    delta1: float
    """fraction with max(a/g, g/a) < 1.25, "disp" protocol."""
    tae: float
    """temporal alignment error after the "disp" alignment, percent."""
    depth: DepthMetrics | None
    """"depth" protocol (metric priors only), else None."""


def score(sequence: SyntheticSequence, prior: PriorMaps, *, depth_max: float) -> VideoScore:
    """The prior alone against the ground truth under both protocols, and its TAE."""
    gt = np.where(sequence.valid_masks, sequence.depths, 0.0).astype(np.float32)
    if prior.disparity_affine is not None:
        disparity = prior.disparity_affine
    else:
        disparity = 1.0 / prior.depth_metric.astype(np.float64)
    aligned = align_in_disparity(disparity, gt, depth_max=depth_max)
    per_frame = per_frame_depth_metrics(aligned, gt, 1.0, 0.0, depth_max=depth_max)
    keep = depth_valid_mask(gt, depth_max=depth_max) & ~sequence.dynamic_masks
    depth = None if prior.depth_metric is None else video_depth_metrics(prior.depth_metric, gt, depth_max=depth_max)
    return VideoScore(abs_rel=per_frame.abs_rel, delta1=per_frame.delta1,
                      tae=tae_percent(aligned, sequence.intrinsics, sequence.poses_c2w, keep), depth=depth)


def parse_size(text: str) -> tuple[int, int]:
    """"WxH" -> (W, H)."""
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_table(scores: dict[tuple[str, str, str], list[VideoScore]], floor: dict[str, list[float]]) -> None:
    """Markdown tables: ours per (preset, style, setting), the TAE floor, and the published rows."""
    print("| prior | setting | videos | Abs Rel (disp) | δ<1.25 (disp) | Abs Rel (depth) | δ<1.25 (depth) | TAE % |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (preset, style, setting), rows in scores.items():
        metric = [r.depth for r in rows if r.depth is not None]
        depth = average_depth_metrics(metric) if metric else {}
        print(f"| {preset} {style} | {setting} | {len(rows)} | {np.mean([r.abs_rel for r in rows]):.3f} | "
              f"{np.mean([r.delta1 for r in rows]):.3f} | {_fmt(depth.get('Abs Rel'))} | "
              f"{_fmt(depth.get('δ < 1.25'))} | {np.mean([r.tae for r in rows]):.2f} |")
    for setting, values in floor.items():
        print(f"| ground truth (TAE floor) | {setting} | {len(values)} | | | | | {np.mean(values):.2f} |")
    print("\nPublished prior-alone numbers compared with:\n")
    print("| style | setting | protocol | Abs Rel | δ<1.25 | TAE % | source |")
    print("|---|---|---|---:|---:|---:|---|")
    for row in PUBLISHED:
        print(f"| {row.style} | {row.setting} | {row.protocol} | {_fmt(row.abs_rel)} | {_fmt(row.delta1)} | "
              f"{_fmt(row.tae, 2)} | {row.source} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="held-out videos from seed 20,000 (default 24)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video (default 24)")
    parser.add_argument("--size", default="256x144", help="WxH (default 256x144)")
    parser.add_argument("--presets", nargs="+", default=["realistic", "calibrated"], choices=sorted(PRIOR_PRESETS))
    parser.add_argument("--depth-max", type=float, default=DEPTH_MAX, help=f"GT validity bound (default {DEPTH_MAX:g})")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    width, height = parse_size(args.size)
    scores: dict[tuple[str, str, str], list[VideoScore]] = defaultdict(list)
    floor: dict[str, list[float]] = defaultdict(list)
    for seed in range(HELD_OUT_SEED, HELD_OUT_SEED + args.videos):
        sequence = generate_sequence(SynthConfig(frames=args.frames, width=width, height=height, seed=seed, priors=()))
        setting = sequence.meta["resolved"]["setting"]
        gt = np.where(sequence.valid_masks, sequence.depths, 0.0)
        keep = depth_valid_mask(gt, depth_max=args.depth_max) & ~sequence.dynamic_masks
        floor[setting].append(tae_percent(gt, sequence.intrinsics, sequence.poses_c2w, keep))
        for preset in args.presets:
            for config in PRIOR_PRESETS[preset]:
                prior = simulate_prior(sequence.depths, sequence.valid_masks, sequence.intrinsics[:, 0, 0], config,
                                       seed=seed)
                scores[(preset, config.style, setting)].append(score(sequence, prior, depth_max=args.depth_max))
    scores = dict(sorted(scores.items()))
    last_seed = HELD_OUT_SEED + args.videos - 1
    print(f"prior_calibration: {args.videos} held-out videos (seeds {HELD_OUT_SEED}..{last_seed}), "
          f"{args.frames} frames {width}x{height}, depth_max {args.depth_max:g}, torch threads 1\n")
    print_table(scores, floor)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
