"""Consistency benchmark: the prior alone, align3r-tiny and the aligned prior on held-out synthetic videos.

    python benchmarks/consistency.py [--videos 10] [--out benchmarks/consistency.md]

Renders `--videos` held-out synthetic videos like the demo's (`align3r.eval.demo.DEMO_VIDEO`: 24
frames of 170x96, the tiny model's domain; seeds from `HELD_OUT_SEED` = 20,000 on, never used in
training) with the `calibrated` simulated priors (benchmarks/prior_calibration.md) and, for each
prior style (`depth-pro`: metric depth; `depth-anything`: affine disparity), scores three depths
on the network grid against the ground truth built as `align3r.eval.demo.score_sequence` builds it:

1. prior alone: the prior resized to the network grid, a disparity prior inverted to depth as the
   evaluation's `prior alone` row does (`align3r.eval.pipeline.prior_depth`), then scored like
   any depth;
2. align3r (tiny): `reconstruct` with the shipped tiny model trained with that style's prior
   (`MODELS`) at the demo's settings
   (`DEMO_RECONSTRUCTION`: size 128, DIS flow, preset `align3r`);
3. aligned prior: each prior frame mapped onto align3r's depth by its own robust scale and shift
   (`aligned_prior_depth`, in the prior's own space) on the confident static pixels
   (`confident_static`, confidence above the `align3r` preset's `min_conf_thr`), weighted by the
   confidence.

Each depth gets one LAD scale and shift per video fitted in depth (`fit_sequence_alignment`, the
protocol of `video_depth_metrics`), shared by Abs Rel, delta < 1.25 (`aligned_depth_metrics`) and
TAE (`aligned_temporal_alignment_error` with the ground-truth poses and the ground-truth intrinsics
mapped to the network grid). The ground truth's own TAE (pixel rounding, disocclusions, moving
objects) is the floor. Writes the table, the settings and a
reading computed from the numbers to `--out`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import torch

from align3r.align.config import PRESETS
from align3r.data.synthetic import PRIOR_PRESETS, SyntheticSequence, generate_sequence
from align3r.data.synthetic.simulated_prior import SimulatedPrior
from align3r.eval.demo import (
    DEMO_RECONSTRUCTION,
    DEMO_VIDEO,
    HELD_OUT_SEED,
    DepthScore,
    GridTruth,
    demo_resources,
    grid_truth,
    score_in_depth,
)
from align3r.eval.metrics import depth_valid_mask
from align3r.eval.pipeline import DISPARITY_FLOOR, prior_depth
from align3r.eval.temporal import temporal_alignment_error
from align3r.infer.preprocess import resize_maps
from align3r.pipeline.aligned_prior import aligned_prior_depth, confident_static
from align3r.pipeline.reconstruct import reconstruct
from align3r.pipeline.resources import Resources

STYLES = ("depth-pro", "depth-anything")
MODELS = {"depth-pro": "tiny", "depth-anything": "tiny-depthanything"}
"""The packaged tiny model trained with each style's prior."""
PRIOR, TINY, ALIGNED = "prior alone", "align3r (tiny)", "aligned prior"
PRIOR_PRESET = "calibrated"
MIN_CONF_THR = PRESETS["align3r"][0].min_conf_thr
METRICS = {"abs_rel": ("Abs Rel", 1.0, 4), "tae": ("TAE %", 100.0, 2)}
"""metric -> (label, factor, decimals) in the reading."""


