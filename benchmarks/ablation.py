"""The paper's central claim in miniature: prior alone vs DUSt3R-tiny (c) vs Align3R-tiny (b), for both prior styles.

On held-out synthetic videos (seeds never used in training) with their calibrated simulated priors
(the error structure and sizes of real monocular depth on video, benchmarks/prior_calibration.md),
runs the full pipeline with each model and reports, per prior style, the mean and standard
deviation over videos of:
- video depth under the "depth" protocol (official: one LAD scale and shift per video in depth) and
  the "disp" protocol (DepthCrafter / Video Depth Anything: one least-squares scale and shift per
  video in disparity, the only one an affine-invariant Depth Anything disparity has);
- camera poses: ATE, RPE after Sim(3).
Writes the table to --out as markdown.

    python benchmarks/ablation.py [--videos 10] [--control tiny-dust3r] [--depth-pro tiny]
                                  [--depth-anything tiny-depthanything] [--styles depth-pro depth-anything]

The three networks come from one run of the tiny recipe (`training/tiny/train_tiny.sh`): the control
(c) and Align3R-tiny (b) trained with each style's prior, shipped as the packaged models named by the
defaults. REPRODUCE below retrains them from a clone.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from align3r.data.synthetic import generate_sequence
from align3r.data.synthetic.prior import PRIOR_STYLES
from align3r.eval.demo import (
    DEMO_RECONSTRUCTION,
    DEMO_VIDEO,
    HELD_OUT_SEED,
    DepthScore,
    MethodScore,
    PriorScore,
    demo_resources,
    score_prior,
    score_sequence,
)

REPRODUCE = """From the repository root of a clone (about 75 min of training on 2 CPU cores, then ~12 min):

