"""Loss terms of the global alignment as pure functions over all edges at once (ALIGNMENT.md §4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def alignment_loss(pts3d_world: torch.Tensor, edge2w: torch.Tensor, edges: torch.Tensor,
                   pts3d_i_in_i: torch.Tensor, pts3d_j_in_i: torch.Tensor,
                   log_conf_i: torch.Tensor, log_conf_j: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted distance between the frames' world points and each edge's aligned pair.

    `sum w_i |X_i - S_e pred_i| / (E P) + sum w_j |X_j - S_e pred_j| / (E P)` with the Euclidean
    norm (`dist='l1'`) and log-confidence weights (dust3r/cloud_opt/optimizer.py, forward).

    Args:
        pts3d_world: (N, P, 3) world points of every frame (P = H*W).
        edge2w: (E, 4, 4) per-edge similarity, camera i of the edge -> world.
        edges: (E, 2) int64 frame indices (i, j).
        pts3d_i_in_i: (E, P, 3) frame i's predicted points, camera i.
        pts3d_j_in_i: (E, P, 3) frame j's predicted points, camera i.
        log_conf_i: (E, P) ln of the raw confidence of pts3d_i_in_i.
        log_conf_j: (E, P) ln of the raw confidence of pts3d_j_in_i.

    Returns:
        () scalar loss.
    """
    rot_t = edge2w[:, :3, :3].transpose(1, 2)  # (E, 3, 3)
    trans = edge2w[:, None, :3, 3]  # (E, 1, 3)
    aligned_i = pts3d_i_in_i @ rot_t + trans
    aligned_j = pts3d_j_in_i @ rot_t + trans
    area = pts3d_i_in_i.shape[0] * pts3d_i_in_i.shape[1]
    loss_i = (torch.linalg.vector_norm(pts3d_world[edges[:, 0]] - aligned_i, dim=-1) * log_conf_i).sum()
    loss_j = (torch.linalg.vector_norm(pts3d_world[edges[:, 1]] - aligned_j, dim=-1) * log_conf_j).sum()
    return loss_i / area + loss_j / area


def temporal_loss(c2w: torch.Tensor, translation_weight: float) -> torch.Tensor:
    """Smoothness of consecutive poses: sum_k |R(Q_k) - I|_F + w |t(Q_k)|, Q_k = c2w_k^-1 c2w_k+1.

    Args:
        c2w: (N, 4, 4) camera-to-world poses in scene order.
        translation_weight: weight w of the translation norm.

    Returns:
        () scalar (MonST3R cloud_opt_flow/optimizer.py, relative_pose_loss).
    """
    k1_to_k = torch.inverse(c2w[:-1]) @ c2w[1:]  # (N-1, 4, 4)
    eye = torch.eye(3, dtype=c2w.dtype, device=c2w.device)
    rot_term = torch.linalg.matrix_norm(k1_to_k[:, :3, :3] - eye)
    trans_term = torch.linalg.vector_norm(k1_to_k[:, :3, 3], dim=-1)
    return (rot_term + trans_term * translation_weight).sum()


def ego_flow(c2w_i: torch.Tensor, c2w_j: torch.Tensor, k_i: torch.Tensor, k_j: torch.Tensor,
             depth_i: torch.Tensor) -> torch.Tensor:
    """Flow i -> j induced by the cameras' motion alone (static scene).

    `x = K_j R_rel K_i^-1 [u v 1] + K_j t_rel / (D_i + 1e-6)`, flow = x_xy / (x_z + 1e-6) - (u, v),
    with `R_rel = R_j^T R_i`, `t_rel = R_j^T (T_i - T_j)` (MonST3R's depth-based warping).

    Args:
        c2w_i, c2w_j: (B, 4, 4) camera-to-world poses of the source and target frames.
        k_i, k_j: (B, 3, 3) intrinsics.
        depth_i: (B, H, W) z-depth of the source frame.

    Returns:
        (B, 2, H, W) flow in pixels, channel 0 = x.
    """
    batch, height, width = depth_i.shape
    v, u = torch.meshgrid(torch.arange(height, device=depth_i.device),
                          torch.arange(width, device=depth_i.device), indexing="ij")
    pix = torch.stack([u, v, torch.ones_like(u)]).to(depth_i.dtype).view(1, 3, -1)  # (1, 3, HW)
    rot_j_t = c2w_j[:, :3, :3].transpose(1, 2)
    i2j_rot = rot_j_t @ c2w_i[:, :3, :3]
    i2j_trans = rot_j_t @ (c2w_i[:, :3, 3:] - c2w_j[:, :3, 3:])  # (B, 3, 1)
    disparity = 1 / (depth_i.view(batch, 1, -1) + 1e-6)
    warped = k_j @ i2j_rot @ torch.linalg.inv(k_i) @ pix + disparity * (k_j @ i2j_trans)
    flow = warped[:, :2] / (warped[:, 2:] + 1e-6) - pix[:, :2]
    return flow.view(batch, 2, height, width)


def masked_flow_loss(ego_flow_ij: torch.Tensor, flow_ij: torch.Tensor, static_i: torch.Tensor,
                     pxl_thre: float) -> torch.Tensor:
    """Smooth-L1 (beta 1) between ego-motion and measured flow on static pixels, capped per element.

    Args:
        ego_flow_ij: (E, 2, H, W) camera-induced flow.
        flow_ij: (E, 2, H, W) measured flow.
        static_i: (E, H, W) bool, pixels of the source frame outside its motion mask.
        pxl_thre: elements whose residual is >= this are left out.

    Returns:
        () mean residual over the kept elements of both channels.
    """
    mask = static_i[:, None].to(ego_flow_ij.dtype)  # (E, 1, H, W)
    residual = F.smooth_l1_loss(ego_flow_ij * mask, flow_ij * mask, reduction="none", beta=1.0)
    keep = (residual < pxl_thre) * mask
    return (residual * keep).sum() / keep.sum()
