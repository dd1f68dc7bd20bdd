"""`align3r eval --model --prior`: the pipeline per sequence (exact pair predictions), resume, and its settings."""

import json

import numpy as np
import pytest
import torch

from align3r.align.oracle import oracle_pairs
from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.eval.datasets import DATASETS
from align3r.eval.metrics import fit_sequence_alignment, video_depth_metrics
from align3r.eval.pipeline import official_config, prior_depth
from align3r.eval.temporal import aligned_temporal_alignment_error
from align3r.infer import runner
from align3r.model.checkpoint import save_pretrained
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.prior import PriorMap, load_prior

FAST = ["--size", "64", "--niter", "10", "--flow", "none", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A one-sequence synthetic benchmark, a random tiny model folder, and the sequence."""
    seq = generate_sequence(SynthConfig(frames=6, width=64, height=48, seed=5, setting="indoor"))
    folder = tmp_path_factory.mktemp("bench")
    write_sequence(seq, folder / "data" / "seq_a")
    torch.manual_seed(0)
    save_pretrained(Align3RNet(PRESETS["tiny"]), folder / "model")
    return folder, seq


@pytest.fixture
def root(bench):
    return bench[0]


@pytest.fixture(autouse=True)
def asked(monkeypatch, bench):
    """The network's pair predictions replaced by the oracle's (exact, one scale per pair); the edge counts asked."""
    geometry = [torch.from_numpy(a) for a in (bench[1].poses_c2w, bench[1].depths.astype(np.float64),
                                              bench[1].intrinsics)]
    calls = []

    def exact_pairs(model, load, edges, *, batch_size, device, precision="fp32"):
        calls.append(len(edges))
        pairs = oracle_pairs(*geometry, edges.numpy(), seed=len(calls))
        yield runner.PairBatch(torch.arange(len(edges)), pairs)

    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", exact_pairs)
    return calls


def run(root, task, out, *extra):
    return main(["eval", task, "--dataset", "synthetic", "--root", str(root / "data"), "--out", str(out), *extra])


def test_pipeline_pose_run_is_scored_resumed_and_equal_to_pred(root, asked):
    out = root / "pose"
    assert run(root, "pose", out, "--model", str(root / "model"), "--prior", "simulated", *FAST) == 0
    first = json.loads((out / "metrics.json").read_text())
    assert first["sequences"]["seq_a"]["ATE"] < 5e-3 and first["sequences"]["seq_a"]["RPE rot"] < 0.5
    assert (out / "predictions" / "seq_a" / "pred_traj.txt").is_file()
    assert not (out / "predictions" / "seq_a" / "prior").exists()  # the prior row is a depth row
    calls = len(asked)
    for name in ("metrics.json", "metrics.md"):  # as if interrupted before scoring
        (out / name).unlink()
    assert run(root, "pose", out, "--model", str(root / "model"), "--prior", "simulated", *FAST) == 0
    assert len(asked) == calls  # the finished sequence, same settings, is not reconstructed again
    assert json.loads((out / "metrics.json").read_text()) == first
    assert run(root, "pose", root / "pose_pred", "--pred", str(out / "predictions"), "--quiet") == 0
    assert json.loads((root / "pose_pred" / "metrics.json").read_text())["sequences"] == first["sequences"]
    assert run(root, "pose", out, "--model", str(root / "model"), "--prior", "simulated", *FAST, "--overwrite") == 0
    assert len(asked) == calls + 1  # --overwrite recomputes everything, the pair cache included


def test_a_changed_setting_reconstructs_the_sequence_again(root, asked):
    out, folder = root / "changed", root / "changed" / "predictions" / "seq_a"
    model = ["--model", str(root / "model"), "--prior", "simulated"]

    def rerun(*settings: str) -> dict:
        for name in ("metrics.json", "metrics.md"):
            (out / name).unlink(missing_ok=True)
        assert run(root, "depth", out, *model, *settings) == 0
        return json.loads((folder / "reconstruction.json").read_text())

    first = rerun(*FAST)
    assert first["meta"]["eval_settings"] == {"model": str(root / "model"), "prior": "simulated", "size": 64,
                                              "crop": False, "mode": "hierarchical", "graph": "swinstride-5-noncyclic",
                                              "preset": "depth_test", "niter": 10, "flow": "none"}
    calls = len(asked)
    assert rerun(*FAST) == first  # same settings: kept as it is
    more = rerun(*FAST, "--niter", "12")  # realigned from the cached pairs
    assert more["meta"]["config"]["niter"] == more["meta"]["eval_settings"]["niter"] == 12
    assert more["meta"]["timings"] != first["meta"]["timings"] and len(asked) == calls
    with_flow = rerun(*FAST, "--flow", "dis")  # pairs stored with flow: asked of the network again
    assert len(asked) > calls and with_flow["meta"]["eval_settings"]["flow"] == with_flow["meta"]["flow"] == "dis"


def test_pipeline_depth_run_scores_the_prior_alone_and_tae(root, bench):
    out = root / "depth"
    assert run(root, "depth", out, "--model", str(root / "model"), "--prior", "simulated", *FAST) == 0
    result = json.loads((out / "metrics.json").read_text())
    metrics = result["sequences"]["seq_a"]
    depth = np.stack([np.load(out / "predictions" / "seq_a" / f"frame_{i:04d}.npy") for i in range(6)])
    assert depth.shape == (6, 48, 64)  # the network grid is the frames' (64 wide, no crop)
    assert metrics["valid_pixels"] == 6 * 48 * 64 and metrics["Abs Rel"] < 0.2
    dataset = DATASETS["synthetic"](root / "data")
    gt = dataset.depth_gt("seq_a")
    names = [p.stem for p in dataset.image_paths("seq_a", "depth")]
    prior = load_prior(f"simulated:{root / 'data' / 'seq_a'}").estimate(bench[1].images, names)
    expected_prior = video_depth_metrics(prior.values, gt)
    assert result["rows"]["prior"]["sequences"]["seq_a"]["Abs Rel"] == expected_prior.abs_rel
    assert result["rows"]["prior"]["average"]["Abs Rel"] == expected_prior.abs_rel
    assert list(result["rows"]) == ["prior"]
    alignment = fit_sequence_alignment(depth, gt)
    tae = aligned_temporal_alignment_error(depth, *dataset.depth_cameras("seq_a"), alignment).tae
    assert metrics["TAE"] == tae and result["average"]["TAE"] == tae and tae > 0
    table = (out / "metrics.md").read_text()
    assert "| seq_a | prior alone |" in table and "| seq_a | align3r |" in table


def test_prior_depth_inverts_a_disparity_prior_with_a_floor():
    disparity = PriorMap("disparity_affine", np.array([[[2.0, 0.5, 0.0, -1.0]]], np.float32))
    np.testing.assert_allclose(prior_depth(disparity), [[[0.5, 2.0, 5e5, 5e5]]], rtol=1e-6)
    metric = PriorMap("depth_metric", np.array([[[2.0, 0.5]]], np.float32))
    np.testing.assert_array_equal(prior_depth(metric), metric.values)


def test_official_settings_per_benchmark():
    depth = official_config("depth", "sintel", "depth-pro")
    # size None: the model's training size, 512 for the official models
    assert (depth.crop, depth.mode, depth.preset, depth.flow, depth.niter, depth.size) == (
        False, "hierarchical", "depth_test", "none", 300, None)
    pose = official_config("pose", "sintel", "depth-pro")
    assert (pose.crop, pose.mode, pose.preset, pose.graph, pose.flow) == (
        True, "global", "pose_test", "swinstride-5-noncyclic", "sea-raft")
    assert official_config("pose", "sintel", "depth-anything-v2-large").graph == "swin-5-noncyclic"
    assert official_config("pose", "bonn", "depth-pro").graph == "swin-5-noncyclic"


@pytest.mark.parametrize("extra, message", [(["--model", "tiny"], "--model and --prior go together"),
                                            (["--model", "absent", "--prior", "simulated"], "no such checkpoint")])
def test_bad_pipeline_input_one_line_nothing_written(root, extra, message, capsys):
    assert run(root, "depth", root / "none", *[e if e != "absent" else str(root / e) for e in extra], "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (root / "none").exists()
