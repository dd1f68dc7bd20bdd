"""Scale-normalised, confidence-weighted 3D regression (DUSt3R's training loss, docs/training.md §6).

Train criterion: `ConfLoss(Regr3D(L21, norm_mode='avg_dis'), alpha=0.2)`; test criterion:
`Regr3D_ScaleShiftInv(L21, gt_scale=True)` (`dust3r/losses.py`). Pure functions of tensors;
everything is in camera i's frame, the frame of the pair's first view.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from align3r.geometry import transform_points
from align3r.model.network import PairPrediction


@dataclass(frozen=True)
class PairTarget:
    """Ground truth of B ordered pairs (i, j), in camera i's frame.

    Attributes:
        pts3d_i_in_i: (B, H, W, 3) frame i's true points.
        pts3d_j_in_i: (B, H, W, 3) frame j's true points.
        valid_i: (B, H, W) bool, pixels of frame i with 0 < depth < 400 and finite points.
        valid_j: (B, H, W) bool, the same for frame j.
    """

    pts3d_i_in_i: torch.Tensor
    pts3d_j_in_i: torch.Tensor
    valid_i: torch.Tensor
    valid_j: torch.Tensor

    @staticmethod
    def from_world(pts3d_i_in_world: torch.Tensor, pts3d_j_in_world: torch.Tensor, c2w_i: torch.Tensor,
                   valid_i: torch.Tensor, valid_j: torch.Tensor) -> PairTarget:
        """Move world-frame GT points (B, H, W, 3) into camera i with its pose c2w_i (B, 4, 4)."""
        # A general inverse, as the official `Regr3D.get_all_pts3d`: float32 dataset rotations are
        # not exactly orthonormal, and the transpose would move the GT by ~1e-7.
        w2c_i = torch.linalg.inv(c2w_i)
        return PairTarget(transform_points(w2c_i, pts3d_i_in_world), transform_points(w2c_i, pts3d_j_in_world),
                          valid_i, valid_j)


def _zero_invalid(pts3d: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return torch.where(valid[..., None], pts3d, torch.zeros((), dtype=pts3d.dtype, device=pts3d.device))


def avg_dis_scale(pts3d_a: torch.Tensor, pts3d_b: torch.Tensor, valid_a: torch.Tensor,
                  valid_b: torch.Tensor) -> torch.Tensor:
    """Mean distance to the origin of the valid points of both maps, per sample (`avg_dis`).

    Args:
        pts3d_a, pts3d_b: (B, H, W, 3). valid_a, valid_b: (B, H, W) bool.

    Returns:
        (B,) the factor, at least 1e-8; not detached (gradients flow through it).
    """
    dist = torch.cat([_zero_invalid(pts3d_a, valid_a), _zero_invalid(pts3d_b, valid_b)], dim=1).norm(dim=-1)
    count = valid_a.flatten(1).sum(1) + valid_b.flatten(1).sum(1)
    return (dist.flatten(1).sum(1) / (count + 1e-8)).clip(min=1e-8)


def _normalise(pts3d_a: torch.Tensor, pts3d_b: torch.Tensor, valid_a: torch.Tensor,
               valid_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = avg_dis_scale(pts3d_a, pts3d_b, valid_a, valid_b)[:, None, None, None]
    return pts3d_a / scale, pts3d_b / scale


def normalised_errors(pred: PairPrediction, target: PairTarget) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel L21 distances of the `avg_dis`-normalised prediction and GT (`Regr3D`).

    The prediction is normalised with the GT's valid masks.

    Returns:
        error_i, error_j: (B, H, W), the Euclidean (not squared) distance, 0 at invalid pixels.
    """
    pred_i, pred_j = _normalise(pred.pts3d_i_in_i, pred.pts3d_j_in_i, target.valid_i, target.valid_j)
    gt_i, gt_j = _normalise(target.pts3d_i_in_i, target.pts3d_j_in_i, target.valid_i, target.valid_j)
    return ((_zero_invalid(pred_i, target.valid_i) - _zero_invalid(gt_i, target.valid_i)).norm(dim=-1),
            (_zero_invalid(pred_j, target.valid_j) - _zero_invalid(gt_j, target.valid_j)).norm(dim=-1))


def _masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over the valid entries of the whole batch; 0 when there is none."""
    return values[valid].mean() if valid.any() else values.new_zeros(())


def regression_loss(pred: PairPrediction, target: PairTarget) -> tuple[torch.Tensor, dict[str, float]]:
    """`Regr3D(L21, norm_mode='avg_dis')`: mean error of view i + mean error of view j.

    Returns:
        The scalar loss and its details `pts3d_error_i`, `pts3d_error_j`.
    """
    error_i, error_j = normalised_errors(pred, target)
    mean_i, mean_j = _masked_mean(error_i, target.valid_i), _masked_mean(error_j, target.valid_j)
    return mean_i + mean_j, {"pts3d_error_i": mean_i.item(), "pts3d_error_j": mean_j.item()}


def confidence_loss(pred: PairPrediction, target: PairTarget, *,
                    alpha: float = 0.2) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss `ConfLoss(Regr3D, alpha)`: per view, mean over all valid pixels of the
    batch of `conf * error - alpha * log(conf)`, summed over the two views (may be negative).

    Returns:
        The scalar loss and its details: `conf_loss_i`, `conf_loss_j` and the plain errors.
    """
    error_i, error_j = normalised_errors(pred, target)
    terms = {}
    for view, error, conf, valid in (("i", error_i, pred.conf_i, target.valid_i),
                                     ("j", error_j, pred.conf_j, target.valid_j)):
        weighted = error * conf - alpha * torch.log(conf)
        terms[view] = (_masked_mean(weighted, valid), _masked_mean(error, valid).detach())
    details = {"conf_loss_i": terms["i"][0].item(), "conf_loss_j": terms["j"][0].item(),
               "pts3d_error_i": terms["i"][1].item(), "pts3d_error_j": terms["j"][1].item()}
    return terms["i"][0] + terms["j"][0], details


