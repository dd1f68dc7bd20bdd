"""Joint optimisation of all frames of a scene from its pair predictions (docs/alignment.md §2-§4, §7)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from align3r.align.config import AlignConfig
from align3r.align.init import KeyframePrior, TreeInit, grow_spanning_tree, weighted_umeyama
from align3r.align.known_cameras import KnownCameras, gauge, place_tree_on_poses
from align3r.align.motion import motion_masks
from align3r.align.objective import FlowTarget, alignment_loss, ego_flow_loss, ego_warp, flow_target, temporal_loss
from align3r.align.scene import FOCAL_BREAK, SceneParams, encode_rigid
from align3r.errors import InputError
from align3r.geometry import centred_intrinsics, transform_points, unproject_depth
from align3r.infer.pairs import PairPredictions
from align3r.io.progress import track

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignResult:
    """One aligned scene (local frame indices, float32, on the pairs' device).

    Attributes:
        c2w: (N, 4, 4) camera-to-world poses.
        depths: (N, H, W) z-depth.
        focals: (N,) focal lengths in pixels; principal point (W/2, H/2).
        conf: (N, H, W) per-frame max raw confidence over the edges (`im_conf`).
        dynamic_masks: (N, H, W) bool motion masks (all False without the flow term).
        loss_curve: (niter,) loss of each iteration's forward (entry 0: at initialisation).
        init: the state right after initialisation.
        init_pw_pose8: (E, 8) per-edge parameters after initialisation.
        init_pw_scales: (E,) effective per-edge scales after initialisation.
        tree: the spanning tree's output (processing order, focal estimates).
    """

    c2w: torch.Tensor
    depths: torch.Tensor
    focals: torch.Tensor
    conf: torch.Tensor
    dynamic_masks: torch.Tensor
    loss_curve: torch.Tensor
    init: SceneState
    init_pw_pose8: torch.Tensor
    init_pw_scales: torch.Tensor
    tree: TreeInit

    def intrinsics(self) -> torch.Tensor:
        """(N, 3, 3) pinhole K with the principal point (W/2, H/2)."""
        return centred_intrinsics(self.focals, *self.depths.shape[-2:])

    def pts3d_world(self) -> torch.Tensor:
        """(N, H, W, 3) world points of every pixel."""
        return transform_points(self.c2w, unproject_depth(self.depths, self.intrinsics()))


@dataclass(frozen=True)
class SceneState:
    """Poses (N, 4, 4) c2w, depths (N, H, W) and focals (N,) of a scene at one moment."""

    c2w: torch.Tensor
    depths: torch.Tensor
    focals: torch.Tensor


def frame_confidence(edges: torch.Tensor, conf_i: torch.Tensor, conf_j: torch.Tensor,
                     num_frames: int) -> torch.Tensor:
    """(N, H, W) per-pixel max over every edge of the frame's confidence (as i or as j)."""
    out = torch.zeros((num_frames, *conf_i.shape[1:]), dtype=conf_i.dtype, device=conf_i.device)
    frames = torch.cat([edges[:, 0], edges[:, 1]])
    index = frames.view(-1, 1, 1).expand(-1, *conf_i.shape[1:])
    return out.scatter_reduce(0, index, torch.cat([conf_i, conf_j]), reduce="amax")


def init_scene(pairs: PairPredictions, tree: TreeInit, config: AlignConfig,
               known: KnownCameras = KnownCameras()) -> SceneParams:
    """Parameters from the tree (docs/alignment.md §3.4): per-edge similarities, gauge rescaling, log-depths, focal.

    Known poses keep their scale (see `gauge`); known fixed poses and known focals are not
    optimised (`known` on the pairs' device and dtype, see `KnownCameras.for_scene`).

    The per-edge registrations run one edge at a time (once, not per iteration): a batched call
    sums in another order, and the plain family's lr 0.05 amplifies those last bits.
    """
    sims = [weighted_umeyama(pairs.pts3d_i_in_i[e], tree.pts3d_world[i], pairs.conf_i[e])
            for e, i in enumerate(pairs.edges[:, 0].tolist())]
    scale, rot, trans = (torch.stack(x) for x in zip(*sims))
    log_scale = torch.log(scale.double()).to(scale.dtype)
    pw_pose8 = torch.cat([encode_rigid(rot, trans / scale[:, None]), log_scale[:, None]], dim=-1)
    kappa, base_scale = gauge(pw_pose8[:, 7], config.base_scale, known)
    pts3d_world = tree.pts3d_world * kappa
    c2w = tree.c2w.clone()
    c2w[:, :3, 3] *= kappa
    w2c = torch.linalg.inv(c2w)
    depth = (pts3d_world @ w2c[:, None, :3, :3].transpose(-1, -2) + w2c[:, None, None, :3, 3])[..., 2]
    log_depth = torch.log(depth).nan_to_num(neginf=0).flatten(1)
    focals = tree.focals
    if known.focals is not None:
        log_focal = FOCAL_BREAK * np.log(known.focals.double().cpu().numpy())
    elif config.shared_focal:
        log_focal = np.array([FOCAL_BREAK * np.log(np.mean(focals))])
    else:
        log_focal = FOCAL_BREAK * np.log(focals)
    height, width = depth.shape[1:]
    params = SceneParams(log_depth, encode_rigid(c2w[:, :3, :3], c2w[:, :3, 3]),
                         torch.tensor(log_focal, dtype=depth.dtype, device=depth.device), pw_pose8,
                         height=height, width=width, base_scale=base_scale)
    params.pose7.requires_grad_(known.c2w is None or not known.fixed_poses)
    params.log_focal.requires_grad_(known.focals is None)
    return params


def pair_tensors(pairs: PairPredictions) -> tuple[torch.Tensor, torch.Tensor]:
    """Both views of every edge, channel-first: points (E, 2, 3, P), log-confidences (E, 2, P)."""
    pts = torch.stack([pairs.pts3d_i_in_i.flatten(1, 2), pairs.pts3d_j_in_i.flatten(1, 2)], dim=1)
    log_conf = torch.log(torch.stack([pairs.conf_i.flatten(1), pairs.conf_j.flatten(1)], dim=1))
    return pts.transpose(2, 3).contiguous(), log_conf


def flow_targets(pairs: PairPredictions, static: torch.Tensor) -> FlowTarget:
    """The flows i -> j (group 0) and j -> i (group 1) of every edge on static pixels, given
    `static` (N, H, W) bool.

    When every j -> i flow is the i -> j flow of the reverse edge (one flow per ordered pair of
    frames, as the official RAFT step and `estimate_flow` give), group 1 holds the rows of
    group 0 again and has the same mean: group 0 alone is kept, counted twice.
    """
    edges = pairs.edges
    row = {pair: k for k, pair in enumerate(map(tuple, edges.tolist()))}
    reverse = [row.get((j, i)) for i, j in edges.tolist()]
    if None not in reverse and torch.equal(pairs.flow_ji, pairs.flow_ij[torch.tensor(reverse)]):
        return flow_target([edges], [pairs.flow_ij], [static[edges[:, 0]]], weights=[2.0])
    return flow_target([edges, edges.flip(1)], [pairs.flow_ij, pairs.flow_ji],
                       [static[edges[:, 0]], static[edges[:, 1]]])


def scene_loss(params: SceneParams, pairs: PairPredictions, pair_data: tuple[torch.Tensor, torch.Tensor],
               config: AlignConfig, flows: FlowTarget | None) -> torch.Tensor:
    """Total loss (docs/alignment.md §4.6) given `pair_tensors(pairs)`; the flow term only when `flows`
    (`flow_targets`) is given."""
    c2w = params.c2w()
    loss = alignment_loss(params.pts3d_world(c2w), params.edge2w(), pairs.edges, *pair_data)
    if config.temporal_weight > 0:
        loss = loss + config.temporal_weight * temporal_loss(c2w, config.translation_weight)
    if flows is not None:
        k, disparity = params.intrinsics(), 1 / (torch.exp(params.log_depth) + 1e-6)  # (N, HW)
        warp = ego_warp(c2w[flows.src], c2w[flows.dst], k[flows.src], k[flows.dst])
        flow = ego_flow_loss(*warp, disparity, flows, config.pxl_thre)
        if config.flow_loss_thre > 0 and float(flow.detach()) > config.flow_loss_thre:
            return loss  # dropped for this iteration (cloud_opt_flow/optimizer.py, forward)
        loss = loss + config.flow_weight * flow
    return loss


def learning_rate(config: AlignConfig, iteration: int) -> float:
    """Schedule value at t = iteration / niter (dust3r/cloud_opt/commons.py)."""
    t = iteration / config.niter
    if config.schedule == "cosine":
        return config.lr_min + (config.lr - config.lr_min) * (1 + math.cos(math.pi * t)) / 2
    return config.lr + (config.lr_min - config.lr) * t


def _prepare(pairs: PairPredictions, config: AlignConfig) -> PairPredictions:
    """Check the frame indices, apply depth_test's confidence override (tool/depth_test.py)."""
    present = torch.zeros(pairs.num_frames, dtype=torch.bool, device=pairs.edges.device)
    present[pairs.edges.flatten()] = True
    if not bool(present.all()) or int(pairs.edges.min()) < 0:
        raise InputError(f"pair edges must use every frame 0..{pairs.num_frames - 1}; "
                         f"missing {torch.nonzero(~present).flatten().tolist()}")
    if len(set(map(tuple, pairs.edges.tolist()))) != len(pairs.edges):
        raise InputError("pair edges must be unique ordered pairs")
    if config.conf_override is None:
        return pairs
    value = config.conf_override
    return replace(pairs, conf_i=pairs.conf_i.masked_fill(pairs.conf_i > 1, value),
                   conf_j=pairs.conf_j.masked_fill(pairs.conf_j > 1, value))


def global_align(pairs: PairPredictions, config: AlignConfig, *,
                 prior: KeyframePrior | None = None, known: KnownCameras = KnownCameras()) -> AlignResult:
    """Align all frames of a scene: spanning-tree init, then Adam on the official objective.

    Every iteration is a handful of batched tensor operations over all edges and pixels; runs
    on the pairs' device in their dtype (float32 expected).

    Args:
        pairs: the scene's pair predictions, local frame indices 0..N-1; with `flow_ij`/`flow_ji`
            when `config.flow_weight > 0` (the flow term needs the symmetrised edge layout).
        config: optimiser settings (see `PRESETS`).
        prior: the keyframe seed of a hierarchical clip (docs/alignment.md §3.5), else None.
        known: what the user knows of the scene: poses (fixed or initial), focals (fixed),
            motion masks (replacing the self-derived ones).

    Returns:
        The aligned scene.

    Raises:
        InputError: missing frames, duplicate edges, or the flow term on without flows.
    """
    pairs = _prepare(pairs, config)
    num_frames = pairs.num_frames
    im_conf = frame_confidence(pairs.edges, pairs.conf_i, pairs.conf_j, num_frames)
    use_flow = config.flow_weight > 0
    if use_flow and (pairs.flow_ij is None or pairs.flow_ji is None):
        raise InputError("the flow term is on but the pairs carry no flow; "
                         "estimate it (align3r.align.motion) or set flow_weight=0")
    known = known.for_scene(pairs)
    if known.dynamic_masks is not None:
        dynamic = known.dynamic_masks
    else:
        dynamic = (motion_masks(pairs, config) if use_flow
                   else torch.zeros_like(im_conf, dtype=torch.bool))
    tree = grow_spanning_tree(pairs, im_conf, min_conf_thr=config.min_conf_thr, prior=prior,
                              stale_focal_edge=config.stale_focal_edge,
                              known_focals=None if known.focals is None else known.focals.cpu().numpy())
    if known.c2w is not None:
        tree = place_tree_on_poses(tree, known.c2w)
    params = init_scene(pairs, tree, config, known)
    with torch.no_grad():
        init = SceneState(params.c2w(), params.depths().clone(), params.focals().clone())
        init_pw_pose8, init_pw_scales = params.pw_pose8.clone(), params.pw_scales()
    pair_data = pair_tensors(pairs)
    optimizer = torch.optim.Adam(params.parameters(), lr=config.lr, betas=(0.9, 0.9), foreach=True)
    curve = torch.zeros(config.niter, dtype=torch.float32)
    flow_from = config.niter * config.flow_start
    flows = flow_targets(pairs, ~dynamic) if use_flow else None
    for iteration in track(range(config.niter), stage="alignment", total=config.niter, unit="it"):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, iteration)
        optimizer.zero_grad()
        loss = scene_loss(params, pairs, pair_data, config, flows if iteration >= flow_from else None)
        loss.backward()
        optimizer.step()
        curve[iteration] = loss.detach()
    logger.debug("aligned %d frames, %d edges: final loss %.6f", num_frames, len(pairs.edges),
                 float(curve[-1]) if config.niter else float("nan"))
    with torch.no_grad():
        return AlignResult(params.c2w(), params.depths().clone(), params.focals().clone(), im_conf,
                           dynamic, curve, init, init_pw_pose8, init_pw_scales, tree)
