"""Loss terms of the global alignment as pure functions over all edges at once (docs/alignment.md §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_BLOCK_ELEMENTS = 1 << 20
"""Size of a block of the alignment and flow terms on CPU, in floats (4 MB): small enough that a
block's intermediates stay in the L2/L3 cache (measured: benchmarks/README.md, bench_align)."""


def _block_rows(num_rows: int, row_elements: int, device: torch.device) -> int:
    """Rows (edges) per block: cache-sized on CPU, all at once elsewhere (CUDA)."""
    if device.type != "cpu":
        return max(num_rows, 1)
    return max(1, _BLOCK_ELEMENTS // row_elements)


def _carve(workspace: torch.Tensor, *shapes: tuple[int, ...]) -> list[torch.Tensor]:
    """Contiguous tensors of the given shapes, one after another in the flat `workspace`.

    One workspace per call, reused by every block: a few large allocations per iteration
    instead of one per operation and block (each fresh one costs page faults on CPU).
    """
    out, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(workspace[offset:offset + size].view(shape))
        offset += size
    return out


class _AlignmentLoss(torch.autograd.Function):
    """The alignment term, its gradient computed in the same pass (closed form).

    Edges run in blocks (`_block_rows`): a loop over cache-sized blocks of edges, not over
    edges or frames; each block's residuals never leave the cache, and only the small gradients
    (N, 3, P) and (E, 4, 4) are kept for the backward, which scales them. Gradient at a zero
    residual is 0, as for `vector_norm`.
    """

    @staticmethod
    def forward(ctx, pts3d_world: torch.Tensor, edge2w: torch.Tensor, edges: torch.Tensor,
                pts3d_pair_in_i: torch.Tensor, log_conf_pair: torch.Tensor) -> torch.Tensor:
        num_edges, _, _, num_points = pts3d_pair_in_i.shape
        pts_views = pts3d_pair_in_i.view(-1, 3, num_points)  # (2E, 3, P), views of edge e at 2e, 2e+1
        log_conf_views = log_conf_pair.view(-1, num_points)  # (2E, P)
        rot = edge2w[:, None, :3, :3].expand(-1, 2, -1, -1).reshape(-1, 3, 3)  # (2E, 3, 3)
        trans = edge2w[:, None, :3, 3:].expand(-1, 2, -1, -1).reshape(-1, 3, 1)  # (2E, 3, 1)
        frames = edges.reshape(-1)  # (2E,) frame of every view
        grad_world = torch.zeros_like(pts3d_world)
        grad_rot = rot.new_empty(rot.shape)
        grad_trans = trans.new_empty(trans.shape)
        loss = pts3d_world.new_zeros(())
        floor = math.sqrt(torch.finfo(pts3d_world.dtype).tiny)
        block = 2 * _block_rows(num_edges, 6 * num_points, pts3d_world.device)
        workspace = pts3d_world.new_empty(min(block, 2 * num_edges) * 8 * num_points)
        for start in range(0, 2 * num_edges, block):
            views = slice(start, start + block)
            size = len(frames[views])
            residual, aligned, dist, coef = _carve(workspace, (size, 3, num_points), (size, 3, num_points),
                                                   (size, num_points), (size, num_points))
            torch.baddbmm(trans[views].expand_as(aligned), rot[views], pts_views[views], out=aligned)
            # X - s (R pred + T) in the official order: on exact pairs the residual is rounding
            torch.index_select(pts3d_world, 0, frames[views], out=residual).sub_(aligned)  # (2B, 3, P)
            torch.mul(residual[:, 0], residual[:, 0], out=dist).addcmul_(residual[:, 1], residual[:, 1])
            dist.addcmul_(residual[:, 2], residual[:, 2]).sqrt_()  # (2B, P)
            loss += torch.dot(dist.view(-1), log_conf_views[views].reshape(-1))
            torch.div(log_conf_views[views], dist.clamp_min_(floor), out=coef)  # finite where X = S pred
            grad_target = residual.mul_(coef[:, None])  # (2B, 3, P), d loss / d X per view
            grad_world.index_add_(0, frames[views], grad_target)
            torch.bmm(grad_target, pts_views[views].transpose(1, 2), out=grad_rot[views])
            torch.sum(grad_target, dim=2, keepdim=True, out=grad_trans[views])
        area = num_edges * num_points  # both views' sums over the same area, as officially
        grad_edge2w = edge2w.new_zeros(edge2w.shape)
        grad_edge2w[:, :3, :3] = grad_rot.view(num_edges, 2, 3, 3).sum(dim=1).neg_()
        grad_edge2w[:, :3, 3] = grad_trans.view(num_edges, 2, 3).sum(dim=1).neg_()
        ctx.save_for_backward(grad_world.div_(area), grad_edge2w.div_(area))
        return loss / area

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_world, grad_edge2w = ctx.saved_tensors
        return grad_world * grad_loss, grad_edge2w * grad_loss, None, None, None


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
    rot_t = c2w[:-1, :3, :3].transpose(1, 2)  # Q_k by the rigid inverse (officially torch.inverse)
    k1_to_k_rot = rot_t @ c2w[1:, :3, :3]  # (N-1, 3, 3)
    k1_to_k_trans = rot_t @ (c2w[1:, :3, 3:] - c2w[:-1, :3, 3:])  # (N-1, 3, 1)
    eye = torch.eye(3, dtype=c2w.dtype, device=c2w.device)
    rot_term = torch.linalg.matrix_norm(k1_to_k_rot - eye)
    trans_term = torch.linalg.vector_norm(k1_to_k_trans[..., 0], dim=-1)
    return (rot_term + trans_term * translation_weight).sum()


def ego_warp(c2w_src: torch.Tensor, c2w_dst: torch.Tensor, k_src: torch.Tensor,
             k_dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The camera motion as a pixel warp: `x = proj [u v 1] + offset / (D_src + 1e-6)`.

    `proj = K_dst R_rel K_src^-1`, `offset = K_dst t_rel`, `R_rel = R_dst^T R_src`,
    `t_rel = R_dst^T (T_src - T_dst)` (MonST3R's depth-based warping, docs/alignment.md §4.3).

    Args:
        c2w_src, c2w_dst: (B, 4, 4) camera-to-world poses of the source and target frames.
        k_src, k_dst: (B, 3, 3) intrinsics.

    Returns:
        proj (B, 3, 3), offset (B, 3, 1).
    """
    rot_dst_t = c2w_dst[:, :3, :3].transpose(1, 2)
    src2dst_rot = rot_dst_t @ c2w_src[:, :3, :3]
    src2dst_trans = rot_dst_t @ (c2w_src[:, :3, 3:] - c2w_dst[:, :3, 3:])  # (B, 3, 1)
    return k_dst @ src2dst_rot @ torch.linalg.inv(k_src), k_dst @ src2dst_trans


def homogeneous_pixels(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(3, H*W) `[u, v, 1]` of every pixel, row-major, in `like`'s dtype and device."""
    v, u = torch.meshgrid(torch.arange(height, device=like.device),
                          torch.arange(width, device=like.device), indexing="ij")
    return torch.stack([u, v, torch.ones_like(u)]).to(like.dtype).view(3, -1)


def ego_flow(c2w_i: torch.Tensor, c2w_j: torch.Tensor, k_i: torch.Tensor, k_j: torch.Tensor,
             depth_i: torch.Tensor) -> torch.Tensor:
    """Flow i -> j induced by the cameras' motion alone (static scene), see `ego_warp`:
    flow = x_xy / (x_z + 1e-6) - (u, v).

    Args:
        c2w_i, c2w_j: (B, 4, 4) camera-to-world poses of the source and target frames.
        k_i, k_j: (B, 3, 3) intrinsics.
        depth_i: (B, H, W) z-depth of the source frame.

    Returns:
        (B, 2, H, W) flow in pixels, channel 0 = x.
    """
    batch, height, width = depth_i.shape
    pix = homogeneous_pixels(height, width, depth_i)
    proj, offset = ego_warp(c2w_i, c2w_j, k_i, k_j)
    disparity = 1 / (depth_i.view(batch, 1, -1) + 1e-6)
    warped = proj @ pix + disparity * offset  # (B, 3, HW)
    flow = warped[:, :2] / (warped[:, 2:] + 1e-6) - pix[:2]
    return flow.view(batch, 2, height, width)


@dataclass(frozen=True)
class FlowTarget:
    """The measured flows of directed edges on their source frames' static pixels, made once
    per scene (`flow_target`). Rows are grouped (the official i -> j and j -> i halves): the
    loss is the weighted sum over groups of each group's mean.

    Attributes:
        src: (D,) int64 source frame of each row's flow.
        dst: (D,) int64 its target frame.
        group: (D,) int64 group of each row, 0 .. G-1.
        static: (D, P) float 1 on static pixels of the source frame, 0 on moving ones.
        flow_static: (D, 2, P) measured flow (pixels, channel 0 = x) times `static`.
        pixels: (3, P) `[u, v, 1]` of the source pixels (`homogeneous_pixels`).
        group_weights: (G,) weight of each group's mean (2 for a group standing for two equal
            ones).
    """

    src: torch.Tensor
    dst: torch.Tensor
    group: torch.Tensor
    static: torch.Tensor
    flow_static: torch.Tensor
    pixels: torch.Tensor
    group_weights: torch.Tensor


def flow_target(edges: list[torch.Tensor], flows: list[torch.Tensor], statics: list[torch.Tensor],
                weights: list[float] | None = None) -> FlowTarget:
    """`FlowTarget` of G groups of directed edges.

    Args:
        edges: G tensors (E_g, 2) int64, (source, target) frames of each group's rows.
        flows: G tensors (E_g, 2, H, W), the measured flows source -> target.
        statics: G tensors (E_g, H, W) bool, static pixels of the source frames.
        weights: G weights of the groups' means; all 1 when None.
    """
    directed = torch.cat(edges)
    flow = torch.cat(flows).flatten(2)  # (D, 2, P)
    static = torch.cat(statics).flatten(1).to(flow.dtype)  # (D, P)
    group = torch.cat([torch.full((len(e),), g, device=directed.device) for g, e in enumerate(edges)])
    height, width = flows[0].shape[-2:]
    group_weights = torch.tensor([1.0] * len(edges) if weights is None else weights, dtype=flow.dtype,
                                 device=flow.device)
    return FlowTarget(directed[:, 0], directed[:, 1], group, static, flow * static[:, None],
                      homogeneous_pixels(height, width, flow), group_weights)


class _EgoFlowLoss(torch.autograd.Function):
    """`ego_flow_loss` with its gradient computed in the same pass (closed form), in cache-sized
    blocks of rows (a loop over blocks, not over edges; one block on CUDA). The backward scales
    the stored gradients of the (D, 3, 3) and (D, 3, 1) warps and the (N, P) disparities."""

    @staticmethod
    def forward(ctx, proj: torch.Tensor, offset: torch.Tensor, disparity: torch.Tensor,
                target: FlowTarget, pxl_thre: float) -> torch.Tensor:
        num_rows, _, num_points = target.flow_static.shape
        num_frames = len(disparity)
        grad_proj = proj.new_empty(num_rows * 3, 3)
        grad_offset_t = offset.new_empty(num_rows, 1, 3)
        grad_disparity = disparity.new_zeros(len(target.group_weights) * num_frames, num_points)
        accumulate_at = target.group * num_frames + target.src  # (D,) row of grad_disparity
        row_total, row_count = proj.new_empty(num_rows, 1, 1), proj.new_empty(num_rows)
        zero = proj.new_zeros(()).expand(num_rows, 2, num_points)
        block = _block_rows(num_rows, 3 * num_points, proj.device)
        workspace = proj.new_empty(min(block, num_rows) * 9 * num_points)
        for start in range(0, num_rows, block):
            rows = slice(start, start + block)
            size = len(target.src[rows])
            disp, warped, inv_z, residual, keep = _carve(
                workspace, (size, 1, num_points), (size, 3, num_points), (size, 1, num_points),
                (size, 2, num_points), (size, 2, num_points))
            torch.index_select(disparity, 0, target.src[rows], out=disp.view(size, num_points))
            pixels = target.pixels.expand(size, -1, -1)  # (B, 3, P)
            torch.bmm(proj[rows], pixels, out=warped).addcmul_(disp, offset[rows])  # (B, 3, P)
            torch.add(warped[:, 2:], 1e-6, out=inv_z).reciprocal_()  # (B, 1, P)
            projected = warped[:, :2].mul_(inv_z)  # (B, 2, P), in place
            static = target.static[rows, None]  # (B, 1, P)
            # smooth_l1(ego * static, flow * static) (cloud_opt_flow/optimizer.py, forward), static
            # by `keep` below: moving pixels are neither summed nor counted, nor have a gradient
            torch.sub(projected, pixels[:, :2], out=residual).sub_(target.flow_static[rows])
            rho = F.smooth_l1_loss(residual, zero[rows], reduction="none", beta=1.0)
            torch.lt(rho, pxl_thre, out=keep).mul_(static)  # (B, 2, P)
            torch.bmm(rho.view(size, 1, -1), keep.view(size, -1, 1), out=row_total[rows])
            torch.sum(keep.view(size, -1), dim=1, out=row_count[rows])
            grad_xy = residual.clamp_(-1, 1).mul_(keep).mul_(inv_z)  # d / d warped_xy
            grad_warped = warped  # (B, 3, P), overwrites projected last
            torch.mul(grad_xy[:, 0], projected[:, 0], out=grad_warped[:, 2])
            grad_warped[:, 2].addcmul_(grad_xy[:, 1], projected[:, 1]).neg_()
            grad_warped[:, :2] = grad_xy
            torch.mm(grad_warped.view(-1, num_points), target.pixels.T, out=grad_proj[3 * start:3 * (start + block)])
            torch.bmm(disp, grad_warped.transpose(1, 2), out=grad_offset_t[rows])
            grad_disparity.index_add_(0, accumulate_at[rows],
                                      torch.bmm(offset[rows].transpose(1, 2), grad_warped, out=disp)[:, 0])
        count = row_count.new_zeros(len(target.group_weights)).index_add_(0, target.group, row_count)
        total = row_count.new_zeros(len(target.group_weights)).index_add_(0, target.group, row_total.view(-1))
        group_scale = target.group_weights / count  # (G,)
        row_scale = group_scale[target.group][:, None, None]  # (D, 1, 1)
        grad_disparity = (grad_disparity.view(-1, num_frames, num_points) * group_scale[:, None, None]).sum(0)
        ctx.save_for_backward(grad_proj.view_as(proj).mul_(row_scale),
                              grad_offset_t.transpose(1, 2).mul_(row_scale), grad_disparity)
        return torch.dot(total, group_scale)

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (*(grad * grad_loss for grad in ctx.saved_tensors), None, None)


def ego_flow_loss(proj: torch.Tensor, offset: torch.Tensor, disparity: torch.Tensor,
                  target: FlowTarget, pxl_thre: float) -> torch.Tensor:
    """Smooth-L1 (beta 1) between the ego-motion flow and the measured flow on static pixels,
    elements whose residual is >= `pxl_thre` left out: per group of rows the mean over the kept
    elements of both channels, summed over the groups (docs/alignment.md §4.3). Differentiable in
    `proj`, `offset` and `disparity`.

    Args:
        proj, offset: (D, 3, 3), (D, 3, 1) the warp of each row's source frame (`ego_warp`).
        disparity: (N, P) `1 / (D + 1e-6)` of every frame.
        target: the measured flows of the same rows.
        pxl_thre: per-element cap.

    Returns:
        () scalar.
    """
    return _EgoFlowLoss.apply(proj, offset, disparity, target, pxl_thre)
