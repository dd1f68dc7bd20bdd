"""`align3r run` end to end on a synthetic video: files, round trips, resume, and every bad input."""

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.job_fixtures import FAST, job, oracle, run, sequence  # noqa: F401  (fixtures)
from PIL import Image

from align3r.cli import main
from align3r.infer import runner
from align3r.infer.graph import pair_graph
from align3r.infer.store import PairStore
from align3r.io.results import load_reconstruction
from align3r.io.trajectory import read_trajectory, write_trajectory


def test_run_writes_a_complete_output_folder(job, sequence, tmp_path, capsys):
    assert run(job, tmp_path / "out") == 0
    assert "reconstructed 6 frames (64x48, global alignment)" in capsys.readouterr().out
    rec = load_reconstruction(tmp_path / "out")
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
    reference = load_reconstruction(tmp_path / "full")

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
    resumed = load_reconstruction(tmp_path / "cut")
    for name in ("depths", "poses_c2w", "intrinsics", "conf"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(reference, name))


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def prior_files(tmp, nan_in: int):
    """A files: prior folder of the job's six frames, one map holding a NaN."""
    (tmp / "prior").mkdir()
    for i in range(6):
        depth = np.ones((48, 64), np.float32)
        depth[5, 5] = np.nan if i == nan_in else 1.0
        np.save(tmp / "prior" / f"{i:06d}.npy", depth)
    return tmp / "prior"


