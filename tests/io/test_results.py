"""The output folder: round trip, official files that read back, overwrite rules."""

import json

import numpy as np
import pytest
import roma
import torch

from align3r.errors import InputError
from align3r.io.results import OutputFolder, load_reconstruction, save_reconstruction
from align3r.io.trajectory import read_trajectory
from align3r.reconstruction import Reconstruction


def random_reconstruction(n: int = 4, h: int = 16, w: int = 24, seed: int = 0) -> Reconstruction:
    rng = np.random.default_rng(seed)
    rot = roma.random_rotmat(n, dtype=torch.float64).numpy()
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3], poses[:, :3, 3] = rot, rng.normal(size=(n, 3))
    k = np.array([[20.0, 0, w / 2], [0, 20.0, h / 2], [0, 0, 1]])
    return Reconstruction(images=rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8),
                          depths=rng.uniform(0.5, 9, (n, h, w)).astype(np.float32),
                          conf=(1 + rng.exponential(3, (n, h, w))).astype(np.float32), poses_c2w=poses,
                          intrinsics=np.tile(k, (n, 1, 1)), dynamic_masks=rng.random((n, h, w)) < 0.2,
                          names=[f"f{i}" for i in range(n)], meta={"model": "tiny", "niter": 3})


def test_save_load_round_trip(tmp_path):
    rec = random_reconstruction()
    save_reconstruction(rec, tmp_path / "out")
    assert load_reconstruction(tmp_path / "out") == rec
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_official_files_read_back(tmp_path):
    rec = random_reconstruction()
    save_reconstruction(rec, tmp_path)
    _, poses = read_trajectory(tmp_path / "pred_traj.txt", fmt="official")
    np.testing.assert_allclose(poses, rec.poses_c2w, atol=1e-12)
    _, poses_tum = read_trajectory(tmp_path / "trajectory_tum.txt", fmt="tum")
    np.testing.assert_allclose(poses_tum, rec.poses_c2w, atol=1e-12)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "pred_intrinsics.txt").reshape(-1, 3, 3), rec.intrinsics, atol=5e-7)
    assert np.array_equal(np.load(tmp_path / "frame_0002.npy"), rec.depths[2])
    np.testing.assert_allclose(np.load(tmp_path / "conf_3.npy"), np.log(rec.conf[3]), rtol=1e-6)
    assert OutputFolder(tmp_path).dynamic_mask(1).tolist() == rec.dynamic_masks[1].tolist()


def test_overwrite_rules_and_stale_frames(tmp_path):
    save_reconstruction(random_reconstruction(n=5), tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already holds a reconstruction"):
        save_reconstruction(random_reconstruction(n=3), tmp_path)
    smaller = random_reconstruction(n=3, seed=1)
    save_reconstruction(smaller, tmp_path, overwrite=True)
    assert load_reconstruction(tmp_path) == smaller
    assert not (tmp_path / "frame_0004.npy").exists() and (tmp_path / "notes.txt").exists()
    assert json.loads((tmp_path / "reconstruction.json").read_text())["names"] == ["f0", "f1", "f2"]


def test_not_a_result_folder(tmp_path):
    with pytest.raises(InputError, match="not a reconstruction folder"):
        load_reconstruction(tmp_path)


def test_points_world_match_the_camera_model():
    rec = random_reconstruction(n=2)
    pts = rec.points_world()
    w2c = np.linalg.inv(rec.poses_c2w[1])
    cam = pts[1] @ w2c[:3, :3].T + w2c[:3, 3]
    np.testing.assert_allclose(cam[..., 2], rec.depths[1], rtol=1e-5)
    u = rec.intrinsics[1, 0, 0] * cam[..., 0] / cam[..., 2] + rec.intrinsics[1, 0, 2]
    np.testing.assert_allclose(u, np.broadcast_to(np.arange(24), (16, 24)), atol=1e-3)