def _joint_lower_median(values_a: torch.Tensor, values_b: torch.Tensor, valid_a: torch.Tensor,
                        valid_b: torch.Tensor) -> torch.Tensor:
    """Per-sample lower median over the valid entries of both maps: (B, H, W, *C) -> (B, *C)."""
    nan = torch.full((), float("nan"), dtype=values_a.dtype, device=values_a.device)
    def flat(v, m):
        return torch.where(m.reshape(m.shape + (1,) * (v.dim() - m.dim())), v, nan).flatten(1, 2)
    return torch.cat([flat(values_a, valid_a), flat(values_b, valid_b)], dim=1).nanmedian(dim=1).values


@torch.no_grad()
def _shift_and_scale(pts3d_i: torch.Tensor, pts3d_j: torch.Tensor, valid_i: torch.Tensor,
                     valid_j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint median z (B,) and joint median distance to the median point (B,), after the shift."""
    shift_z = _joint_lower_median(pts3d_i[..., 2], pts3d_j[..., 2], valid_i, valid_j)
    offset = torch.zeros_like(pts3d_i[:, 0, 0])
    offset[:, 2] = shift_z
    shifted_i, shifted_j = pts3d_i - offset[:, None, None], pts3d_j - offset[:, None, None]
    centre = _joint_lower_median(shifted_i, shifted_j, valid_i, valid_j)[:, None, None]  # (B, 1, 1, 3)
    scale = _joint_lower_median((shifted_i - centre).norm(dim=-1), (shifted_j - centre).norm(dim=-1),
                                valid_i, valid_j)
    return offset, scale


def scale_shift_invariant_loss(pred: PairPrediction, target: PairTarget) -> tuple[torch.Tensor, dict[str, float]]:
    """The test criterion `Regr3D_ScaleShiftInv(L21, gt_scale=True)`, in GT units.

    The prediction is `avg_dis`-normalised (GT masks), both are shifted in z by their joint
    median depth, and the prediction is rescaled by gt_scale / pred_scale (median distance to
    the median point, prediction's clipped to [1e-3, 1e3]); no confidence weighting.

    Returns:
        The scalar loss and its details `pts3d_error_i`, `pts3d_error_j`.
    """
    valid_i, valid_j = target.valid_i, target.valid_j
    pred_i, pred_j = _normalise(pred.pts3d_i_in_i, pred.pts3d_j_in_i, valid_i, valid_j)
    gt_offset, gt_scale = _shift_and_scale(target.pts3d_i_in_i, target.pts3d_j_in_i, valid_i, valid_j)
    pred_offset, pred_scale = _shift_and_scale(pred_i, pred_j, valid_i, valid_j)
    ratio = (gt_scale / pred_scale.clip(min=1e-3, max=1e3))[:, None, None, None]
    means = []
    for p, g, valid in ((pred_i, target.pts3d_i_in_i, valid_i), (pred_j, target.pts3d_j_in_i, valid_j)):
        aligned = (p - pred_offset[:, None, None]) * ratio
        error = (_zero_invalid(aligned, valid) - _zero_invalid(g - gt_offset[:, None, None], valid)).norm(dim=-1)
        means.append(_masked_mean(error, valid))
    return means[0] + means[1], {"pts3d_error_i": means[0].item(), "pts3d_error_j": means[1].item()}


def golden_report(path: str) -> dict[str, dict]:
    """The three criteria on an input in the layout of the official loss goldens (`in_loss.npz`)."""
    import numpy as np

    data = {k: torch.from_numpy(v) for k, v in np.load(path).items()}
    pred = PairPrediction(data["pred1_pts3d"], data["pred1_conf"], data["pred2_pts3d_in_other_view"], data["pred2_conf"])
    target = PairTarget.from_world(data["view1_pts3d"], data["view2_pts3d"], data["view1_camera_pose"],
                                   data["view1_valid_mask"][..., 0], data["view2_valid_mask"][..., 0])
    report = {}
    for name, criterion in (("conf", confidence_loss), ("regr3d", regression_loss), ("test", scale_shift_invariant_loss)):
        loss, details = criterion(pred, target)
        report[name] = {"loss": loss.item(), "details": details}
    return report


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m align3r.train.loss IN.npz   (the layout of the official loss goldens)")
    print(json.dumps(golden_report(sys.argv[1]), indent=2))