def truncated_model(job, tmp):
    """The job's model folder with its weights cut short."""
    folder = tmp / "cut-model"
    folder.mkdir()
    (folder / "config.json").write_bytes((job / "model" / "config.json").read_bytes())
    weights = (job / "model" / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return folder


@pytest.mark.parametrize("make,message", [
    (lambda job, tmp: ["run", str(tmp / "none.mp4")], "no such file"),
    (lambda job, tmp: ["run", str((tmp / "empty").mkdir() or tmp / "empty")], "holds no images"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb" / "00000[0].png")], "at least 2"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--niter", "0"], "--niter must be at least 1"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--model", "no-such-model"], "no model named"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--prior", f"files:{tmp}"], "no prior map for frame '000000'"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--device", "cuda:0"], "no CUDA device"),
    (lambda job, tmp: ["run", str(write_bytes(tmp / "bad.mp4", b"not a video"))], "unreadable or corrupt video"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--prior", f"files:{prior_files(tmp, nan_in=3)}"],
     "000003.npy: prior map has NaN"),
    (lambda job, tmp: ["run", str(job / "seq" / "rgb"), "--model", str(truncated_model(job, tmp))], "truncated"),
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


def test_output_under_a_file_or_unwritable_is_refused(job, tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    assert run(job, tmp_path / "afile" / "out") == 2
    assert f"{tmp_path / 'afile'} is a file" in one_line(capsys)
    (tmp_path / "locked").mkdir()
    access = os.access  # root writes anywhere, so the permission is faked for this folder only
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path / "locked" and access(path, mode))
    assert run(job, tmp_path / "locked" / "out") == 2
    assert "not writable" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "locked"]
    assert list((tmp_path / "locked").iterdir()) == []


def test_out_of_gpu_memory_suggests_smaller_settings_and_writes_nothing(job, tmp_path, capsys, monkeypatch):
    def exhausted(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("align3r.pipeline.job.reconstruct", exhausted)
    assert run(job, tmp_path / "out") == 2
    assert "out of GPU memory; try --mode hierarchical" in one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_window_larger_than_the_video_is_clamped(job, tmp_path):
    assert run(job, tmp_path / "out", "--max-frames", "3", "--graph", "swinstride-5-noncyclic") == 0
    rec = load_reconstruction(tmp_path / "out")
    assert rec.num_frames == 3  # the official graph's pairs of 3 frames (tests/infer/test_graph.py)
    assert sorted(rec.meta["quality"]["edge_residual"]) == ["0_1", "1_0", "1_2", "2_1"]


def test_occupied_output_folder_is_refused(job, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("x")
    assert run(job, tmp_path / "out") == 2
    assert "not empty" in one_line(capsys)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mine.txt"]


def test_quality_report_flags_a_corrupted_frame(job, tmp_path, monkeypatch, oracle):
    import align3r.pipeline.reconstruct

    exact = align3r.pipeline.reconstruct.infer_pairs  # the oracle fixture's exact pairs

    def corrupt_frame_3(model, load, edges, *, batch_size, device, precision="fp32"):
        generator = torch.Generator().manual_seed(0)
        for batch in exact(model, load, edges, batch_size=batch_size, device=device, precision=precision):
            pairs = edges[batch.edge_ids]
            pred = batch.pairs
            bad_j = pairs[:, 1] == 3
            bad_i = pairs[:, 0] == 3
            noisy = pred.pts3d_j_in_i * torch.exp(0.5 * torch.randn(pred.pts3d_j_in_i.shape[:-1] + (1,), generator=generator))
            pts_j = torch.where(bad_j[:, None, None, None], noisy, pred.pts3d_j_in_i)
            conf_i = torch.where(bad_i[:, None, None], torch.ones_like(pred.conf_i), pred.conf_i)
            conf_j = torch.where(bad_j[:, None, None], torch.ones_like(pred.conf_j), pred.conf_j)
            yield runner.PairBatch(batch.edge_ids, replace(pred, pts3d_j_in_i=pts_j, conf_i=conf_i, conf_j=conf_j))

    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", corrupt_frame_3)
    assert run(job, tmp_path / "out") == 0
    flagged = load_reconstruction(tmp_path / "out").meta["quality"]["flagged"]
    assert list(flagged) == ["000003"] and "low confidence" in flagged["000003"]


def write_known(sequence, tmp) -> dict[str, str]:
    """The sequence's exact intrinsics (rows of 9), poses (TUM) and a mask folder (a box per frame)."""
    np.savetxt(tmp / "K.txt", sequence.intrinsics.reshape(-1, 9))
    write_trajectory(tmp / "traj.txt", np.arange(6), sequence.poses_c2w, fmt="tum")
    (tmp / "masks").mkdir()
    for i in range(6):
        mask = np.zeros((48, 64), np.uint8)
        mask[10:20, 5 * i:5 * i + 12] = 255
        Image.fromarray(mask).save(tmp / "masks" / f"{i:06d}.png")
    return {"intrinsics": str(tmp / "K.txt"), "poses": str(tmp / "traj.txt"), "masks": str(tmp / "masks")}


@pytest.mark.parametrize("mode", ["global", "hierarchical"])
def test_known_intrinsics_fixed_poses_and_masks_come_back_unchanged(job, sequence, tmp_path, mode):
    files = write_known(sequence, tmp_path)
    assert run(job, tmp_path / "out", "--mode", mode, "--intrinsics", files["intrinsics"], "--poses", files["poses"],
               "--poses-mode", "fixed", "--masks", files["masks"]) == 0
    rec = load_reconstruction(tmp_path / "out")
    _, given = read_trajectory(files["poses"], fmt="tum")
    np.testing.assert_allclose(rec.poses_c2w, given, rtol=0, atol=1e-15)  # float64 round trip only
    np.testing.assert_array_equal(rec.intrinsics, sequence.intrinsics)
    masks = np.stack([np.asarray(Image.open(tmp_path / "masks" / f"{i:06d}.png")) > 0 for i in range(6)])
    np.testing.assert_array_equal(rec.dynamic_masks, masks)
    assert rec.meta["known"] == {"intrinsics": True, "poses": "fixed", "dynamic_masks": True}
    # this camera barely moves (mm), so the scale stays the exact pairs' own (metric): no scale fitted
    assert np.median(np.abs(rec.depths / sequence.depths - 1)) < 0.02


def _rewrite(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("make,message", [
    (lambda f, tmp: ["--intrinsics", str(tmp / "none.txt")], "cannot read intrinsics"),
    (lambda f, tmp: ["--intrinsics", _rewrite(tmp / "K2.txt", "1 0 32 0 1 24 0 0 1\n" * 2)], "2 intrinsics for 6 frames"),
    (lambda f, tmp: ["--intrinsics", _rewrite(tmp / "Knan.txt", "nan 0 32 0 50 24 0 0 1\n")], "NaN or infinite"),
    (lambda f, tmp: ["--intrinsics", _rewrite(tmp / "K5.txt", "1 2 3 4 5\n")], "expected one 3x3 K"),
    (lambda f, tmp: ["--intrinsics", _rewrite(tmp / "Kneg.txt", "-50 -50 32 24\n")], "focal lengths must be positive"),
    (lambda f, tmp: ["--intrinsics", _rewrite(tmp / "Kskew.txt", "50 1 32 0 50 24 0 0 1\n")], "skewed"),
    (lambda f, tmp: ["--focal", "-3"], "--focal must be a positive"),
    (lambda f, tmp: ["--focal", "50", "--intrinsics", f["intrinsics"]], "not both"),
    (lambda f, tmp: ["--poses", str(tmp / "none.txt")], "cannot read trajectory"),
    (lambda f, tmp: ["--poses", _rewrite(tmp / "t5.txt", "0 0 0 0 0 0 0 1\n" * 5)], "5 poses for 6 frames"),
    (lambda f, tmp: ["--poses", _rewrite(tmp / "tinf.txt", "0 inf 0 0 0 0 0 1\n" * 6)], "8 finite numbers"),
    (lambda f, tmp: ["--poses", _rewrite(tmp / "tq.txt", "0 0 0 0 0 0 0 2\n" * 6)], "is not a rotation"),
    (lambda f, tmp: ["--poses-mode", "init"], "need --poses FILE"),
    (lambda f, tmp: ["--masks", str(tmp / "nomasks")], "mask folder not found"),
    (lambda f, tmp: ["--masks", (tmp / "masks" / "000003.png").unlink() or f["masks"]], "no mask for frame '000003'"),
    (lambda f, tmp: ["--masks", _rewrite(tmp / "masks" / "000002.png", "not a png") and f["masks"]], "unreadable mask"),
])
def test_bad_known_input_is_one_line_and_writes_nothing(job, sequence, tmp_path, capsys, make, message):
    files = write_known(sequence, tmp_path)
    assert run(job, tmp_path / "out", *make(files, tmp_path)) == 2
    assert message in one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_run_export_writes_what_align3r_export_writes(job, tmp_path, capsys):
    from align3r.io.export import export

    assert run(job, tmp_path / "out", "--export", "tum", "ply") == 0
    assert "note: ply: all frames fused into one static cloud" in capsys.readouterr().out
    exports = tmp_path / "out" / "exports"
    rec = load_reconstruction(tmp_path / "out")
    _, poses = read_trajectory(exports / "trajectory_tum.txt", fmt="tum")
    np.testing.assert_allclose(poses, rec.poses_c2w, atol=1e-6)
    export(tmp_path / "out", "ply", tmp_path / "same.ply")
    assert (exports / "points.ply").read_bytes() == (tmp_path / "same.ply").read_bytes()
    # a rerun's exports replace the first run's
    assert run(job, tmp_path / "out", "--overwrite", "--export", "tum") == 0
    assert sorted(p.name for p in exports.iterdir()) == ["trajectory_tum.txt"]


def run_with(job, out, *args) -> int:  # noqa: F811
    """`align3r run` on the job with exactly `args` (no FAST defaults)."""
    return main(["run", str(job / "seq" / "rgb"), "-o", str(out), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *args])


def test_each_directed_flow_is_computed_once(job, tmp_path, monkeypatch):  # noqa: F811
    import align3r.infer.flow.dis as dis

    computed = []

    def counted(image_a, image_b):
        computed.append((image_a.tobytes(), image_b.tobytes()))
        return np.zeros((2, *image_a.shape[:2]), np.float32)

    monkeypatch.setattr(dis, "dis_flow", counted)
    fast = [a for a in FAST if a not in ("--flow", "none")]
    assert run_with(job, tmp_path / "out", *fast, "--flow", "dis", "--mode", "global") == 0
    edges = json.loads((tmp_path / "out" / "reconstruction.json").read_text())
    assert edges["meta"]["flow"] == "dis" and edges["meta"]["flow_note"] is None
    num_edges = len(pair_graph(6, "swinstride-5-noncyclic"))  # symmetrised: (i, j) and (j, i) both
    assert len(computed) == num_edges == len(set(computed))  # one flow per directed pair, not two


def test_the_default_flow_falls_back_to_dis_offline_and_says_so(job, tmp_path, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    fast = [a for a in FAST if a not in ("--flow", "none")]
    with caplog.at_level("WARNING"):
        assert run_with(job, tmp_path / "out", *fast, "--niter", "2") == 0
    flow_warnings = [r.getMessage() for r in caplog.records if "flow" in r.getMessage()]
    assert len(flow_warnings) == 1 and "DIS" in flow_warnings[0]
    meta = json.loads((tmp_path / "out" / "reconstruction.json").read_text())["meta"]
    assert meta["flow"] == "dis" and "SEA-RAFT weights unavailable" in meta["flow_note"]
    assert meta["config"]["flow"] == "sea-raft"


def test_without_size_the_network_runs_at_the_models_training_size(job, tmp_path, monkeypatch):
    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", runner.infer_pairs)  # the real (tiny) network
    assert FAST[:2] == ["--size", "64"]
    assert main(["run", str(job / "seq" / "rgb"), "-o", str(tmp_path / "out"), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", "--max-frames", "3", *FAST[2:]]) == 0
    rec = load_reconstruction(tmp_path / "out")
    assert rec.meta["config"]["size"] == 128 and rec.depths.shape == (3, 96, 128)  # tiny: img_size (128, 128)


def test_a_size_far_above_the_frames_is_refused_unless_forced(job, tmp_path, capsys, monkeypatch):
    assert run(job, tmp_path / "out", "--size", "160") == 2  # frames 48x64: above 2 x 64
    err = one_line(capsys)
    assert "--size 160 is above twice" in err and "--force-size" in err
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", runner.infer_pairs)
    assert run(job, tmp_path / "out", "--size", "160", "--force-size", "--max-frames", "3") == 0
    assert load_reconstruction(tmp_path / "out").meta["config"]["size"] == 160


def test_the_cache_is_removed_after_success_unless_kept(job, tmp_path, capsys):  # noqa: F811
    assert run(job, tmp_path / "out") == 0
    assert not (tmp_path / "out" / ".cache").exists()
    removed = load_reconstruction(tmp_path / "out").meta["cache"]
    assert removed["bytes"] > 0 and not removed["kept"] and "removed (--keep-cache keeps it)" in capsys.readouterr().out
    assert run(job, tmp_path / "kept", "--keep-cache") == 0
    cache = tmp_path / "kept" / ".cache"
    kept = load_reconstruction(tmp_path / "kept").meta["cache"]
    assert kept["kept"] and kept["bytes"] == sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())


def test_progress_off_a_terminal_is_log_lines_with_done_and_total(job, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="align3r.io.progress")  # and restored after the test
    fast = [a for a in FAST if a != "--quiet"]
    assert main(["run", str(job / "seq" / "rgb"), "-o", str(tmp_path / "out"), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *fast]) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "align3r.io.progress"]
    assert "pairs: 0/18 pair, 0 s elapsed, ETA ?" in lines and any(line.startswith("pairs: 18/18 pair") for line in lines)
    assert any(line.startswith("alignment: 10/10 it") for line in lines)
    caplog.clear()
    assert run(job, tmp_path / "quiet") == 0  # --quiet
    assert not [r for r in caplog.records if r.name == "align3r.io.progress"]


def test_a_model_and_a_prior_of_different_kinds_are_refused_unless_allowed(job, tmp_path, capsys, monkeypatch):
    argv = ["run", str(job / "seq" / "rgb"), "-o", str(tmp_path / "out"), "--model", "align3r-depthpro",
            "--prior", "depth-anything-v2-large", *FAST]
    assert main(argv) == 2  # refused before anything is loaded (no hub access)
    err = one_line(capsys)
    assert "trained with a depth_metric prior" in err and "--allow-prior-mismatch" in err
    assert not (tmp_path / "out").exists()

    class Loading(Exception):
        pass

    def load_model(name, device):
        raise Loading(name)

    monkeypatch.setattr("align3r.pipeline.resources.load_model", load_model)
    with pytest.raises(Loading, match="align3r-depthpro"):  # the check let it through: the model is loaded next
        main([*argv, "--allow-prior-mismatch"])


def test_a_disparity_files_prior_is_recorded_as_such(job, sequence, tmp_path):
    (tmp_path / "prior").mkdir()
    for i, depth in enumerate(sequence.depths):
        np.save(tmp_path / "prior" / f"{i:06d}.npy", (1 / np.maximum(depth, 1e-3)).astype(np.float32))
    assert main(["run", str(job / "seq" / "rgb"), "-o", str(tmp_path / "out"), "--model", str(job / "model"),
                 "--prior", f"files:{tmp_path / 'prior'}", "--prior-kind", "disparity", *FAST]) == 0
    assert load_reconstruction(tmp_path / "out").meta["prior"]["kind"] == "disparity_affine"


def test_the_precision_is_recorded(job, tmp_path):  # noqa: F811
    assert run(job, tmp_path / "default") == 0
    assert run(job, tmp_path / "bf16", "--precision", "bf16") == 0
    assert load_reconstruction(tmp_path / "default").meta["config"]["precision"] == "fp32"  # the official
    assert load_reconstruction(tmp_path / "bf16").meta["config"]["precision"] == "bf16"


def test_a_run_reads_the_video_in_blocks_and_never_whole(job, tmp_path, monkeypatch):  # noqa: F811
    """Without full-resolution outputs no array of the whole video at its own size is made, and
    blocks of two frames give the result of one block."""
    from align3r.io.video import VideoFrames
    from align3r.pipeline import network_inputs

    assert run(job, tmp_path / "one-block") == 0

    def whole(self):
        raise AssertionError("the whole video was read at its own resolution")

    monkeypatch.setattr(VideoFrames, "array", whole)
    monkeypatch.setattr(network_inputs, "BLOCK_BYTES", 2 * 7 * 48 * 64)
    assert run(job, tmp_path / "blocks") == 0
    one, blocks = load_reconstruction(tmp_path / "one-block"), load_reconstruction(tmp_path / "blocks")
    np.testing.assert_array_equal(blocks.depths, one.depths)
    np.testing.assert_array_equal(blocks.poses_c2w, one.poses_c2w)
