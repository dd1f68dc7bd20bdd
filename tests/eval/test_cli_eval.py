"""`align3r eval` on miniature official layouts: known answers, the metric functions, the goldens, bad input."""

import json
import shutil
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers.depth_goldens import approx_golden
from helpers.eval_layouts import official_sequences, tiny_sequence, write_benchmark, write_predictions

from align3r.cli import main
from align3r.data.synthetic import SynthConfig, SyntheticSequence, generate_sequence, write_sequence
from align3r.eval.datasets import DATASETS
from align3r.eval.metrics import (
    average_depth_metrics,
    depth_valid_mask,
    fit_scale_weiszfeld,
    fit_sequence_alignment,
    pose_metrics,
    video_depth_metrics,
)
from align3r.eval.predictions import resize_depth
from align3r.eval.protocol import PROTOCOLS
from align3r.eval.temporal import aligned_temporal_alignment_error
from align3r.geometry import similarity_matrix
from align3r.infer.preprocess import frame_transform
from align3r.io.results import save_reconstruction
from align3r.reconstruction import Reconstruction

GOLDEN = Path(__file__).parents[1] / "goldens" / "eval"
DEPTH_KEYS = ("Abs Rel", "Sq Rel", "RMSE", "Log RMSE", "δ < 1.25", "δ < 1.25^2", "δ < 1.25^3")


def run_eval(*args: str) -> int:
    return main(["eval", *args, "--quiet"])


def benchmark(name: str, tmp_path: Path, count: int = 2) -> tuple[dict, dict]:
    """A miniature set: name -> written ground truth, name -> the generator's sequence."""
    sequences = {n: tiny_sequence(i % 3, frames=3 + i % 3) for i, n in enumerate(official_sequences(name, count))}
    return write_benchmark(name, tmp_path / "data", sequences), sequences


