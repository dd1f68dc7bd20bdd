"""Initial poses, depths and focals from the pairs: spanning tree, Procrustes, PnP (docs/alignment.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import roma
import scipy.sparse
import scipy.sparse.csgraph
import torch

from align3r.infer.pairs import PairPredictions


@dataclass(frozen=True)
class KeyframePrior:
    """A clip's seed from the keyframe scene (docs/alignment.md §3.5): the world frame of its local frame 0.

    Attributes:
        c2w: (4, 4) camera-to-world pose of the keyframe in the keyframe scene.
        focal: focal length of the keyframe in pixels.
    """

    c2w: torch.Tensor
    focal: float


@dataclass(frozen=True)
class TreeInit:
    """The spanning tree's result, before `init_from_pts3d` (local frame indices).

    Attributes:
        pts3d_world: (N, H, W, 3) every frame's points in the tree's world frame.
        c2w: (N, 4, 4) camera-to-world poses (tree, PnP, or identity).
        focals: (N,) focal estimates in pixels.
        mst_edges: (N-1, 2) tree edges in the order they were processed.
    """

    pts3d_world: torch.Tensor
    c2w: torch.Tensor
    focals: np.ndarray
    mst_edges: np.ndarray


def weiszfeld_focal(pts3d_in_cam: torch.Tensor, pp: torch.Tensor) -> torch.Tensor:
    """Focal that best projects camera-frame points onto their pixels (L1, 10 Weiszfeld steps).

    dust3r/post_process.py, estimate_focal_knowing_depth(focal_mode='weiszfeld'), no clipping.

    Args:
        pts3d_in_cam: (B, H, W, 3) points in their own camera frame.
        pp: (2,) principal point (cx, cy).

    Returns:
        (B,) focal lengths in pixels.
    """
    batch, height, width, _ = pts3d_in_cam.shape
    v, u = torch.meshgrid(torch.arange(height, device=pp.device),
                          torch.arange(width, device=pp.device), indexing="ij")
    pixels = torch.stack([u, v], dim=-1).view(1, -1, 2) - pp  # (1, HW, 2) centred
    pts = pts3d_in_cam.reshape(batch, -1, 3)
    xy_over_z = (pts[..., :2] / pts[..., 2:3]).nan_to_num(posinf=0, neginf=0)
    dot_xy_px = (xy_over_z * pixels).sum(dim=-1)
    dot_xy_xy = xy_over_z.square().sum(dim=-1)
    focal = dot_xy_px.mean(dim=1) / dot_xy_xy.mean(dim=1)
    for _ in range(10):
        dist = (pixels - focal.view(-1, 1, 1) * xy_over_z).norm(dim=-1)
        weight = dist.clip(min=1e-8).reciprocal()
        focal = (weight * dot_xy_px).mean(dim=1) / (weight * dot_xy_xy).mean(dim=1)
    return focal


def pnp_ransac(pts3d_in_world: np.ndarray, mask: np.ndarray, focal: float, pp: tuple[float, float],
               niter: int) -> tuple[int, np.ndarray] | None:
    """OpenCV RANSAC PnP (SQPNP, reprojection 5 px) of a frame's world points on its pixels.

    Args:
        pts3d_in_world: (H, W, 3) float32 points of the frame in some world frame.
        mask: (H, W) bool pixels to use.
        focal: focal length in pixels.
        pp: principal point (cx, cy).
        niter: RANSAC iterations.

    Returns:
        (number of inliers, (4, 4) float64 world-to-camera), or None if OpenCV fails.
    """
    height, width = mask.shape
    pixels = np.mgrid[:width, :height].T.astype(np.float32)  # (H, W, 2), pixels[v, u] = (u, v)
    k = np.float32([(focal, 0, pp[0]), (0, focal, pp[1]), (0, 0, 1)])
    success, rvec, tvec, inliers = cv2.solvePnPRansac(
        pts3d_in_world[mask], pixels[mask], k, None, iterationsCount=niter, reprojectionError=5,
        flags=cv2.SOLVEPNP_SQPNP)
    if not success:
        return None
    w2c = np.eye(4)
    w2c[:3, :3], w2c[:3, 3] = cv2.Rodrigues(rvec)[0], tvec.ravel()
    return len(inliers), w2c


def fast_pnp(pts3d_in_world: torch.Tensor, mask: torch.Tensor,
             focal: float | None) -> tuple[float, torch.Tensor] | None:
    """Pose (and focal, swept on a grid when unknown) of a frame from its world points.

    dust3r/cloud_opt/init_im_poses.py, fast_pnp: 10 RANSAC iterations; without a focal, 21 values
    geomspace(S/2, 3S), S = max(H, W), the one with strictly most inliers wins.

    Returns:
        (focal, (4, 4) float32 camera-to-world), or None (fewer than 4 pixels, or no solution).
    """
    if int(mask.sum()) < 4:
        return None
    height, width = mask.shape
    size = max(width, height)
    candidates = [focal] if focal is not None else np.geomspace(size / 2, size * 3, 21).tolist()
    pts, msk = pts3d_in_world.cpu().numpy(), mask.cpu().numpy()
    best_inliers, best_w2c, best_focal = 0, np.eye(4), 0.0
    for candidate in candidates:
        result = pnp_ransac(pts, msk, candidate, (width / 2, height / 2), 10)
        if result is not None and result[0] > best_inliers:
            best_inliers, best_w2c, best_focal = result[0], result[1], candidate
    if best_inliers == 0:
        return None
    return float(best_focal), torch.linalg.inv(torch.from_numpy(best_w2c).to(pts3d_in_world))


def weighted_umeyama(src: torch.Tensor, dst: torch.Tensor,
                     weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """argmin over (s, R, T) of sum w |s R src + T - dst|^2, batched (roma).

    Args:
        src, dst: (*, H, W, 3) corresponding points.
        weight: (*, H, W) non-negative weights.

    Returns:
        scale (*,), rotation (*, 3, 3), translation (*, 3).
    """
    lead = src.shape[:-3]
    rot, trans, scale = roma.rigid_points_registration(
        src.reshape(*lead, -1, 3), dst.reshape(*lead, -1, 3), weights=weight.reshape(*lead, -1),
        compute_scaling=True)
    return scale, rot, trans


def apply_sim(scale: torch.Tensor | float, rot: torch.Tensor, trans: torch.Tensor,
              pts: torch.Tensor) -> torch.Tensor:
    """s R x + T for one transform and points (H, W, 3), as dust3r's geotrf on an sRT 4x4."""
    return pts @ (rot * scale).T + trans


