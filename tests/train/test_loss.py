"""The training and test losses reproduce the official values, details and gradients."""

from pathlib import Path

import numpy as np
import pytest
import torch

from align3r.model.network import PairPrediction
from align3r.train.loss import (
    PairTarget,
    confidence_loss,
    normalised_errors,
    regression_loss,
    scale_shift_invariant_loss,
)

DATA = Path(__file__).parents[1] / "goldens" / "train"
OFFICIAL_DETAILS = {"conf_loss_1": "conf_loss_i", "conf_loss2": "conf_loss_j",  # (sic) official names
                    "Regr3D_pts3d_1": "pts3d_error_i", "Regr3D_pts3d_2": "pts3d_error_j",
                    "Regr3D_ScaleShiftInv_pts3d_1": "pts3d_error_i",
                    "Regr3D_ScaleShiftInv_pts3d_2": "pts3d_error_j"}
CRITERIA = {"conf": confidence_loss, "regr3d": regression_loss, "test": scale_shift_invariant_loss}


def golden_inputs(dtype: torch.dtype) -> tuple[PairPrediction, PairTarget]:
    data = {k: torch.from_numpy(v) for k, v in np.load(DATA / "in_loss.npz").items()}
    cast = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in data.items()}
    pred = PairPrediction(cast["pred1_pts3d"].requires_grad_(), cast["pred1_conf"].requires_grad_(),
                          cast["pred2_pts3d_in_other_view"].requires_grad_(), cast["pred2_conf"].requires_grad_())
    target = PairTarget.from_world(cast["view1_pts3d"], cast["view2_pts3d"], cast["view1_camera_pose"],
                                   cast["view1_valid_mask"][..., 0], cast["view2_valid_mask"][..., 0])
    return pred, target


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_reproduces_official(criterion, dtype):
    ref = dict(np.load(DATA / "out_loss.npz"))
    suffix, scalar_tol = ("", 1e-5) if dtype == torch.float32 else ("_f64", 1e-9)
    pred, target = golden_inputs(dtype)
    loss, details = CRITERIA[criterion](pred, target)
    loss.backward()

    def close(ours: float, official: float) -> bool:
        return abs(ours - official) <= scalar_tol * max(1.0, abs(official))

    assert close(loss.item(), float(ref[f"{criterion}.loss{suffix}"]))
    for name in (k[len(f"{criterion}.details."):] for k in ref
                 if k.startswith(f"{criterion}.details.") and not k.endswith("_f64")):
        if not name.startswith("mask_loss"):  # the official constant-zero leftovers
            assert close(details[OFFICIAL_DETAILS[name]], float(ref[f"{criterion}.details.{name}{suffix}"])), name
    grads = {"pred1_pts3d": pred.pts3d_i_in_i, "pred2_pts3d_in_other_view": pred.pts3d_j_in_i,
             "pred1_conf": pred.conf_i, "pred2_conf": pred.conf_j}
    for name, tensor in grads.items():
        key = f"{criterion}.grad.{name}{suffix}"
        if key in ref:
            array_tol = 2e-4 if dtype == torch.float32 else 1e-9
            official = ref[key]
            assert np.abs(tensor.grad.numpy() - official).max() <= array_tol * np.abs(official).max(), key
        else:
            assert tensor.grad is None or not tensor.grad.any(), f"{name} must not influence {criterion}"


def test_normalised_errors_match_official_maps():
    ref = dict(np.load(DATA / "out_loss.npz"))
    pred, target = golden_inputs(torch.float32)
    assert np.array_equal(target.valid_i.numpy(), ref["int.valid1"])
    assert np.array_equal(target.valid_j.numpy(), ref["int.valid2"])
    for ours, key in zip(normalised_errors(pred, target), ("int.l21_map1", "int.l21_map2")):
        assert np.abs(ours.detach().numpy() - ref[key]).max() <= 2e-4 * np.abs(ref[key]).max()


def test_garbage_at_invalid_pixels_changes_nothing():
    pred, target = golden_inputs(torch.float64)
    loss, _ = confidence_loss(pred, target)
    garbage = pred.pts3d_i_in_i.detach().clone()
    garbage[~target.valid_i] = float("nan")
    conf = pred.conf_i.detach().clone()
    conf[~target.valid_i] = 1e30
    spoiled = PairPrediction(garbage, conf, pred.pts3d_j_in_i, pred.conf_j)
    assert confidence_loss(spoiled, target)[0].item() == pytest.approx(loss.item(), rel=1e-12)


def test_loss_is_invariant_to_prediction_scale_only_through_normalisation():
    """avg_dis normalisation: a perfect prediction up to scale has zero regression loss."""
    pred, target = golden_inputs(torch.float64)
    exact = PairPrediction(3.7 * target.pts3d_i_in_i, pred.conf_i, 3.7 * target.pts3d_j_in_i, pred.conf_j)
    assert regression_loss(exact, target)[0].item() == pytest.approx(0.0, abs=1e-12)
    assert scale_shift_invariant_loss(exact, target)[0].item() == pytest.approx(0.0, abs=1e-9)


def test_module_prints_the_three_criteria_as_json():
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "align3r.train.loss", str(DATA / "in_loss.npz")],
                            capture_output=True, text=True, check=True)
    printed = json.loads(result.stdout)
    ref = dict(np.load(DATA / "out_loss.npz"))
    for criterion in CRITERIA:
        assert printed[criterion]["loss"] == pytest.approx(float(ref[f"{criterion}.loss"]), rel=1e-5)
    assert printed["conf"]["details"]["conf_loss_j"] == pytest.approx(float(ref["conf.details.conf_loss2"]), rel=1e-5)