def evaluate(task: str, name: str, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "out"
    assert run_eval(task, "--dataset", name, "--root", str(tmp_path / "data"), "--pred", str(tmp_path / "pred"),
                    "--out", str(out), *extra) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("name", list(DATASETS))
def test_perfect_and_globally_scaled_depth_score_perfect(name, tmp_path):
    gt, _ = benchmark(name, tmp_path)
    write_predictions(tmp_path / "pred", {n: 0.4 * np.where(g > 0, g, 1.0) for n, g in gt.items()})
    for protocol in ("scale-shift", "scale"):
        metrics = evaluate("depth", name, tmp_path, "--protocol", protocol, "--overwrite")
        assert metrics["protocol"] == protocol and metrics["protocol_title"] == PROTOCOLS[protocol]
        assert set(metrics["sequences"]) == set(gt)
        for values in [*metrics["sequences"].values(), metrics["average"]]:
            assert values["Abs Rel"] < 1e-5 and values["RMSE"] < 1e-4
            assert values["δ < 1.25"] == 1.0


def test_scale_and_shift_is_removed_only_by_the_affine_protocols(tmp_path):
    gt, _ = benchmark("bonn", tmp_path, 5)
    pred = {n: 0.5 * np.where(g > 0, g, 1.0) + 2.0 for n, g in gt.items()}
    write_predictions(tmp_path / "pred", pred)
    for protocol in ("scale-shift", "scale-shift-lstsq"):
        metrics = evaluate("depth", "bonn", tmp_path, "--protocol", protocol, "--overwrite")
        for values in metrics["sequences"].values():
            assert values["scale"] == pytest.approx(2.0, rel=1e-3) and values["shift"] == pytest.approx(-4.0, abs=5e-3)
            assert values["Abs Rel"] < 1e-3
    metrics = evaluate("depth", "bonn", tmp_path, "--protocol", "scale", "--overwrite")
    for name, values in metrics["sequences"].items():
        valid = depth_valid_mask(gt[name])
        p, g = pred[name][valid].astype(np.float64), gt[name][valid].astype(np.float64)
        candidates = np.sort(g / p)  # the L1 scale is a ratio g/p; brute force the best one
        costs = [np.abs(s * p - g).sum() for s in candidates]
        # 10 Weiszfeld iterations (the protocol's) come near, not onto, the L1 optimum
        cost = np.abs(values["scale"] * p - g).sum()
        assert min(costs) <= cost < min(1.02 * min(costs), np.abs(g.mean() / p.mean() * p - g).sum())
        a = np.clip(values["scale"] * p, 1e-5, 70)
        assert values["shift"] == 0.0
        assert values["Abs Rel"] == pytest.approx(np.mean(np.abs(a - g) / g), rel=1e-9)
        assert values["RMSE"] == pytest.approx(np.sqrt(np.mean((a - g) ** 2)), rel=1e-9)
        assert values["Abs Rel"] > 0.01


def test_weiszfeld_scale_known_answer():
    pred = np.array([1.0, 2.0, 3.0, 4.0])
    assert fit_scale_weiszfeld(pred, 3.0 * pred) == pytest.approx(3.0, rel=1e-12)
    gt = np.array([2.0, 4.0, 6.0, 100.0])  # one outlier; 10 iterations from mean(g)/mean(p) = 11.2
    scale = fit_scale_weiszfeld(pred, gt)
    least_squares = (pred @ gt) / (pred @ pred)
    assert abs(scale - 2.0) < abs(least_squares - 2.0) / 5
    assert np.abs(scale * pred - gt).sum() < np.abs(11.2 * pred - gt).sum()


def test_resize_is_bilinear_with_half_pixel_centres():
    ramp = np.tile(np.arange(8, dtype=np.float32), (6, 1))  # value = column
    up = resize_depth(ramp, (12, 16))
    columns = np.clip((np.arange(16) + 0.5) / 2 - 0.5, 0, 7)  # output centre -> input coordinate
    np.testing.assert_allclose(up, np.tile(columns, (12, 1)), atol=1e-6)
    assert resize_depth(ramp, (6, 8)) is not ramp and np.array_equal(resize_depth(ramp, (6, 8)), ramp)


def test_depth_numbers_equal_the_metric_functions_after_bilinear_resize(tmp_path):
    gt, sequences = benchmark("sintel", tmp_path)
    rng = np.random.default_rng(0)
    low_res = {n: (1.7 * s.depths[:, ::2, ::2] + 0.3 + rng.normal(0, 0.2, (len(s.depths), 6, 8))).astype(np.float32)
               for n, s in sequences.items()}
    write_predictions(tmp_path / "pred", low_res)
    metrics = evaluate("depth", "sintel", tmp_path)
    assert metrics["protocol"] == "scale-shift" and metrics["depth_max"] == 70.0
    direct = []
    for name, pred in low_res.items():
        up = np.stack([cv2.resize(p, (16, 12), interpolation=cv2.INTER_LINEAR) for p in pred])
        direct.append(video_depth_metrics(up, gt[name]))
        ours = metrics["sequences"][name]
        for key, value in direct[-1].as_official_dict().items():
            assert ours[key] == value, (name, key)
    for key, value in average_depth_metrics(direct).items():
        assert metrics["average"][key] == value, key
    weights = [m.valid_pixels for m in direct]
    assert len(set(weights)) > 1
    assert metrics["average"]["Abs Rel"] == pytest.approx(np.average([m.abs_rel for m in direct], weights=weights),
                                                          rel=1e-12)


@pytest.mark.parametrize("name", ["sintel", "bonn", "tum", "synthetic"])
def test_similarity_transformed_trajectory_scores_zero(name, tmp_path):
    _, sequences = benchmark(name, tmp_path)
    rotation = torch.linalg.matrix_exp(torch.tensor([[0, -0.3, 0.2], [0.3, 0, -0.5], [-0.2, 0.5, 0]], dtype=torch.float64))
    world2other = similarity_matrix(torch.tensor(2.5, dtype=torch.float64), rotation,
                                    torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)).numpy()
    poses = {}
    for n, s in sequences.items():
        c2w = world2other @ s.poses_c2w
        c2w[:, :3, :3] = rotation.numpy() @ s.poses_c2w[:, :3, :3]
        poses[n] = c2w
    write_predictions(tmp_path / "pred", {}, poses)
    metrics = evaluate("pose", name, tmp_path)
    assert metrics["protocol"] == "sim3"
    for values in [*metrics["sequences"].values(), metrics["average"]]:
        assert values["ATE"] < 1e-9 and values["RPE trans"] < 1e-9 and values["RPE rot"] < 1e-5