def spanning_tree_order(pairs: PairPredictions) -> tuple[list[tuple[float, int, int]], scipy.sparse.dok_array]:
    """Maximum-score spanning tree as the official `todo` list (ascending) and its score graph.

    Scores are mean(conf_i) mean(conf_j) on the raw confidences; scipy's Kruskal on the negated
    dok array decides ties and the kept direction (init_im_poses.py, minimum_spanning_tree).

    Returns:
        todo: sorted (score, i, j) list, best last; neg_graph: (N, N) dok array of -score.
    """
    scores = (pairs.conf_i.mean(dim=(1, 2)) * pairs.conf_j.mean(dim=(1, 2))).tolist()
    n = pairs.num_frames
    graph = scipy.sparse.dok_array((n, n))
    for (i, j), score in zip(pairs.edges.tolist(), scores):
        graph[i, j] = score
    neg_graph = -graph
    tree = scipy.sparse.csgraph.minimum_spanning_tree(neg_graph).tocoo()
    todo = sorted(zip((-tree.data).tolist(), tree.row.tolist(), tree.col.tolist()))
    return todo, neg_graph


def _first_edge(todo: list[tuple[float, int, int]], anchored: bool) -> tuple[int, int]:
    """Pop the best edge; with a keyframe prior, the best edge touching frame 0, rotating the
    skipped ones to the front (Align3R's minimum_spanning_tree with init_priors)."""
    score, i, j = todo.pop()
    while anchored and 0 not in (i, j):
        todo.insert(0, (score, i, j))
        score, i, j = todo.pop()
    return i, j


