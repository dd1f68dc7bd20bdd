"""Alignment speed and memory: seconds per iteration and peak memory, global and hierarchical.

    python benchmarks/bench_align.py [--frames 40 100 400 1000] [--niter 20] [--size 96 128]

1. The golden case (8 frames, 48x64, 32 edges, 100 iterations, demo settings): ours timed here,
   against the stored official time, i.e. the official optimiser's time recorded once when the
   goldens were made, under other conditions (its torch build, thread count and load average are
   read from the golden's meta and printed with the table; see tests/goldens/align/README.md). The
   ratio is therefore not a side-by-side measurement.
2. Synthetic videos (the project's generator, oracle pairs with 1 % noise, float16 PairStore on
   disk): global alignment (swinstride-5-noncyclic) where it fits, hierarchical (`align3r`
   preset: keyframe window graph, scale-consistent stitching) for all. Each configuration runs
   in its own process so that its peak resident memory is its own; s/it excludes the init.
CPU time is this process's (robust to other processes on a shared machine); wall time is not.
The 1-minute load average is printed before and after the run, since the script cannot control it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align
from align3r.align.hierarchical import hierarchical_align, scene_edges
from align3r.align.known_cameras import KnownCameras
from align3r.align.motion import motion_masks
from align3r.align.oracle import oracle_pairs
from align3r.data.synthetic.sequence import SynthConfig, generate_sequence
from align3r.infer.graph import pair_graph
from align3r.infer.pairs import PairPredictions
from align3r.infer.store import PairStore

GOLDEN = Path(__file__).parents[1] / "tests" / "goldens" / "align"
GLOBAL_GRAPH = "swinstride-5-noncyclic"
# glibc keeps freed heap memory of fragmented arenas: with large blocks mmap-ed, freed tensors
# go back to the OS and the peak RSS shows what was live at once.
CHILD_ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}


def cpu_timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(wall s, this process's CPU s, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def stored_conditions(official: np.lib.npyio.NpzFile) -> str:
    """What the stored official time was recorded under, from the golden's `meta` and load keys."""
    meta = json.loads(str(official["meta"]))
    return (f"torch {meta['torch']} on {meta['device']}, {meta['threads']} thread(s), 1-min load average "
            f"{float(official['load_avg_1min']):.1f}, the golden harness's shared 2-core x86-64 machine")


def golden_case(repeats: int = 3) -> None:
    """100 iterations (init included) on global8: ours timed now against the stored official time.

    The official times are `compute_global_alignment`'s (spanning tree + iterations) as stored in
    the golden files; the flow family's motion masks are made before, in `global_aligner`'s
    constructor, outside them. Ours are timed the same way (`global_align` given the masks) and
    the masks on their own.
    """
    data = np.load(GOLDEN / "global8_pairs.npz")
    arrays = {k: torch.from_numpy(data[k]) for k in ("pts3d_i_in_i", "pts3d_j_in_i", "conf_i",
                                                      "conf_j", "flow_ij", "flow_ji")}
    pairs = PairPredictions(torch.from_numpy(np.stack([data["i"], data["j"]], 1)), **arrays)
    print("Against the stored official time (recorded once, not measured in this run):")
    for case in ("global8_demo_noflow", "global8_demo_flow"):
        print(f"  {case}: {stored_conditions(np.load(GOLDEN / f'{case}.npz'))}")
    print("| case | stored official wall s | stored official CPU s | ours wall s | ours CPU s "
          "| stored official / ours (CPU) | ours motion masks CPU s |\n|---|---|---|---|---|---|---|")
    for case, flow in (("global8_demo_noflow", 0.0), ("global8_demo_flow", 0.01)):
        config = replace(PRESETS["demo"][0], niter=100, flow_weight=flow)
        global_align(pairs, replace(config, niter=2))  # warm-up
        walls, cpus, mask_cpus = [], [], []
        for _ in range(repeats):
            _, mask_cpu, masks = cpu_timed(motion_masks, pairs, config) if flow else (0.0, 0.0, None)
            wall, cpu, _ = cpu_timed(global_align, pairs, config, known=KnownCameras(dynamic_masks=masks))
            walls.append(wall)
            cpus.append(cpu)
            mask_cpus.append(mask_cpu)
        official = np.load(GOLDEN / f"{case}.npz")
        wall, cpu = float(np.median(walls)), float(np.median(cpus))
        print(f"| {case} (100 it) | {float(official['opt_time_s']):.2f} | {float(official['opt_cpu_s']):.2f} "
              f"| {wall:.2f} | {cpu:.2f} | {float(official['opt_cpu_s']) / cpu:.1f}x "
              f"| {float(np.median(mask_cpus)):.2f} |")