def score_style(sequence: SyntheticSequence, truth: GridTruth, style: str,
                resources: Resources) -> tuple[dict[str, DepthScore], int]:
    """The three depths of one video reconstructed with its prior of `style`, scored against the truth,
    and the number of frames whose prior fit fell back to align3r's depth."""
    names = [f"{i:06d}" for i in range(len(sequence.images))]
    prior = SimulatedPrior.from_maps(sequence.priors[style], names)
    rec = reconstruct(sequence.images, resources.model, prior, DEMO_RECONSTRUCTION, names=names, flow=resources.flow)
    prior_map = prior.estimate(sequence.images, names)
    mask = confident_static(rec.conf, rec.dynamic_masks, MIN_CONF_THR)
    aligned = aligned_prior_depth(resize_maps(prior_map.values, truth.transform), prior_map.kind, rec.depths, mask,
                                  weights=rec.conf)
    depths = {PRIOR: resize_maps(prior_depth(prior_map), truth.transform), TINY: rec.depths, ALIGNED: aligned.depths}
    return {name: score_in_depth(depth, truth) for name, depth in depths.items()}, int(aligned.fallback.sum())


def mean_std(values: list[float], digits: int) -> str:
    """`mean ± std` (population std over the videos)."""
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def table(scores: dict[str, list[dict[str, DepthScore]]], floor: list[float]) -> str:
    """Markdown table: each style's three depths, mean ± std over the videos (TAE in percent, also its median)."""
    lines = ["| prior style | depth | Abs Rel | δ<1.25 | TAE % | TAE % median |", "|---|---|---:|---:|---:|---:|"]
    for style, videos in scores.items():
        for name in (PRIOR, TINY, ALIGNED):
            rows = [video[name] for video in videos]
            lines.append(f"| {style} | {name} | {mean_std([r.abs_rel for r in rows], 4)} | "
                         f"{mean_std([r.delta1 for r in rows], 4)} | {mean_std([100 * r.tae for r in rows], 2)} | "
                         f"{np.median([100 * r.tae for r in rows]):.2f} |")
    lines.append(f"| – | ground truth (TAE floor) | | | {mean_std([100 * t for t in floor], 2)} | "
                 f"{np.median([100 * t for t in floor]):.2f} |")
    return "\n".join(lines)


def comparison(videos: list[dict[str, DepthScore]], metric: str, ours: str, other: str) -> str:
    """`metric` ("abs_rel" or "tae") of depth `ours` against `other`: means and on how many videos it is lower."""
    label, factor, digits = METRICS[metric]
    a = [factor * getattr(video[ours], metric) for video in videos]
    b = [factor * getattr(video[other], metric) for video in videos]
    wins = sum(x < y for x, y in zip(a, b))
    return (f"{label} of {ours} {np.mean(a):.{digits}f} against {other} {np.mean(b):.{digits}f} "
            f"(lower on {wins} of {len(videos)} videos)")


def reading(scores: dict[str, list[dict[str, DepthScore]]], fallbacks: dict[str, int], frames: int,
            seeds: list[int]) -> str:
    """The pattern of the numbers, computed from them: the comparisons the aligned prior is made for."""
    lines = [f"- {style}: {comparison(videos, 'tae', ALIGNED, PRIOR)}; "
             f"{comparison(videos, 'abs_rel', ALIGNED, TINY)}; {comparison(videos, 'abs_rel', TINY, PRIOR)}; "
             f"the aligned prior's fit fell back to align3r's depth in {fallbacks[style]} of {frames} frames."
             for style, videos in scores.items()]
    exploded = [f"{style} {name} on seed {seed} ({100 * video[name].tae:.0f} %)" for style, videos in scores.items()
                for seed, video in zip(seeds, videos) for name in (PRIOR, TINY, ALIGNED) if video[name].tae > 1]
    lines.append(f"- TAE above 100 %: {', '.join(exploded) or 'none'}. TAE is an Abs Rel against the prediction of "
                 "the target frame, so a few pixels that the video's scale and shift push to the 1e-5 clip can make a "
                 "whole video's TAE explode, and the mean with it: the median column is the robust summary.")
    lines.append("- Each style's rows use the tiny model trained with that style's prior (`MODELS`). "
                 "Nothing was tuned to these results.")
    return "\n".join(lines)


