"""`align3r eval --model --prior`: the pipeline per sequence (exact pair predictions), resume, and its settings."""

import json

import numpy as np
import pytest
import torch

from align3r.align.oracle import oracle_pairs
from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.eval.pipeline import official_config
from align3r.infer import runner
from align3r.model.config import PRESETS
from align3r.model.checkpoint import save_pretrained
from align3r.model.network import Align3RNet

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

    def exact_pairs(model, load, edges, *, batch_size, device):
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
    calls = len(asked)
    assert run(root, "pose", out, "--model", str(root / "model"), "--prior", "simulated", *FAST, "--overwrite") == 0
    assert len(asked) == calls  # the finished sequence is not reconstructed again
    assert json.loads((out / "metrics.json").read_text()) == first
    assert run(root, "pose", root / "pose_pred", "--pred", str(out / "predictions"), "--quiet") == 0
    assert json.loads((root / "pose_pred" / "metrics.json").read_text())["sequences"] == first["sequences"]


def test_pipeline_depth_run_at_network_resolution(root):
    out = root / "depth"
    assert run(root, "depth", out, "--model", str(root / "model"), "--prior", "simulated", *FAST) == 0
    metrics = json.loads((out / "metrics.json").read_text())["sequences"]["seq_a"]
    assert np.load(out / "predictions" / "seq_a" / "frame_0005.npy").shape == (48, 64)
    assert metrics["valid_pixels"] == 6 * 48 * 64 and metrics["Abs Rel"] < 0.2


def test_official_settings_per_benchmark():
    depth = official_config("depth", "sintel", "depth-pro")
    assert (depth.crop, depth.mode, depth.preset, depth.flow, depth.niter, depth.size) == (
        False, "hierarchical", "depth_test", "none", 300, 512)
    pose = official_config("pose", "sintel", "depth-pro")
    assert (pose.crop, pose.mode, pose.preset, pose.graph, pose.flow) == (
        True, "global", "pose_test", "swinstride-5-noncyclic", "raft")
    assert official_config("pose", "sintel", "depth-anything-v2-large").graph == "swin-5-noncyclic"
    assert official_config("pose", "bonn", "depth-pro").graph == "swin-5-noncyclic"


@pytest.mark.parametrize("extra, message", [(["--model", "tiny"], "--model and --prior go together"),
                                            (["--model", "absent", "--prior", "simulated"], "no such checkpoint")])
def test_bad_pipeline_input_one_line_nothing_written(root, extra, message, capsys):
    assert run(root, "depth", root / "none", *[e if e != "absent" else str(root / e) for e in extra], "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (root / "none").exists()