```
repo="$PWD"; mkdir -p ../tiny-run && cd ../tiny-run
bash "$repo/training/tiny/train_tiny.sh"  # -> weights/tiny, weights/tiny-depthanything, weights/tiny-dust3r
python "$repo/benchmarks/ablation.py" --control weights/tiny-dust3r --depth-pro weights/tiny \\
    --depth-anything weights/tiny-depthanything --out ablation.md
```
The networks are retrained, so the numbers match the shipped table up to run-to-run differences of training;
the shipped `align3r/weights` are left alone.
"""
COLUMNS = ("Abs Rel", "δ<1.25", "TAE %", "Abs Rel (disp)", "δ<1.25 (disp)", "TAE % (disp)", "ATE", "RPE trans",
           "RPE rot (°)")


def depth_cells(score: DepthScore | None) -> list[float]:
    """Abs Rel, delta < 1.25 and TAE in percent of one protocol (NaN where it does not apply)."""
    return [np.nan] * 3 if score is None else [score.abs_rel, score.delta1, 100 * score.tae]


def prior_row(score: PriorScore) -> list[float]:
    """The COLUMNS of the prior alone (no depth protocol for an affine disparity, no poses)."""
    return [*depth_cells(score.depth), *depth_cells(score.disp), np.nan, np.nan, np.nan]


def method_row(score: MethodScore) -> list[float]:
    """The COLUMNS of a reconstruction."""
    return [*depth_cells(score.depth), *depth_cells(score.disp), score.pose.ate, score.pose.rpe_trans,
            score.pose.rpe_rot_deg]


def cell(values: np.ndarray) -> str:
    """'mean ± sd' over videos, '–' where not defined."""
    return "–" if np.isnan(values).all() else f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def wins(better: np.ndarray, worse: np.ndarray, column: int, *, higher: bool = False) -> int:
    """Number of videos on which `better` beats `worse` in one column."""
    return int(((better[:, column] > worse[:, column]) if higher else (better[:, column] < worse[:, column])).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--control", default="tiny-dust3r", help="the control run (c): DUSt3R-tiny")
    parser.add_argument("--depth-pro", default="tiny", help="Align3R-tiny (b) trained with the Depth-Pro-style prior")
    parser.add_argument("--depth-anything", default="tiny-depthanything",
                        help="Align3R-tiny (b) trained with the Depth-Anything-style prior")
    parser.add_argument("--styles", nargs="+", default=list(PRIOR_STYLES), choices=PRIOR_STYLES)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "ablation.md")
    args = parser.parse_args()
    torch.manual_seed(0)
    control = demo_resources(args.control)
    aligned = {style: demo_resources({"depth-pro": args.depth_pro, "depth-anything": args.depth_anything}[style])
               for style in args.styles}
    names = ("prior alone", "DUSt3R-tiny (c)", "Align3R-tiny (b)")
    rows: dict[tuple[str, str], list[list[float]]] = {(s, m): [] for s in args.styles for m in names}
    start = time.perf_counter()
    seeds = [HELD_OUT_SEED + k for k in range(args.videos)]
    for seed in seeds:
        sequence = generate_sequence(replace(DEMO_VIDEO, seed=seed))
        # Zero convolutions at 0: no prior changes the control's output, so it runs once per video.
        control_row = method_row(score_sequence(sequence, control, style=args.styles[0]))
        for style in args.styles:
            rows[style, "prior alone"].append(prior_row(score_prior(sequence, style)))
            rows[style, "DUSt3R-tiny (c)"].append(control_row)
            rows[style, "Align3R-tiny (b)"].append(method_row(score_sequence(sequence, aligned[style], style=style)))
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = ["| prior style | method | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    summary = []
    for (style, name), values in rows.items():
        values = np.asarray(values, dtype=np.float64)
        table.append(f"| {style} | {name} | " + " | ".join(cell(values[:, j]) for j in range(len(COLUMNS))) + " |")
    for style in args.styles:
        b, c, prior = (np.asarray(rows[style, name]) for name in ("Align3R-tiny (b)", "DUSt3R-tiny (c)", "prior alone"))
        own = 3 if style == "depth-anything" else 0  # the prior's own protocol: Abs Rel, δ, TAE from here
        n = len(seeds)
        summary.append(
            f"- {style}: Align3R-tiny against DUSt3R-tiny: lower Abs Rel on {wins(b, c, 0)}/{n} videos, higher δ<1.25 "
            f"on {wins(b, c, 1, higher=True)}/{n}, lower ATE on {wins(b, c, 6)}/{n}, lower RPE trans on "
            f"{wins(b, c, 7)}/{n}. Against the prior alone ({'disp' if own else 'depth'} protocol): lower Abs Rel on "
            f"{wins(b, prior, own)}/{n}, higher δ<1.25 on {wins(b, prior, own + 1, higher=True)}/{n}, lower TAE on "
            f"{wins(b, prior, own + 2)}/{n}.")
    elapsed = time.perf_counter() - start
    header = (f"# Ablation on held-out synthetic videos\n\n{len(seeds)} videos of {DEMO_VIDEO.frames} frames "
              f"{DEMO_VIDEO.width}x{DEMO_VIDEO.height} (seeds {seeds[0]}..{seeds[-1]}, never used in training), "
              f"calibrated simulated priors, network input long side {DEMO_RECONSTRUCTION.size}, "
              f"{DEMO_RECONSTRUCTION.niter} iterations, flow {DEMO_RECONSTRUCTION.flow}. Each cell: mean ± standard "
              "deviation over videos of the per-video metric. Depth: \"depth\" protocol (official, LAD scale and "
              "shift per video in depth) and \"disp\" protocol (least-squares scale and shift per video in "
              "disparity, per-frame metrics averaged); the Depth-Anything-style prior is an affine disparity, "
              "scored under \"disp\" only. TAE: temporal alignment error of the aligned depth with the exact "
              "cameras, percent (benchmarks/prior_calibration.md). Pose: Sim(3)-aligned ATE / RPE. DUSt3R-tiny ignores the "
              "prior (its zero convolutions are 0): it runs once per video and its row repeats under each style. "
              f"Produced by `benchmarks/ablation.py` in {elapsed:.0f} s (torch {torch.__version__}, {platform.machine()}).\n\n")
    command = " ".join(["python benchmarks/ablation.py", *sys.argv[1:]])
    text = (header + "\n".join(table) + "\n\n" + "\n".join(summary) + f"\n\nThis table: `{command}`.\n\n"
            f"## Reproduce\n\n{REPRODUCE}")
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
