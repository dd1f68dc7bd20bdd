"""Depth and pose metrics reproduce the official goldens (tests/goldens/eval/README.md) and evo."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.depth_goldens import approx_golden

from align3r.eval.metrics import (
    OFFICIAL_DEPTH_KEYS,
    align_in_disparity,
    average_depth_metrics,
    depth_valid_mask,
    fit_scale_shift,
    per_frame_depth_metrics,
    pose_metrics,
    video_depth_metrics,
)
from align3r.geometry import qxyzw_to_rotmat
from align3r.io.trajectory import read_trajectory

DATA = Path(__file__).parents[1] / "goldens" / "eval"
SEQUENCES = ("A", "B", "C")


def load_depth(seq: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.load(DATA / f"depth{seq}_pred.npz")["depths"], np.load(DATA / f"depth{seq}_gt.npz")["depths"])


@pytest.mark.parametrize("align", ["lad", "lstsq"])
def test_depth_metrics_reproduce_official(align):
    golden = json.loads((DATA / f"depth_metrics_{align}.json").read_text())
    results = []
    for seq, ref in zip(SEQUENCES, golden["sequences"]):
        pred, gt = load_depth(seq)
        metrics = video_depth_metrics(pred, gt, align=align)
        results.append(metrics)
        ours = metrics.as_official_dict() | {"scale": metrics.scale, "shift": metrics.shift}
        for key, value in ours.items():
            assert value == approx_golden(ref[key], align=align), (seq, key)
        per_frame = per_frame_depth_metrics(pred, gt, metrics.scale, metrics.shift)
        for key, value in ref["per_frame"].items():
            assert getattr(per_frame, key) == approx_golden(value, align=align), (seq, key)
    for key, value in average_depth_metrics(results).items():
        assert value == approx_golden(golden["average"][key], align=align), key


def test_valid_mask_is_official():
    gt = np.array([[-1.0, 0.0, 1e-3, 2e-3], [69.9, 70.0, np.nan, 80.0]], dtype=np.float32)
    expected = np.array([[False, False, False, True], [True, False, False, False]])
    np.testing.assert_array_equal(depth_valid_mask(gt), expected)


@pytest.mark.parametrize("align", ["lad", "lstsq"])
def test_exact_affine_prediction_is_recovered(align):
    gt = np.random.default_rng(0).uniform(1.0, 20.0, size=(3, 8, 10)).astype(np.float32)
    pred = ((gt - 0.5) / 2.5).astype(np.float32)  # gt = 2.5 pred + 0.5
    metrics = video_depth_metrics(pred, gt, align=align)
    assert metrics.scale == pytest.approx(2.5, rel=1e-4)
    assert metrics.shift == pytest.approx(0.5, abs=1e-3)
    assert metrics.abs_rel < 1e-4 and metrics.delta1 == 1.0 and metrics.valid_pixels == gt.size


def test_disparity_protocol_recovers_an_affine_disparity_and_scores_a_depth_error():
    """An exact affine disparity (what Depth Anything predicts) scores 0 under the "disp" protocol,
    where its inverse is no affine map of depth; a disparity shifted on one of two frames scores
    the closed-form error of the least-squares fit in disparity."""
    gt = np.random.default_rng(0).uniform(1.0, 20.0, size=(3, 8, 10)).astype(np.float32)
    def disparity_depth_metrics(disparity, gt):
        return per_frame_depth_metrics(align_in_disparity(disparity, gt), gt, 1.0, 0.0)

    exact = disparity_depth_metrics(0.7 / gt + 0.2, gt)
    assert exact.abs_rel < 1e-6 and exact.delta1 == 1.0
    assert video_depth_metrics(1.0 / (0.7 / gt + 0.2), gt, align="lstsq").abs_rel > 0.05  # the depth protocol cannot
    gt3 = np.array([[[2.0, 4.0]], [[2.0, 4.0]]])
    disparity3 = np.stack([1.0 / gt3[0], 1.0 / gt3[1] + 0.25])  # frame 1 shifted by 0.25 in disparity
    # The fit s d + t of 1/gt over d = (0.5, 0.25, 0.75, 0.5) against (0.5, 0.25, 0.5, 0.25): s = 0.5, t = 0.125;
    # frame 0 -> disparities (0.375, 0.25): depths (8/3, 4), Abs Rel (1/3 + 0) / 2; frame 1 -> (0.5, 0.375):
    # depths (2, 8/3), Abs Rel (0 + 1/3) / 2; the mean over frames 1/6.
    assert disparity_depth_metrics(disparity3, gt3).abs_rel == pytest.approx(1 / 6, abs=1e-7)


def test_lad_ignores_outliers_lstsq_does_not():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1.0, 10.0, size=4000).astype(np.float32)
    pred = (gt / 2.0).astype(np.float32)
    pred[:40] = 100.0  # 1 % gross outliers
    assert fit_scale_shift(pred, gt, align="lad")[0] == pytest.approx(2.0, rel=1e-3)
    assert abs(fit_scale_shift(pred, gt, align="lstsq")[0] - 2.0) > 0.5


def test_depth_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="pred"):
        video_depth_metrics(np.ones((2, 3, 4)), np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="no pixel"):
        video_depth_metrics(np.ones((1, 3, 4)), np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="align"):
        video_depth_metrics(np.ones((1, 3, 4)), np.ones((1, 3, 4)), align="median")


def golden_pose_inputs(case: str) -> tuple[np.ndarray, np.ndarray]:
    if case in ("A", "B"):
        return (np.load(DATA / f"pose{case}_pred.npz")["poses_c2w"], np.load(DATA / f"pose{case}_gt.npz")["poses_c2w"])
    _, gt = read_trajectory(DATA / "poseC_gt_tum.txt", fmt="tum")
    if case == "C":
        return read_trajectory(DATA / "poseC_pred_traj.txt", fmt="official")[1], gt
    return read_trajectory(DATA / "poseC_pred_traj_4_16.txt", fmt="official")[1], gt[4:16]


POSE_CASES = {"A": "poseA_metrics.json", "B": "poseB_metrics.json", "C": "poseC_metrics.json",
              "C_slice": "poseC_slice_metrics.json"}


@pytest.mark.parametrize("case", POSE_CASES)
def test_pose_metrics_reproduce_official(case):
    ref = json.loads((DATA / POSE_CASES[case]).read_text())
    est, gt = golden_pose_inputs(case)
    metrics = pose_metrics(est, gt)
    assert len(est) == ref["n_pred"]
    assert metrics.ate == pytest.approx(ref["ate"], rel=1e-6)
    assert metrics.rpe_trans == pytest.approx(ref["rpe_trans"], rel=1e-6)
    assert metrics.rpe_rot_deg == pytest.approx(ref["rpe_rot"], rel=1e-6)


def test_pose_metrics_vanish_under_a_similarity():
    rng = np.random.default_rng(2)
    gt = np.tile(np.eye(4), (10, 1, 1))
    gt[:, :3, :3] = qxyzw_to_rotmat(torch.from_numpy(rng.normal(size=(10, 4)))).numpy()
    gt[:, :3, 3] = rng.normal(size=(10, 3))
    world2other = np.eye(4)
    world2other[:3, :3] = qxyzw_to_rotmat(torch.tensor([0.1, -0.3, 0.2, 0.9], dtype=torch.float64)).numpy()
    world2other[:3, 3] = [1.0, 2.0, -3.0]
    est = world2other @ gt
    est[:, :3, 3] *= 3.0  # a scale moves the centres only
    metrics = pose_metrics(est, gt)
    assert metrics.ate < 1e-12 and metrics.rpe_trans < 1e-12 and metrics.rpe_rot_deg < 1e-5


def evo_metrics(est: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    """The official call sequence of `vo_eval.eval_metrics` on evo trajectories."""
    evo_trajectory = pytest.importorskip("evo.core.trajectory")
    main_ape = pytest.importorskip("evo.main_ape")
    main_rpe = pytest.importorskip("evo.main_rpe")
    from evo.core.metrics import PoseRelation, Unit
    from scipy.spatial.transform import Rotation

    def trajectory(c2w: np.ndarray):
        qxyzw = Rotation.from_matrix(c2w[:, :3, :3]).as_quat()
        return evo_trajectory.PoseTrajectory3D(positions_xyz=c2w[:, :3, 3], orientations_quat_wxyz=qxyzw[:, [3, 0, 1, 2]],
                                               timestamps=np.arange(len(c2w), dtype=np.float64))

    ref, estimate = trajectory(gt), trajectory(est)
    ate = main_ape.ape(copy.deepcopy(ref), copy.deepcopy(estimate), pose_relation=PoseRelation.translation_part,
                       align=True, correct_scale=True).stats["rmse"]
    rpe = [main_rpe.rpe(copy.deepcopy(ref), copy.deepcopy(estimate), pose_relation=relation, delta=1,
                        delta_unit=Unit.frames, rel_delta_tol=0.01, all_pairs=True, align=True,
                        correct_scale=True).stats["rmse"]
           for relation in (PoseRelation.translation_part, PoseRelation.rotation_angle_deg)]
    return ate, rpe[0], rpe[1]


@pytest.mark.parametrize("case", POSE_CASES)
def test_pose_metrics_agree_with_evo(case):
    est, gt = golden_pose_inputs(case)
    ate, rpe_trans, rpe_rot = evo_metrics(est, gt)
    metrics = pose_metrics(est, gt)
    assert metrics.ate == pytest.approx(ate, rel=1e-6)
    assert metrics.rpe_trans == pytest.approx(rpe_trans, rel=1e-6)
    assert metrics.rpe_rot_deg == pytest.approx(rpe_rot, rel=1e-6)


def test_pose_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="c2w_est"):
        pose_metrics(np.tile(np.eye(4), (5, 1, 1)), np.tile(np.eye(4), (4, 1, 1)))


def test_official_keys_cover_every_metric():
    assert set(OFFICIAL_DEPTH_KEYS.values()) == set(json.loads((DATA / "depth_metrics_lad.json").read_text())["sequences"][0]) - {"scale", "shift", "pred", "gt", "per_frame"}