def test_pose_numbers_equal_the_metric_function_and_average_is_plain(tmp_path):
    _, sequences = benchmark("tum", tmp_path, 3)
    rng = np.random.default_rng(1)
    poses = {}
    for n, s in sequences.items():
        c2w = s.poses_c2w.copy()
        c2w[:, :3, 3] += rng.normal(0, 0.05 * (1 + len(poses)), (len(c2w), 3))
        poses[n] = c2w
    write_predictions(tmp_path / "pred", {}, poses)
    metrics = evaluate("pose", "tum", tmp_path)
    direct = {n: pose_metrics(poses[n], DATASETS["tum"](tmp_path / "data").pose_gt(n)) for n in poses}
    for n, m in direct.items():
        assert metrics["sequences"][n]["ATE"] == pytest.approx(m.ate, rel=1e-12)
        assert metrics["sequences"][n]["RPE trans"] == pytest.approx(m.rpe_trans, rel=1e-12)
        assert metrics["sequences"][n]["RPE rot"] == pytest.approx(m.rpe_rot_deg, rel=1e-12)
    assert metrics["average"]["ATE"] == pytest.approx(np.mean([m.ate for m in direct.values()]), rel=1e-12)


def sequence_of(depths: np.ndarray, c2w: np.ndarray | None = None) -> SyntheticSequence:
    """A synthetic-layout sequence holding given ground truth (blank images)."""
    n, h, w = depths.shape
    c2w = np.tile(np.eye(4), (n, 1, 1)) if c2w is None else c2w
    return SyntheticSequence(images=np.zeros((n, h, w, 3), np.uint8), depths=depths, valid_masks=depths > 0,
                             dynamic_masks=np.zeros((n, h, w), bool), intrinsics=np.tile(np.eye(3), (n, 1, 1)),
                             poses_c2w=c2w, priors={}, meta={})


@pytest.mark.parametrize("align, protocol", [("lad", "scale-shift"), ("lstsq", "scale-shift-lstsq")])
def test_pred_reproduces_the_depth_goldens(align, protocol, tmp_path):
    golden = json.loads((GOLDEN / f"depth_metrics_{align}.json").read_text())
    for seq in "ABC":
        write_sequence(sequence_of(np.load(GOLDEN / f"depth{seq}_gt.npz")["depths"]), tmp_path / "data" / seq)
    write_predictions(tmp_path / "pred", {s: np.load(GOLDEN / f"depth{s}_pred.npz")["depths"] for s in "ABC"})
    metrics = evaluate("depth", "synthetic", tmp_path, "--protocol", protocol)
    for seq, ref in zip("ABC", golden["sequences"]):
        for key in (*DEPTH_KEYS, "valid_pixels", "scale", "shift"):
            assert metrics["sequences"][seq][key] == approx_golden(ref[key], align=align), (seq, key)
    for key in DEPTH_KEYS:
        assert metrics["average"][key] == approx_golden(golden["average"][key], align=align), key


