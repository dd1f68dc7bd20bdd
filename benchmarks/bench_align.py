"""Alignment speed and memory: seconds per iteration and peak memory, global and hierarchical.

    python benchmarks/bench_align.py [--frames 40 100 400 1000] [--niter 20] [--size 96 128] [--official-only]

1. Against the official optimiser (demo settings, flow term, one thread): the golden inputs
   (8 frames global, 24 frames hierarchical) and two larger cases of the same construction (40
   frames 96x128 global, 100 frames 64x96 hierarchical, 300 iterations), ours timed here against
   the official CPU times re-measured on an idle machine of the same kind and torch 2.13.0
   (tests/goldens/align/README.md; not run in this process). `--official-only` stops after it.
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
from align_pairs import loader_of, read_pairs

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align
from align3r.align.hierarchical import hierarchical_align, scene_edges
from align3r.align.known_cameras import KnownCameras
from align3r.align.motion import motion_masks
from align3r.align.objective import ego_flow
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


OFFICIAL_CPU_S = {"global8_demo_noflow": 1.89, "global8_demo_flow": 3.87, "hier24_demo_flow": 7.30,
                  "global40": 585.0, "hier100": 312.0}
"""The official optimiser's time (construction + alignment, flow precompute included), re-measured
on an idle 2-core machine with torch 2.13.0 CPU and one thread (tests/goldens/align/README.md,
"Official timings, re-measured side by side"): the cases below, in the same order."""


def ego_flow_pairs(num_frames: int, height: int, width: int, edges: np.ndarray) -> PairPredictions:
    """Oracle pairs (1 % noise) of a synthetic video with the exact camera-motion flows of both
    directions: the construction of the golden cases (box room of the generator, per-edge scales)."""
    seq = generate_sequence(SynthConfig(frames=num_frames, width=width, height=height, seed=0,
                                        setting="indoor", camera_motion="walk", priors=()))
    c2w, depths = torch.from_numpy(seq.poses_c2w), torch.from_numpy(seq.depths).double()
    intrinsics = torch.from_numpy(seq.intrinsics)
    pairs = oracle_pairs(c2w, depths, intrinsics, edges, seed=0, noise=0.01)
    i, j = pairs.edges.T
    flow_ij = ego_flow(c2w[i], c2w[j], intrinsics[i], intrinsics[j], depths[i]).float()
    flow_ji = ego_flow(c2w[j], c2w[i], intrinsics[j], intrinsics[i], depths[j]).float()
    return replace(pairs, flow_ij=flow_ij, flow_ji=flow_ji)


def global_run(pairs: PairPredictions, config) -> None:
    """Motion masks (the flow precompute of the official construction) + global alignment."""
    masks = motion_masks(pairs, config) if config.flow_weight > 0 else None
    global_align(pairs, config, known=KnownCameras(dynamic_masks=masks))


def official_cases(repeats: int) -> None:
    """Ours against the re-measured official optimiser times, demo settings, one thread (CPU s).

    The golden inputs where they are stored (8 frames global, 24 frames hierarchical, 100
    iterations), and the two larger cases of the same construction that are not shipped (40
    frames 96x128 global, 100 frames 64x96 hierarchical, 300 iterations) rebuilt from the
    project's generator: the same sizes, graphs, iterations and flow term, not the same pixels.
    Ours is timed from the pairs in memory to the aligned scene, motion masks included.
    """
    demo, hierarchy = PRESETS["demo"]
    global8, hier24 = read_pairs(GOLDEN / "global8_pairs.npz"), read_pairs(GOLDEN / "hier24_pairs.npz")
    global40 = ego_flow_pairs(40, 96, 128, pair_graph(40, GLOBAL_GRAPH))
    hier100_edges = np.unique(np.concatenate(scene_edges(100, hierarchy)), axis=0)
    hier100 = loader_of(ego_flow_pairs(100, 64, 96, hier100_edges))
    cases = {
        "global8_demo_noflow": (100, lambda c: global_run(global8, replace(c, flow_weight=0.0))),
        "global8_demo_flow": (100, lambda c: global_run(global8, c)),
        "hier24_demo_flow": (100, lambda c: hierarchical_align(loader_of(hier24), 24, c, hierarchy)),
        "global40": (300, lambda c: global_run(global40, c)),
        "hier100": (300, lambda c: hierarchical_align(hier100, 100, c, hierarchy)),
    }
    print("Against the official optimiser's CPU time re-measured on an idle machine (torch 2.13.0, 1 thread; "
          "tests/goldens/align/README.md), not run in this process:\n"
          "| case | iterations | official CPU s | ours CPU s | ours wall s | official / ours |\n"
          "|---|---:|---:|---:|---:|---:|")
    for case, (niter, align) in cases.items():
        config = replace(demo, niter=niter)
        times = [cpu_timed(align, config)[:2] for _ in range(repeats if niter < 300 else 1)]
        wall, cpu = (float(np.median(t)) for t in zip(*times))
        print(f"| {case} | {niter} | {OFFICIAL_CPU_S[case]:.2f} | {cpu:.2f} | {wall:.2f} "
              f"| {OFFICIAL_CPU_S[case] / cpu:.1f}x |", flush=True)


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
    parser.add_argument("--repeats", type=int, default=3, help="runs of each small official case (median)")
    parser.add_argument("--official-only", action="store_true", help="only the table against the official times")
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
    official_cases(args.repeats)
    if args.official_only:
        return
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
