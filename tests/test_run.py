"""`align3r run` end to end on a synthetic video: files, round trips, resume, and every bad input."""

import numpy as np
import pytest
import torch

from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.infer import runner
from align3r.infer.store import PairStore
from align3r.io.trajectory import read_trajectory
from align3r.geometry import invert_pose, transform_points, unproject_depth
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet, PairPrediction
from align3r.reconstruction import Reconstruction

FAST = ["--size", "64", "--niter", "10", "--flow", "none", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def sequence():
    return generate_sequence(SynthConfig(frames=6, width=64, height=48, seed=5, setting="indoor"))


@pytest.fixture(scope="module")
def job(tmp_path_factory, sequence):
    """A written synthetic sequence (rendered at the network size) and a random tiny model folder."""
    root = tmp_path_factory.mktemp("job")
    write_sequence(sequence, root / "seq")
    torch.manual_seed(0)
    Align3RNet(PRESETS["tiny"]).save_pretrained(root / "model")
    return root


@pytest.fixture(autouse=True)
def oracle(monkeypatch, sequence):
    """Replace the (untrained) network's pair predictions by the exact ones; count the edges asked.

    Everything else of the job runs for real: input, priors, store, alignment, output.
    """
    depth = torch.from_numpy(sequence.depths).double()
    k = torch.from_numpy(sequence.intrinsics)
    c2w = torch.from_numpy(sequence.poses_c2w)
    pts_cam = unproject_depth(depth, k)
    asked = []

    def exact_pairs(model, load, edges, *, batch_size, device):
        asked.append(len(edges))
        for start in range(0, len(edges), batch_size):
            ids = torch.arange(start, min(start + batch_size, len(edges)))
            i, j = edges[ids, 0], edges[ids, 1]
            j2i = invert_pose(c2w[i]) @ c2w[j]
            pts_i, pts_j = pts_cam[i].float(), transform_points(j2i, pts_cam[j]).float()
            conf = torch.full(pts_i.shape[:-1], 5.0)
            yield runner.PairBatch(ids, PairPrediction(pts_i, conf, pts_j, conf))

    monkeypatch.setattr("align3r.reconstruct.infer_pairs", exact_pairs)
    return asked


def run(job, out, *extra) -> int:
    return main(["run", str(job / "seq" / "rgb"), "-o", str(out), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *FAST, *extra])


def test_run_writes_a_complete_output_folder(job, sequence, tmp_path, capsys):
    assert run(job, tmp_path / "out") == 0
    assert "reconstructed 6 frames (64x48, global alignment)" in capsys.readouterr().out
    rec = Reconstruction.load(tmp_path / "out")
    assert rec.depths.shape == (6, 48, 64) and rec.images.shape == (6, 48, 64, 3)
    assert rec.names == [f"{i:06d}" for i in range(6)]
    _, poses = read_trajectory(tmp_path / "out" / "pred_traj.txt", fmt="official")
    np.testing.assert_allclose(poses, rec.poses_c2w, atol=1e-12)
    assert np.isfinite(rec.depths).all() and (rec.conf >= 1).all()
    assert rec.meta["quality"]["flagged"] == {} and max(rec.meta["quality"]["edge_residual"].values()) < 0.01
    # exact pairs: depth right up to one global scale, focal right
    scale = np.median(sequence.depths / rec.depths)
    assert np.abs(rec.depths * scale / sequence.depths - 1).max() < 0.02
    assert rec.intrinsics[0, 0, 0] == pytest.approx(sequence.intrinsics[0, 0, 0], rel=0.02)


def test_interrupted_run_resumes_to_the_same_result(job, tmp_path, monkeypatch, oracle):
    assert run(job, tmp_path / "full") == 0
    reference = Reconstruction.load(tmp_path / "full")

    real_write = PairStore.write
    calls = {"n": 0}

    def dying_write(self, pairs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_write(self, pairs)

    monkeypatch.setattr(PairStore, "write", dying_write)
    assert run(job, tmp_path / "cut", "--batch-size", "4") == 130
    assert not (tmp_path / "cut" / "reconstruction.json").exists()
    monkeypatch.setattr(PairStore, "write", real_write)

    oracle.clear()
    assert run(job, tmp_path / "cut", "--batch-size", "4", "--resume") == 0
    assert oracle == [18 - 4]  # 18 ordered pairs; the first batch of 4 was stored before the kill
    resumed = Reconstruction.load(tmp_path / "cut")
    for name in ("depths", "poses_c2w", "intrinsics", "conf"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(reference, name))


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("make,message", [
    (lambda job, tmp: ["run", str(tmp / "none.mp4")], "no such file"),
    (lambda job, tmp: ["run", str((tmp / "empty").mkdir() or tmp / "empty")], "holds no images"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb" / "00000[0].png")], "at least 2"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--niter", "0"], "--niter must be at least 1"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--model", "no-such-model"], "no model named"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--prior", f"files:{tmp}"], ""),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--device", "cuda:0"], "no CUDA device"),
])
def test_bad_input_is_one_line_and_writes_nothing(job, tmp_path, capsys, make, message):
    if message == "no CUDA device" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = make(job, tmp_path)
    defaults = ["--model", str(job / "model"), "--prior", f"simulated:{job / 'seq'}"]
    given = {a for a in argv if a.startswith("--")}
    argv = argv[:2] + ["-o", str(tmp_path / "out")] + FAST + argv[2:]  # the case's flags win
    for flag, value in zip(defaults[::2], defaults[1::2]):
        if flag not in given:
            argv += [flag, value]
    assert main(argv) == 2
    assert message in one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_occupied_output_folder_is_refused(job, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("x")
    assert run(job, tmp_path / "out") == 2
    assert "not empty" in one_line(capsys)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mine.txt"]


def test_quality_report_flags_a_corrupted_frame(job, tmp_path, monkeypatch, oracle):
    import align3r.reconstruct

    exact = align3r.reconstruct.infer_pairs  # the oracle fixture's exact pairs

    def corrupt_frame_3(model, load, edges, *, batch_size, device):
        generator = torch.Generator().manual_seed(0)
        for batch in exact(model, load, edges, batch_size=batch_size, device=device):
            pairs = edges[batch.edge_ids]
            pred = batch.prediction
            bad_j = pairs[:, 1] == 3
            bad_i = pairs[:, 0] == 3
            noisy = pred.pts3d_j_in_i * torch.exp(0.5 * torch.randn(pred.pts3d_j_in_i.shape[:-1] + (1,), generator=generator))
            pts_j = torch.where(bad_j[:, None, None, None], noisy, pred.pts3d_j_in_i)
            conf_i = torch.where(bad_i[:, None, None], torch.ones_like(pred.conf_i), pred.conf_i)
            conf_j = torch.where(bad_j[:, None, None], torch.ones_like(pred.conf_j), pred.conf_j)
            yield runner.PairBatch(batch.edge_ids, PairPrediction(pred.pts3d_i_in_i, conf_i, pts_j, conf_j))

    monkeypatch.setattr("align3r.reconstruct.infer_pairs", corrupt_frame_3)
    assert run(job, tmp_path / "out") == 0
    flagged = Reconstruction.load(tmp_path / "out").meta["quality"]["flagged"]
    assert list(flagged) == ["000003"] and "low confidence" in flagged["000003"]
