"""Self-derived motion masks: where the flow disagrees with the ego-motion of two-frame reconstructions."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from align3r.align.config import AlignConfig
from align3r.align.init import pnp_ransac, weiszfeld_focal
from align3r.align.objective import ego_flow
from align3r.errors import InputError
from align3r.infer.pairs import PairPredictions


def _pair_view_pose(pred_a_in_b: np.ndarray, mask_a: np.ndarray, focal_a: float,
                    pp: tuple[float, float]) -> torch.Tensor:
    """(4, 4) float32 camera a -> camera b by PnP (100 iterations), identity when it fails."""
    try:
        result = pnp_ransac(pred_a_in_b, mask_a, focal_a, pp, 100)
    except cv2.error:
        result = None
    a2b = np.eye(4) if result is None else np.linalg.inv(result[1])
    return torch.from_numpy(a2b.astype(np.float32))


def pair_view(pairs: PairPredictions, e_ab: int, e_ba: int, focals: tuple[float, float],
              min_conf_thr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-frame reconstruction without optimisation (dust3r/cloud_opt/pair_viewer.py, docs/alignment.md §6).

    Args:
        pairs: predictions holding the edge a -> b at `e_ab` and its reverse at `e_ba`.
        focals: the focals of frames a and b, `weiszfeld_focal` of edges `e_ab` and `e_ba`'s
            first views (computed for all pairs at once by the caller).
        min_conf_thr: PnP mask threshold on the pair's per-frame max confidence.

    Returns:
        c2w (2, 4, 4) with the more confident frame as world, depths (2, H, W); index 0 is
        frame a, 1 is frame b.
    """
    height, width = pairs.conf_i.shape[1:]
    edge_from = (e_ab, e_ba)  # edge whose first view is frame 0 / 1 of the pair
    confs, rel = [], []
    for a in (0, 1):
        e, e_rev = edge_from[a], edge_from[1 - a]
        confs.append(float(pairs.conf_i[e].mean() * pairs.conf_j[e].mean()))
        mask = (torch.maximum(pairs.conf_i[e], pairs.conf_j[e_rev]) > min_conf_thr).cpu().numpy()
        rel.append(_pair_view_pose(pairs.pts3d_j_in_i[e_rev].cpu().numpy(), mask, focals[a],
                                   (width / 2, height / 2)).to(pairs.conf_i.device))
    eye = torch.eye(4, device=pairs.conf_i.device)
    if confs[0] > confs[1]:
        c2w = torch.stack([eye, rel[1]])
        other = pairs.pts3d_j_in_i[e_ab] @ torch.linalg.inv(rel[1])[:3, :3].T + torch.linalg.inv(rel[1])[:3, 3]
        depths = torch.stack([pairs.pts3d_i_in_i[e_ab][..., 2], other[..., 2]])
    else:
        c2w = torch.stack([rel[0], eye])
        other = pairs.pts3d_j_in_i[e_ba] @ torch.linalg.inv(rel[0])[:3, :3].T + torch.linalg.inv(rel[0])[:3, 3]
        depths = torch.stack([other[..., 2], pairs.pts3d_i_in_i[e_ba][..., 2]])
    return c2w, depths


def motion_masks(pairs: PairPredictions, config: AlignConfig) -> torch.Tensor:
    """Self-derived motion masks from the disagreement of flow and pairwise ego-motion (docs/alignment.md §4.4).

    For each edge k < E/2 and its reverse k + E/2, a PairViewer gives poses, focals and depths;
    each frame's error map |ego flow - flow| is normalised to [0, 1] per pair, and a pixel is
    dynamic where the mean over the frame's maps exceeds `config.motion_mask_thre`. The official
    forward-backward `OccMask` is not computed: it never reaches the loss.

    Args:
        pairs: symmetrised predictions (edge k + E/2 is edge k reversed) with flows.
        config: `min_conf_thr` and `motion_mask_thre` are used.

    Returns:
        (N, H, W) bool, True on moving pixels.
    """
    half = len(pairs.edges) // 2
    if len(pairs.edges) % 2 or not torch.equal(pairs.edges[half:], pairs.edges[:half].flip(1)):
        raise InputError("motion masks need the symmetrised pair layout (edge k + E/2 reverses k)")
    height, width = pairs.conf_i.shape[1:]
    pp = torch.tensor([width / 2, height / 2], device=pairs.conf_i.device)
    # one batched call, not two per pair (the same values: each row is reduced on its own)
    focals = weiszfeld_focal(pairs.pts3d_i_in_i, pp).view(2, half).T  # (E/2, 2) frames a, b
    views = [pair_view(pairs, k, k + half, tuple(focals[k].tolist()), config.min_conf_thr)
             for k in range(half)]
    c2w = torch.stack([v[0] for v in views])  # (E/2, 2, 4, 4)
    k = torch.zeros(half, 2, 3, 3, device=c2w.device)
    k[..., 0, 0] = k[..., 1, 1] = focals
    k[..., :2, 2], k[..., 2, 2] = pp, 1
    depths = torch.stack([v[1] for v in views])  # (E/2, 2, H, W)
    err_i = (ego_flow(c2w[:, 0], c2w[:, 1], k[:, 0], k[:, 1], depths[:, 0])
             - pairs.flow_ij[:half]).norm(dim=1)
    err_j = (ego_flow(c2w[:, 1], c2w[:, 0], k[:, 1], k[:, 0], depths[:, 1])
             - pairs.flow_ji[:half]).norm(dim=1)
    errors = torch.cat([err_i, err_j])  # (E, H, W): frame i of each edge, then frame j
    low = errors.amin(dim=(1, 2), keepdim=True)
    errors = (errors - low) / (errors.amax(dim=(1, 2), keepdim=True) - low)
    frames = torch.cat([pairs.edges[:half, 0], pairs.edges[:half, 1]])
    num_frames = pairs.num_frames
    total = torch.zeros(num_frames, height, width, device=c2w.device).index_add(0, frames, errors)
    count = torch.zeros(num_frames, device=c2w.device).index_add(0, frames, torch.ones_like(frames, dtype=torch.float32))
    return total / count[:, None, None] > config.motion_mask_thre