def test_pred_reproduces_the_pose_goldens(tmp_path):
    for case in "AB":
        gt = np.load(GOLDEN / f"pose{case}_gt.npz")["poses_c2w"]
        write_sequence(sequence_of(np.ones((len(gt), 4, 4), np.float32), gt), tmp_path / "data" / case)
        write_predictions(tmp_path / "pred", {}, {case: np.load(GOLDEN / f"pose{case}_pred.npz")["poses_c2w"]})
    metrics = evaluate("pose", "synthetic", tmp_path)
    goldens = {c: json.loads((GOLDEN / f"pose{c}_metrics.json").read_text()) for c in "AB"}
    for case, ref in goldens.items():
        for key, ref_key in (("ATE", "ate"), ("RPE trans", "rpe_trans"), ("RPE rot", "rpe_rot")):
            assert metrics["sequences"][case][key] == pytest.approx(ref[ref_key], rel=1e-6), (case, key)
    assert metrics["average"]["ATE"] == pytest.approx((goldens["A"]["ate"] + goldens["B"]["ate"]) / 2, rel=1e-6)


def test_pred_reproduces_the_official_trajectory_golden_on_bonn(tmp_path):
    for name in official_sequences("bonn", 5):
        rgb = tmp_path / "data" / "rgbd_bonn_dataset" / name / "rgb_110"
        rgb.mkdir(parents=True)
        for i in range(24):
            cv2.imwrite(str(rgb / f"{i:03d}.png"), np.zeros((2, 2, 3), np.uint8))
        shutil.copy(GOLDEN / "poseC_gt_tum.txt", rgb.parent / "groundtruth_110.txt")
        (tmp_path / "pred" / name).mkdir(parents=True)
        shutil.copy(GOLDEN / "poseC_pred_traj.txt", tmp_path / "pred" / name / "pred_traj.txt")
    metrics = evaluate("pose", "bonn", tmp_path)
    golden = json.loads((GOLDEN / "poseC_metrics.json").read_text())
    for key, ref_key in (("ATE", "ate"), ("RPE trans", "rpe_trans"), ("RPE rot", "rpe_rot")):
        assert metrics["average"][key] == pytest.approx(golden[ref_key], rel=1e-9), key


def test_plain_depth_files_and_tum_trajectory(tmp_path):
    _, sequences = benchmark("synthetic", tmp_path)
    for n, s in sequences.items():
        folder = tmp_path / "pred" / n
        folder.mkdir(parents=True)
        for i, d in enumerate(s.depths):
            np.savez(folder / f"img{i:03d}.npz", depth=3.0 * d)
        write_predictions(tmp_path / "tmp_traj", {}, {n: s.poses_c2w})
        from align3r.io.trajectory import read_trajectory, write_trajectory
        write_trajectory(folder / "poses.txt", *read_trajectory(tmp_path / "tmp_traj" / n / "pred_traj.txt",
                                                                 fmt="official"), fmt="tum")
    assert evaluate("depth", "synthetic", tmp_path)["average"]["Abs Rel"] < 1e-5
    assert evaluate("pose", "synthetic", tmp_path, "--overwrite")["average"]["ATE"] < 1e-9


def test_markdown_table_names_the_protocol_and_every_sequence(tmp_path):
    _, sequences = benchmark("kitti", tmp_path)
    write_predictions(tmp_path / "pred", {n: s.depths for n, s in sequences.items()})
    metrics = evaluate("depth", "kitti", tmp_path, "--protocol", "scale")
    assert metrics["depth_max"] is None
    table = (tmp_path / "out" / "metrics.md").read_text().splitlines()
    assert table[0] == "## depth: kitti: per-sequence scale only (Weiszfeld L1)"
    assert table[2] == "| sequence | " + " | ".join(DEPTH_KEYS) + " | valid_pixels |"
    assert [row.split(" | ")[0] for row in table[4:]] == ["| seq_0", "| seq_1", "| average (valid-pixel weighted)"]
    assert table[-1].endswith(f"| {(3 + 4) * (12 * 16 - 6)} |")