def grow_spanning_tree(pairs: PairPredictions, im_conf: torch.Tensor, *, min_conf_thr: float,
                       prior: KeyframePrior | None, stale_focal_edge: bool,
                       known_focals: np.ndarray | None = None) -> TreeInit:
    """Chain the pairs along the spanning tree into one world frame (docs/alignment.md §3.2, §3.3, §3.5).

    Args:
        pairs: the scene's predictions (confidences as the optimiser sees them).
        im_conf: (N, H, W) per-frame max confidence, for the PnP masks.
        min_conf_thr: PnP mask threshold on `im_conf`.
        prior: keyframe seed of a clip (world = keyframe scene), or None (world = a camera).
        stale_focal_edge: official quirk, focal of a frame from the previously processed edge.
        known_focals: (N,) focal lengths in pixels used instead of estimates (PnP too), or None.
    """
    todo, neg_graph = spanning_tree_order(pairs)
    index = {edge: e for e, edge in enumerate(map(tuple, pairs.edges.tolist()))}
    n, pred_i, pred_j = pairs.num_frames, pairs.pts3d_i_in_i, pairs.pts3d_j_in_i
    pp = torch.tensor([pred_i.shape[2] / 2, pred_i.shape[1] / 2], device=pred_i.device)
    pts: list[torch.Tensor | None] = [None] * n
    c2w: list[torch.Tensor | None] = [None] * n
    focal: list[float | None] = [None] * n if known_focals is None else [float(f) for f in known_focals]

    def estimate_focal(e: int) -> float:
        return float(weiszfeld_focal(pred_i[e][None], pp)[0])

    i, j = _first_edge(todo, prior is not None)
    last = index[(i, j)]
    if prior is None:
        pts[i], pts[j] = pred_i[last].clone(), pred_j[last].clone()
        c2w[i], focal[i] = torch.eye(4, device=pred_i.device), estimate_focal(last)
    else:
        key = prior.c2w.to(pred_i)
        seed = last if i == 0 else index[(0, i)]  # (i, 0): the reverse edge seeds frame 0's points
        other = j if i == 0 else i
        pts[0] = apply_sim(1.0, key[:3, :3], key[:3, 3], pred_i[seed])
        pts[other] = apply_sim(1.0, key[:3, :3], key[:3, 3], pred_j[seed])
        c2w[0], focal[0] = key, prior.focal  # only a seed: nothing frozen, key depth unused (docs/alignment.md §3.5)
    done, mst_edges = {i, j}, [(i, j)]
    while todo:
        score, i, j = todo.pop()
        e = index[(i, j)]
        if focal[i] is None:
            focal[i] = estimate_focal(last if stale_focal_edge else e)
        if i in done or j in done:
            src, dst, new = (pred_i[e], pts[i], j) if i in done else (pred_j[e], pts[j], i)
            weight = pairs.conf_i[e] if i in done else pairs.conf_j[e]
            scale, rot, trans = weighted_umeyama(src, dst, weight)
            pts[new] = apply_sim(scale, rot, trans, pred_j[e] if i in done else pred_i[e])
            if c2w[i] is None:
                c2w[i] = _rigid4x4(rot, trans)
            done.add(new)
            mst_edges.append((i, j))
            last = e
        else:
            todo.insert(0, (score, i, j))
    _complete_focals_and_poses(pairs, neg_graph, index, pts, c2w, focal, im_conf > min_conf_thr)
    return TreeInit(torch.stack(pts), torch.stack(c2w), np.array(focal, dtype=np.float64),
                    np.array(mst_edges, dtype=np.int64))


def _rigid4x4(rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """(3, 3), (3,) -> (4, 4) rigid transform."""
    out = torch.eye(4, dtype=rot.dtype, device=rot.device)
    out[:3, :3], out[:3, 3] = rot, trans
    return out


def _complete_focals_and_poses(pairs: PairPredictions, neg_graph: scipy.sparse.dok_array,
                               index: dict[tuple[int, int], int], pts: list, c2w: list,
                               focal: list, pnp_mask: torch.Tensor) -> None:
    """Missing focals from the best edges first, missing poses by PnP, else identity (docs/alignment.md §3.3)."""
    pp = torch.tensor([pnp_mask.shape[2] / 2, pnp_mask.shape[1] / 2], device=pnp_mask.device)
    best_first = np.array(list(neg_graph.keys()))[np.argsort(list(neg_graph.values()))]
    for i, j in best_first.tolist():
        if focal[i] is None:
            focal[i] = float(weiszfeld_focal(pairs.pts3d_i_in_i[index[(i, j)]][None], pp)[0])
    for k in range(len(pts)):
        if c2w[k] is None:
            result = fast_pnp(pts[k], pnp_mask[k], focal[k])
            if result is not None:
                focal[k], c2w[k] = result
        if c2w[k] is None:
            c2w[k] = torch.eye(4, dtype=pts[k].dtype, device=pts[k].device)
