"""Align a pairs file in the layout of tests/goldens/align and write the goldens' output layout.

    python benchmarks/align_pairs.py PAIRS.npz OUT.npz [--mode global|hier] [--niter N]
        [--preset demo|pose_test|depth_test|align3r] [--no-flow] [--scene-graph NAME]

A `--preset` reproduces that official entry point (rigid stitching for demo/pose_test, none for
depth_test); `align3r` is the demo with our scale-consistent stitching.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from align3r.align.config import PRESETS
from align3r.align.global_align import AlignResult, global_align
from align3r.align.hierarchical import clip_plan, hierarchical_align, scene_edges
from align3r.infer.graph import pair_graph
from align3r.infer.pairs import PairPredictions

PAIR_KEYS = ("pts3d_i_in_i", "pts3d_j_in_i", "conf_i", "conf_j", "flow_ij", "flow_ji")


def read_pairs(path: str | Path) -> PairPredictions:
    """Every edge of a pairs npz in the goldens' layout (keys it lacks, e.g. flows, are None)."""
    data = np.load(path)
    arrays = {k: torch.from_numpy(data[k]) if k in data.files else None for k in PAIR_KEYS}
    return PairPredictions(torch.from_numpy(np.stack([data["i"], data["j"]], 1)), **arrays)


def loader_of(pairs: PairPredictions):
    """Edges (E, 2) -> their predictions, picked from `pairs` held in memory (a `PairLoader`)."""
    rows = {edge: r for r, edge in enumerate(map(tuple, pairs.edges.tolist()))}

    def load(edges: np.ndarray) -> PairPredictions:
        pick = torch.tensor([rows[edge] for edge in map(tuple, edges.tolist())])
        arrays = {k: None if getattr(pairs, k) is None else getattr(pairs, k)[pick] for k in PAIR_KEYS}
        return PairPredictions(torch.from_numpy(edges.astype(np.int64)), **arrays)

    return load


def pair_loader(path: str):
    """(`loader_of` the pairs npz at `path`, its number of frames)."""
    pairs = read_pairs(path)
    return loader_of(pairs), pairs.num_frames


def scene_outputs(k: int, result: AlignResult) -> dict[str, np.ndarray]:
    """The `init.s{k}.*` keys of one scene."""
    prefix = f"init.s{k}."
    return {prefix + "mst_edges": result.tree.mst_edges, prefix + "mst_focals": result.tree.focals,
            prefix + "poses_c2w": result.init.c2w.double().numpy(),
            prefix + "depths": result.init.depths.numpy(),
            prefix + "focals": result.init.focals.double().numpy(),
            prefix + "pw_poses": result.init_pw_pose8.numpy(),
            prefix + "pw_scale": result.init_pw_scales.double().numpy()}


def frame_outputs(c2w: torch.Tensor, depths: torch.Tensor, focals: torch.Tensor) -> dict[str, np.ndarray]:
    """poses_c2w, tum (x y z qw qx qy qz, official pred_traj.txt order), depths, intrinsics."""
    poses = c2w.double().numpy()
    qxyzw = Rotation.from_matrix(poses[:, :3, :3]).as_quat()
    height, width = depths.shape[1:]
    intrinsics = np.zeros((len(poses), 3, 3))
    intrinsics[:, 0, 0] = intrinsics[:, 1, 1] = focals.double().numpy()
    intrinsics[:, :, 2] = [width / 2, height / 2, 1]
    return {"poses_c2w": poses, "tum": np.concatenate([poses[:, :3, 3], qxyzw[:, 3:], qxyzw[:, :3]], 1),
            "depths": depths.numpy(), "focals": focals.double().numpy(),
            "pp": np.tile([width / 2, height / 2], (len(poses), 1)), "intrinsics": intrinsics}


def run_global(args: argparse.Namespace, load, num_frames: int, config) -> dict[str, np.ndarray]:
    edges = pair_graph(num_frames, args.scene_graph)
    result = global_align(load(edges), config)
    out = frame_outputs(result.c2w, result.depths, result.focals)
    out.update(scene_outputs(0, result), edges=edges, pts3d=result.pts3d_world().numpy(),
               conf=result.conf.numpy(), loss_curves=result.loss_curve.numpy()[None])
    if config.flow_weight > 0:
        out["dynamic_masks"] = result.dynamic_masks.numpy()
    return out


def run_hier(args: argparse.Namespace, load, num_frames: int, config, hierarchy) -> dict[str, np.ndarray]:
    scenes: dict[int, AlignResult] = {}
    result = hierarchical_align(load, num_frames, config, hierarchy, on_scene=scenes.__setitem__)
    keyframes, sizes = clip_plan(num_frames, hierarchy.clip_size)
    edges = scene_edges(num_frames, hierarchy)
    out = frame_outputs(result.c2w, result.depths, result.focals)
    for k, scene in scenes.items():
        out.update(scene_outputs(k, scene))
    out.update(edges=np.concatenate(edges), scene_edge_counts=np.array([len(e) for e in edges]),
               keyframe_ids=keyframes, clip_sizes=sizes, conf=result.conf.numpy(),
               loss_curves=result.loss_curves.numpy(), key_poses_c2w=result.key_c2w.double().numpy(),
               key_focals=result.key_focals.double().numpy())
    if config.flow_weight > 0:
        out["dynamic_masks"] = result.dynamic_masks.numpy()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("out")
    parser.add_argument("--mode", choices=("global", "hier"), default="global")
    parser.add_argument("--niter", type=int, default=None, help="default: the preset's (300)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--no-flow", action="store_true")
    parser.add_argument("--scene-graph", default="swinstride-5-noncyclic", help="global mode")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config, hierarchy = PRESETS[args.preset]
    config = replace(config, niter=args.niter or config.niter,
                     flow_weight=0.0 if args.no_flow else config.flow_weight)
    load, num_frames = pair_loader(args.pairs)
    start = time.perf_counter()
    if args.mode == "global":
        out = run_global(args, load, num_frames, config)
    else:
        out = run_hier(args, load, num_frames, config, hierarchy)
    out["opt_time_s"] = np.float64(time.perf_counter() - start)
    out["final_loss"] = out["loss_curves"][:, -1].astype(np.float64)
    out["meta"] = np.array(json.dumps({"preset": args.preset, "mode": args.mode, "niter": config.niter,
                                       "config": asdict(config), "hierarchy": asdict(hierarchy),
                                       "scene_graph": args.scene_graph, "torch": torch.__version__,
                                       "threads": torch.get_num_threads()}))
    np.savez(args.out, **out)
    print(f"{args.out}: {num_frames} frames, {len(out['edges'])} edges, "
          f"{out['opt_time_s']:.2f} s, final loss {out['final_loss'].tolist()}")


if __name__ == "__main__":
    main()