@pytest.mark.parametrize("case, message", [
    ("missing_sequence", "no predictions for sequence rgbd_bonn_synchronous"),
    ("missing_frame", "frame_0003.npy is missing"),
    ("short_trajectory", "3 poses for 5 evaluated frames"),
    ("pred_and_model", "give either --pred DIR"),
    ("kitti_pose", "kitti has no pose ground truth"),
    ("pose_protocol", "--protocol scale does not apply to pose"),
    ("nan_depth", "NaN or infinite"),
])
def test_bad_input_one_line_exit_2_nothing_written(case, message, tmp_path, capsys):
    _, sequences = benchmark("bonn", tmp_path, 5)
    write_predictions(tmp_path / "pred", {n: s.depths for n, s in sequences.items()},
                      {n: s.poses_c2w for n, s in sequences.items()})
    task, dataset, extra = "depth", "bonn", ["--pred", str(tmp_path / "pred")]
    folder = tmp_path / "pred" / "rgbd_bonn_crowd3"
    if case == "missing_sequence":
        shutil.rmtree(tmp_path / "pred" / "rgbd_bonn_synchronous")
    elif case == "missing_frame":
        (folder / "frame_0003.npy").unlink()
    elif case == "short_trajectory":
        task, trajectory = "pose", folder / "pred_traj.txt"
        trajectory.write_text("\n".join(trajectory.read_text().splitlines()[:3]) + "\n")
    elif case == "pred_and_model":
        extra += ["--model", "tiny", "--prior", "simulated"]
    elif case in ("kitti_pose", "pose_protocol"):
        task, dataset = "pose", "kitti" if case == "kitti_pose" else "bonn"
        extra += ["--protocol", "scale"] if case == "pose_protocol" else []
    elif case == "nan_depth":
        np.save(folder / "frame_0002.npy", np.full((12, 16), np.nan, np.float32))
    out = tmp_path / "out"
    assert run_eval(task, "--dataset", dataset, "--root", str(tmp_path / "data"), *extra, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("align3r eval: error:") and message in err
    assert not out.exists()


def test_existing_results_need_overwrite(tmp_path, capsys):
    _, sequences = benchmark("synthetic", tmp_path)
    write_predictions(tmp_path / "pred", {n: s.depths for n, s in sequences.items()})
    evaluate("depth", "synthetic", tmp_path)
    before = (tmp_path / "out" / "metrics.json").read_bytes()
    assert run_eval("depth", "--dataset", "synthetic", "--root", str(tmp_path / "data"), "--pred",
                    str(tmp_path / "pred"), "--out", str(tmp_path / "out"), "--protocol", "scale") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "out" / "metrics.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "metrics.md"]


def test_a_dataset_folder_with_some_official_sequences_is_evaluated_and_marked_incomplete(tmp_path, capsys):
    present = ["market_5", "alley_2"]
    gt = write_benchmark("sintel", tmp_path / "data", {n: tiny_sequence(i, frames=3) for i, n in enumerate(present)})
    write_predictions(tmp_path / "pred", {n: 2.0 * np.where(g > 0, g, 1.0) + 0.5 for n, g in gt.items()})
    metrics = evaluate("depth", "sintel", tmp_path)
    assert list(metrics["sequences"]) == ["alley_2", "market_5"]
    for name, g in gt.items():
        expected = video_depth_metrics(2.0 * np.where(g > 0, g, 1.0) + 0.5, g)
        assert metrics["sequences"][name]["Abs Rel"] == expected.abs_rel
        assert metrics["sequences"][name]["valid_pixels"] == expected.valid_pixels
    assert metrics["complete"] is False and len(metrics["missing"]) == 21
    assert metrics["missing"][:2] == ["alley_1", "ambush_2"] and not set(present) & set(metrics["missing"])
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "incomplete: " + "21 official sintel sequence(s) missing from the dataset folder: " + ", ".join(
        metrics["missing"])
    assert (tmp_path / "out" / "metrics.md").read_text().splitlines()[2].startswith("Incomplete: 21 official sintel")
    _, sequences = benchmark("bonn", tmp_path / "full")
    write_predictions(tmp_path / "full" / "pred", {n: s.depths for n, s in sequences.items()})
    metrics = evaluate("depth", "bonn", tmp_path / "full")
    assert metrics["complete"] is True and metrics["missing"] == []


def test_an_empty_dataset_folder_is_one_error(tmp_path, capsys):
    (tmp_path / "data" / "training" / "clean").mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    assert run_eval("depth", "--dataset", "sintel", "--root", str(tmp_path / "data"), "--pred",
                    str(tmp_path / "pred"), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sintel sequences found" in err
    assert not (tmp_path / "out").exists()


SQUARE = 64
"""Square frames: the official geometry crops 64x64 to 48x64 (`frame_transform`: 4:3), a quarter of the rows."""


@lru_cache(maxsize=2)
def square_sequence(seed: int) -> SyntheticSequence:
    return generate_sequence(SynthConfig(frames=3, width=SQUARE, height=SQUARE, seed=seed, setting="indoor",
                                         priors=()))


def write_our_output(folder: Path, depths: np.ndarray, meta: dict) -> None:
    """Our output layout holding `depths` (N, H, W) on the network grid, with `meta` in reconstruction.json."""
    n, height, width = depths.shape
    save_reconstruction(Reconstruction(images=np.zeros((n, height, width, 3), np.uint8), depths=depths,
                                       conf=np.ones(depths.shape, np.float32), poses_c2w=np.tile(np.eye(4), (n, 1, 1)),
                                       intrinsics=np.tile(np.eye(3), (n, 1, 1)),
                                       dynamic_masks=np.zeros(depths.shape, bool), names=[str(i) for i in range(n)],
                                       meta=meta), folder)


def crop_benchmark(tmp_path: Path) -> tuple[np.ndarray, dict, tuple[int, int, int, int]]:
    """A one-sequence synthetic set of square frames: its ground truth, our run's meta and the crop box."""
    gt = write_benchmark("synthetic", tmp_path / "data", {"seq_0": square_sequence(0)})["seq_0"]
    transform = frame_transform(SQUARE, SQUARE, size=SQUARE, crop=True)
    assert transform.output_size == (48, 64) and transform.crop_box == (8, 0, 48, 64)
    return gt, {"input_size": [SQUARE, SQUARE], "config": {"size": SQUARE, "crop": True}}, transform.crop_box


def test_our_output_folder_is_scored_on_its_crop(tmp_path):
    gt, meta, (top, left, height, width) = crop_benchmark(tmp_path)
    rng = np.random.default_rng(3)
    gt_crop = gt[:, top:top + height, left:left + width]
    depth = (0.3 * np.where(gt_crop > 0, gt_crop, 1.0) * rng.uniform(0.9, 1.1, gt_crop.shape)).astype(np.float32)
    write_our_output(tmp_path / "pred" / "seq_0", depth, meta)
    metrics = evaluate("depth", "synthetic", tmp_path)["sequences"]["seq_0"]
    expected = video_depth_metrics(depth, gt_crop)
    for key, value in expected.as_official_dict().items():
        assert metrics[key] == value, key
    assert metrics["valid_pixels"] == expected.valid_pixels < depth_valid_mask(gt).sum()
    gt_outside = np.full(gt.shape, np.nan, np.float32)
    gt_outside[:, top:top + height] = gt_crop  # the crop's pixels only, on the frame's grid
    padded = np.pad(depth, ((0, 0), (top, SQUARE - top - height), (0, 0)), mode="edge")
    cameras = DATASETS["synthetic"](tmp_path / "data").depth_cameras("seq_0")
    tae = aligned_temporal_alignment_error(padded, *cameras, fit_sequence_alignment(padded, gt_outside))
    assert metrics["TAE"] == tae.tae and tae.pixels.sum() > 0
    full = (0.3 * np.where(gt > 0, gt, 1.0) * rng.uniform(0.9, 1.1, gt.shape)).astype(np.float32)
    write_our_output(tmp_path / "pred" / "seq_0" / "full_res", full, meta | {"full_res": {}})
    metrics = evaluate("depth", "synthetic", tmp_path, "--overwrite")["sequences"]["seq_0"]
    assert metrics["Abs Rel"] == video_depth_metrics(full, gt).abs_rel  # every pixel, the border included
    assert metrics["valid_pixels"] == depth_valid_mask(gt).sum()


def test_prior_and_aligned_prior_rows_side_by_side(tmp_path):
    gt, meta, (top, left, height, width) = crop_benchmark(tmp_path)
    gt_crop = gt[:, top:top + height, left:left + width]
    positive = np.where(gt > 0, gt, 1.0)
    flicker = np.array([0.8, 1.0, 1.3], np.float32)[:, None, None]
    rows = {"prediction": 2.0 * positive[:, top:top + height], "prior": flicker * positive,
            "aligned_prior": 2.0 * positive[:, top:top + height] + 0.1}
    folder = tmp_path / "pred" / "seq_0"
    write_our_output(folder, rows["prediction"].astype(np.float32), meta)
    for name in ("prior", "aligned_prior"):
        write_predictions(folder, {name: rows[name]})
    full_size = (3 * positive).astype(np.float32)
    write_our_output(folder / "aligned_prior" / "full_res", full_size, meta | {"full_res": {}})  # not read: the
    result = evaluate("depth", "synthetic", tmp_path)  # align3r row has no full_res/, so neither has any row
    assert list(result["rows"]) == ["prior", "aligned_prior"]
    scored = {"prediction": result["sequences"]["seq_0"]}
    scored |= {name: row["sequences"]["seq_0"] for name, row in result["rows"].items()}
    truth = {"prediction": gt_crop, "prior": gt, "aligned_prior": gt_crop}  # the prior is at the frames' size
    for name, values in scored.items():
        assert values["Abs Rel"] == video_depth_metrics(rows[name].astype(np.float32), truth[name]).abs_rel, name
    assert scored["prediction"]["Abs Rel"] < 1e-6 and scored["prior"]["Abs Rel"] > 0.05
    assert scored["prior"]["TAE"] > 5 * scored["prediction"]["TAE"]  # per-frame flicker is what TAE sees
    table = (tmp_path / "out" / "metrics.md").read_text().splitlines()
    assert table[2].startswith("| sequence | depth | Abs Rel |") and table[2].endswith("| valid_pixels | TAE |")
    assert [row.split(" | ")[1] for row in table[4:]] == ["prior alone", "align3r", "aligned prior"] * 2
    assert table[-1].startswith("| average (valid-pixel weighted; TAE: mean over sequences) | aligned prior |")
    write_our_output(folder / "full_res", full_size, meta | {"full_res": {}})
    result = evaluate("depth", "synthetic", tmp_path, "--overwrite")  # every row at the frames' size now
    aligned = result["rows"]["aligned_prior"]["sequences"]["seq_0"]
    assert aligned["valid_pixels"] == depth_valid_mask(gt).sum()
    assert aligned["Abs Rel"] == video_depth_metrics(full_size, gt).abs_rel


@pytest.mark.parametrize("case, message", [
    ("no_input_size", "cannot map the depth onto the evaluated frames"),
    ("other_grid", "is not the (48, 64) grid"),
    ("wrong_map", "is neither on the network grid (48, 64) nor at the frames' size (64, 64)"),
])
def test_an_output_folder_whose_geometry_cannot_be_mapped_is_refused(case, message, tmp_path, capsys):
    _, meta, _ = crop_benchmark(tmp_path)
    folder = tmp_path / "pred" / "seq_0"
    depth = np.ones((3, 48, 64), np.float32)
    if case == "no_input_size":
        meta = {"config": meta["config"]}
    elif case == "other_grid":
        depth = np.ones((3, 32, 64), np.float32)
    write_our_output(folder, depth, meta)
    if case == "wrong_map":
        np.save(folder / "frame_0001.npy", np.ones((32, 32), np.float32))
    assert run_eval("depth", "--dataset", "synthetic", "--root", str(tmp_path / "data"), "--pred",
                    str(tmp_path / "pred"), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()
