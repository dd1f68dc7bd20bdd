"""The optimised parameters of one scene and their official encodings (docs/alignment.md §2)."""

from __future__ import annotations

import math

import roma
import torch
from torch import nn

from align3r.geometry import centred_intrinsics, similarity_matrix

FOCAL_BREAK = 20.0  # phi = 20 ln f (dust3r/cloud_opt/base_opt.py)


def signed_log1p(x: torch.Tensor) -> torch.Tensor:
    """sign(x) log(1 + |x|), the official translation encoding."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def signed_expm1(x: torch.Tensor, *, unit_slope_at_zero: bool = False) -> torch.Tensor:
    """sign(x) (exp|x| - 1), inverse of `signed_log1p`.

    The official formula has slope 0 at exactly x = 0 (sign(0) = 0), so an entry that starts at
    exactly 0 never moves: the root camera of a scene stays at the origin, as in the official runs
    (kept). The official per-edge translations start at rounding-level values (~1e-8, never 0)
    and so move; our float32 registration of the root edge can give exactly 0, which froze them
    and changed the first Adam step by 3 % on a one-edge scene. `unit_slope_at_zero` gives
    those entries the true slope 1 at 0 (fixed); the values are the same.
    """
    if not unit_slope_at_zero:
        return torch.sign(x) * torch.expm1(torch.abs(x))
    return torch.where(x >= 0, torch.expm1(x.clamp(min=0)), -torch.expm1((-x).clamp(min=0)))


def _translation_slope(x: torch.Tensor, unit_slope_at_zero: bool) -> torch.Tensor:
    """d signed_expm1(x) / dx as autograd gives it: (expm1|x| + 1), times sign(x)^2 officially."""
    slope = torch.expm1(torch.abs(x)) + 1
    return slope if unit_slope_at_zero else slope * torch.sign(x) ** 2


class _DecodeRigid(torch.autograd.Function):
    """`decode_rigid` as one autograd node: the forward is the composed one (roma's rotation of
    the normalised quaternion, `signed_expm1`), the backward its closed-form gradient. The
    composition is ~45 small nodes, ~0.7 ms per call and iteration on CPU."""

    @staticmethod
    def forward(ctx, pose7: torch.Tensor, unit_slope_at_zero: bool) -> torch.Tensor:
        quat, tau = pose7[..., :4], pose7[..., 4:7]
        norm = torch.linalg.norm(quat, dim=-1, keepdim=True)
        unit = quat / norm  # roma.quat_normalize
        ctx.save_for_backward(unit, norm, _translation_slope(tau, unit_slope_at_zero))
        return similarity_matrix(torch.ones_like(norm[..., 0]), roma.unitquat_to_rotmat(unit),
                                 signed_expm1(tau, unit_slope_at_zero=unit_slope_at_zero))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        # R(u) = (w^2 - v.v) I + 2 v v^T + 2 w [v]x for the unit quaternion u = (v, w), so with
        # G = dL/dR and a = (G21 - G12, G02 - G20, G10 - G01) (<G, [v]x> = v.a):
        # dL/dv = 2 (-tr(G) v + (G + G^T) v + w a), dL/dw = 2 (w tr(G) + v.a); then through
        # u = q / |q|: dL/dq = (dL/du - u (u . dL/du)) / |q|.
        unit, norm, slope = ctx.saved_tensors
        g = grad[..., :3, :3]
        v, w = unit[..., :3], unit[..., 3:]
        trace = torch.diagonal(g, dim1=-2, dim2=-1).sum(-1, keepdim=True)
        a = torch.stack([g[..., 2, 1] - g[..., 1, 2], g[..., 0, 2] - g[..., 2, 0],
                         g[..., 1, 0] - g[..., 0, 1]], dim=-1)
        grad_v = 2 * (((g + g.transpose(-1, -2)) @ v[..., None])[..., 0] - trace * v + w * a)
        grad_w = 2 * (w * trace + (v * a).sum(-1, keepdim=True))
        grad_unit = torch.cat([grad_v, grad_w], dim=-1)
        grad_quat = (grad_unit - unit * (unit * grad_unit).sum(-1, keepdim=True)) / norm
        return torch.cat([grad_quat, grad[..., :3, 3] * slope], dim=-1), None


def decode_rigid(pose7: torch.Tensor, *, unit_slope_at_zero: bool = False) -> torch.Tensor:
    """(*, 7) `[qx qy qz qw, tau]` -> (*, 4, 4) rigid transform (quaternion normalised on use);
    `unit_slope_at_zero` as in `signed_expm1`."""
    return _DecodeRigid.apply(pose7, unit_slope_at_zero)


def encode_rigid(rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """(*, 3, 3) rotation, (*, 3) translation -> (*, 7) `[qx qy qz qw, signed_log1p(t)]`."""
    return torch.cat([roma.rotmat_to_unitquat(rot), signed_log1p(trans)], dim=-1)


class SceneParams(nn.Module):
    """Per-frame log-depth, pose and focal, per-edge similarity: the official parameterisation.

    Attributes:
        log_depth: (N, H*W) ln z-depth.
        pose7: (N, 7) camera-to-world `[qx qy qz qw, signed_log1p(t)]`.
        log_focal: (1,) shared or (N,) per frame, phi = 20 ln f.
        pw_pose8: (E, 8) edge-to-world similarity `[qx qy qz qw, signed_log1p(t / s), ln s]`.
        pp: (2,) principal point (W/2, H/2) (not optimised, `optimize_pp=False`).
    """

    def __init__(self, log_depth: torch.Tensor, pose7: torch.Tensor, log_focal: torch.Tensor,
                 pw_pose8: torch.Tensor, *, height: int, width: int, base_scale: float) -> None:
        super().__init__()
        self.log_depth = nn.Parameter(log_depth)
        self.pose7 = nn.Parameter(pose7)
        self.log_focal = nn.Parameter(log_focal)
        self.pw_pose8 = nn.Parameter(pw_pose8)
        self.register_buffer("pp", torch.tensor([width / 2, height / 2], dtype=log_depth.dtype,
                                                device=log_depth.device))
        v, u = torch.meshgrid(torch.arange(height, device=log_depth.device),
                              torch.arange(width, device=log_depth.device), indexing="ij")
        uv = torch.stack([u, v]).view(1, 2, -1).to(log_depth.dtype)  # (1, 2, HW)
        self.register_buffer("centred_uv", uv - self.pp[:, None])
        self.height, self.width = height, width
        self.log_base_scale = math.log(base_scale)

    @property
    def num_frames(self) -> int:
        return self.log_depth.shape[0]

    def c2w(self) -> torch.Tensor:
        """(N, 4, 4) camera-to-world poses."""
        return decode_rigid(self.pose7)

    def focals(self) -> torch.Tensor:
        """(N,) focal lengths in pixels."""
        return torch.exp(self.log_focal / FOCAL_BREAK).expand(self.num_frames)

    def intrinsics(self) -> torch.Tensor:
        """(N, 3, 3) pinhole K with the principal point (W/2, H/2)."""
        return centred_intrinsics(self.focals(), self.height, self.width)

    def depths(self) -> torch.Tensor:
        """(N, H, W) z-depth."""
        return torch.exp(self.log_depth).view(-1, self.height, self.width)

    def pts3d_world(self, c2w: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 3, H*W) world points, channel-first: X_k = c2w_k [D (u - cx) / f, D (v - cy) / f, D].

        Args:
            c2w: (N, 4, 4) the poses if already decoded this iteration, else decoded here.
        """
        depth = torch.exp(self.log_depth)[:, None]  # (N, 1, HW)
        xy = depth * self.centred_uv / self.focals()[:, None, None]
        c2w = self.c2w() if c2w is None else c2w
        return torch.baddbmm(c2w[:, :3, 3:], c2w[:, :3, :3], torch.cat([xy, depth], dim=1))

    def pw_scales(self) -> torch.Tensor:
        """(E,) effective edge scales, geometric mean pinned to the base scale (the gauge)."""
        log_scale = self.pw_pose8[:, 7]
        return torch.exp(log_scale) * torch.exp(self.log_base_scale - log_scale.mean())

    def edge2w(self) -> torch.Tensor:
        """(E, 4, 4) per-edge similarity s (R x + T): both rotation and translation rows scaled."""
        sim = decode_rigid(self.pw_pose8[:, :7], unit_slope_at_zero=True)
        scale = torch.ones_like(sim[:, :, :1]).clone()
        scale[:, :3] = self.pw_scales()[:, None, None]
        return sim * scale