REPORT = """# Consistency: the prior alone, align3r-tiny and the aligned prior

Produced by `benchmarks/consistency.py` (its docstring has the protocol). Command: `{command}`;
{date}; {elapsed:.0f} s wall; machine load {load}; torch {torch}, one thread.

Videos: {videos} held-out synthetic videos, seeds {seeds} (never used in training), each 24
frames of 170x96 (`align3r.eval.demo.DEMO_VIDEO`), simulated priors of the `{preset}` preset
(benchmarks/prior_calibration.md): {scenes}.

Settings: `reconstruct` with the shipped tiny model of each style ({models}), size {size}, flow `{flow}`, crop {crop},
preset `{align_preset}`; aligned prior fitted on confidence > {min_conf_thr} and static pixels,
confidence-weighted (Huber, `PriorAlignConfig()` defaults); every depth scored on the network
grid with one LAD scale and shift per video fitted in depth (depth_max 70), shared by Abs Rel,
δ<1.25 and TAE (ground-truth poses, ground-truth intrinsics on the network grid). The
depth-anything prior alone is its affine disparity inverted to depth (`align3r.eval.pipeline.prior_depth`:
floored at {disparity_floor:g} of the frame's largest disparity), as the evaluation's `prior alone` row; its
unknown disparity shift is therefore not removed. Mean ± std (population) over the videos, and the median of TAE; TAE
in percent.

{table}

## Reading (computed from the numbers)

{reading}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10, help="held-out videos, seeds 20000 on (default 10)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"), help="markdown report")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    resources = {style: demo_resources(MODELS[style]) for style in STYLES}
    seeds = [HELD_OUT_SEED + i for i in range(args.videos)]
    scores: dict[str, list[dict[str, DepthScore]]] = {style: [] for style in STYLES}
    floor: list[float] = []
    scenes: list[str] = []
    fallbacks = {style: 0 for style in STYLES}
    for i, seed in enumerate(seeds):
        sequence = generate_sequence(replace(DEMO_VIDEO, seed=seed, priors=PRIOR_PRESETS[PRIOR_PRESET]))
        resolved = sequence.meta["resolved"]
        scenes.append(f"{seed} {resolved['setting']} {resolved['camera_motion']}")
        truth = grid_truth(sequence)
        floor.append(temporal_alignment_error(truth.depths, truth.poses_c2w, truth.intrinsics,
                                              valid=depth_valid_mask(truth.depths)).tae)
        for style in STYLES:
            tic = time.perf_counter()
            video, fallback = score_style(sequence, truth, style, resources[style])
            scores[style].append(video)
            fallbacks[style] += fallback
            row = ", ".join(f"{name} {s.abs_rel:.4f} / {100 * s.tae:.2f}%" for name, s in video.items())
            print(f"[{i + 1}/{len(seeds)}] {scenes[-1]} {style} ({time.perf_counter() - tic:.1f} s): "
                  f"Abs Rel / TAE: {row}; {fallback} fallback frames", flush=True)
    result = table(scores, floor)
    print(result)
    args.out.write_text(REPORT.format(
        command=shlex.join(["python", *sys.argv]), date=date.today().isoformat(),
        elapsed=time.perf_counter() - start,
        load=f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (1-minute average, 2 shared cores)",
        torch=torch.__version__, videos=len(seeds), seeds=f"{seeds[0]}-{seeds[-1]}", preset=PRIOR_PRESET,
        scenes="; ".join(scenes), size=DEMO_RECONSTRUCTION.size, flow=DEMO_RECONSTRUCTION.flow,
        crop=DEMO_RECONSTRUCTION.crop, models=", ".join(f"{k}: `{v}`" for k, v in MODELS.items()), disparity_floor=DISPARITY_FLOOR, align_preset=DEMO_RECONSTRUCTION.preset, min_conf_thr=MIN_CONF_THR,
        table=result, reading=reading(scores, fallbacks, len(seeds) * DEMO_VIDEO.frames, seeds)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
