"""Loss terms of the global alignment as pure functions over all edges at once (ALIGNMENT.md §4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _AlignmentLoss(torch.autograd.Function):
    """The alignment term with a hand-written backward: fewer passes over the E x 2 x 3 x P points
    than autograd's (the dominant cost of an iteration on CPU). Gradient at a zero residual is 0,
    as for `vector_norm`."""

    @staticmethod
    def forward(ctx, pts3d_world: torch.Tensor, edge2w: torch.Tensor, edges: torch.Tensor,
                pts3d_pair_in_i: torch.Tensor, log_conf_pair: torch.Tensor) -> torch.Tensor:
        num_edges, _, _, num_points = pts3d_pair_in_i.shape
        rot = edge2w[:, None, :3, :3].expand(-1, 2, -1, -1).reshape(-1, 3, 3)  # (2E, 3, 3)
        aligned = torch.bmm(rot, pts3d_pair_in_i.view(-1, 3, num_points)).view_as(pts3d_pair_in_i)
        residual = pts3d_world[edges] - (aligned + edge2w[:, None, :3, 3:])  # (E, 2, 3, P)
        dist = (residual * residual).sum(dim=2).sqrt()  # (E, 2, P)
        ctx.save_for_backward(residual, dist, edges, pts3d_pair_in_i, log_conf_pair)
        ctx.num_frames = pts3d_world.shape[0]
        weighted = dist * log_conf_pair
        area = num_edges * num_points  # the two views summed apart, as officially
        return weighted[:, 0].sum() / area + weighted[:, 1].sum() / area

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        residual, dist, edges, pts3d_pair_in_i, log_conf_pair = ctx.saved_tensors
        num_edges, _, _, num_points = residual.shape
        coef = grad_loss * log_conf_pair / (dist * (num_edges * num_points))
        grad_target = residual * coef.masked_fill_(dist == 0, 0)[:, :, None]  # (E, 2, 3, P)
        grad_world = grad_target.new_zeros(ctx.num_frames, 3, num_points)
        grad_world.index_add_(0, edges.flatten(), grad_target.view(-1, 3, num_points))
        grad_edge2w = grad_target.new_zeros(num_edges, 4, 4)
        flat = (-1, 3, num_points)
        grad_rot = torch.bmm(grad_target.view(flat), pts3d_pair_in_i.view(flat).transpose(1, 2))
        grad_edge2w[:, :3, :3] = -grad_rot.view(num_edges, 2, 3, 3).sum(dim=1)
        grad_edge2w[:, :3, 3] = -grad_target.sum(dim=(1, 3))
        return grad_world, grad_edge2w, None, None, None


def alignment_loss(pts3d_world: torch.Tensor, edge2w: torch.Tensor, edges: torch.Tensor,
                   pts3d_pair_in_i: torch.Tensor, log_conf_pair: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted distance between the frames' world points and each edge's aligned pair.

    `sum w_i |X_i - S_e pred_i| / (E P) + sum w_j |X_j - S_e pred_j| / (E P)` with the Euclidean
    norm (`dist='l1'`) and log-confidence weights (dust3r/cloud_opt/optimizer.py, forward), on
    channel-first tensors (contiguous per coordinate: faster on CPU). Differentiable in
    `pts3d_world` and `edge2w`.

    Args:
        pts3d_world: (N, 3, P) world points of every frame, channel-first (P = H*W).
        edge2w: (E, 4, 4) per-edge similarity, camera i of the edge -> world.
        edges: (E, 2) int64 frame indices (i, j).
        pts3d_pair_in_i: (E, 2, 3, P) predicted points of frame i and frame j, camera i.
        log_conf_pair: (E, 2, P) ln of their raw confidences.

    Returns:
        () scalar loss.
    """
    return _AlignmentLoss.apply(pts3d_world, edge2w, edges, pts3d_pair_in_i, log_conf_pair)


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