def needed_edges(mode: str, num_frames: int) -> np.ndarray:
    """Every edge the mode reads, global indices."""
    if mode == "global":
        return pair_graph(num_frames, GLOBAL_GRAPH)
    return np.unique(np.concatenate(scene_edges(num_frames, PRESETS["align3r"][1])), axis=0)


def generate(root: Path, mode: str, num_frames: int, height: int, width: int) -> None:
    """Render the video and write the oracle pairs of every needed edge into a PairStore."""
    seq = generate_sequence(SynthConfig(frames=num_frames, width=width, height=height, seed=0,
                                        setting="indoor", camera_motion="walk", priors=()))
    store = PairStore(root, height=height, width=width, key=f"bench-{num_frames}")
    c2w, depths = torch.from_numpy(seq.poses_c2w), torch.from_numpy(seq.depths).double()
    intrinsics = torch.from_numpy(seq.intrinsics)
    edges = store.missing(needed_edges(mode, num_frames))
    for start in range(0, len(edges), 256):
        chunk = edges[start:start + 256]
        store.write(oracle_pairs(c2w, depths, intrinsics, chunk, seed=start, noise=0.01))


def run(root: Path, mode: str, num_frames: int, height: int, width: int, niter: int) -> dict:
    """Align from the store; s/it from a run with and one without iterations."""
    store = PairStore(root, height=height, width=width, key=f"bench-{num_frames}")
    config = replace(PRESETS["align3r"][0], flow_weight=0.0)

    def align(iterations: int) -> tuple[float, float]:
        run_config = replace(config, niter=iterations)
        if mode == "global":
            return cpu_timed(lambda: global_align(store.load(pair_graph(num_frames, GLOBAL_GRAPH)), run_config))[:2]
        return cpu_timed(hierarchical_align, store.load, num_frames, run_config, PRESETS["align3r"][1])[:2]

    init_wall, init_cpu = align(0)
    full_wall, full_cpu = align(niter)
    return {"init_cpu_s": init_cpu, "wall_per_it": (full_wall - init_wall) / niter,
            "cpu_per_it": (full_cpu - init_cpu) / niter,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "edges": len(needed_edges(mode, num_frames))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[40, 100, 400, 1000])
    parser.add_argument("--global-max", type=int, default=100, help="largest N aligned globally")
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--default-malloc", action="store_true",
                        help="aligning children keep glibc's default allocator (faster; their peak RSS "
                             "then includes freed heap blocks)")
    parser.add_argument("--child", nargs=3, metavar=("STEP", "MODE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    height, width = args.size
    if args.child:
        step, mode, num_frames = args.child[0], args.child[1], int(args.child[2])
        if step == "generate":
            generate(Path(args.root), mode, num_frames, height, width)
        else:
            print(json.dumps(run(Path(args.root), mode, num_frames, height, width, args.niter)))
        return
    print(f"torch {torch.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"{args.threads} thread(s), seed 0, {time.strftime('%Y-%m-%d')}, "
          f"1-min load average {os.getloadavg()[0]:.1f} at start\n")
    golden_case()
    print("\n| frames | mode | edges | init CPU s | CPU s / it | wall s / it | peak RSS MB |\n"
          "|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for num_frames in args.frames:
            for mode in ("global", "hier") if num_frames <= args.global_max else ("hier",):
                root = Path(tmp) / f"{mode}{num_frames}"
                common = ["--size", str(height), str(width), "--threads", str(args.threads),
                          "--niter", str(args.niter), "--root", str(root)]
                subprocess.run([sys.executable, __file__, "--child", "generate", mode, str(num_frames),
                                *common], check=True)
                out = subprocess.run([sys.executable, __file__, "--child", "run", mode, str(num_frames),
                                      *common], check=True, capture_output=True, text=True,
                                     env=None if args.default_malloc else CHILD_ENV).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(f"| {num_frames} | {mode} | {r['edges']} | {r['init_cpu_s']:.1f} | {r['cpu_per_it']:.3f} "
                      f"| {r['wall_per_it']:.3f} | {r['peak_mb']:.0f} |", flush=True)
    print(f"\n1-min load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
