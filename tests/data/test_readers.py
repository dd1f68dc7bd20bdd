"""Dataset readers on tiny sequences written in each official layout (docs/training.md §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from align3r.data.readers import READERS, make_reader
from align3r.data.readers.write import write_proc_frame
from align3r.errors import InputError
from align3r.io.formats import read_pfm, write_pfm

H, W = 12, 16
F = np.diag([1.0, -1.0, -1.0, 1.0])
NED_TO_CV = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
STEP = np.array([2.0, 0.0, 1.0])
"""Each frame moves 2 right and 1 forward (OpenCV camera axes) relative to the previous one."""


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    out = np.eye(4)
    out[:3, :3] = q * np.sign(np.linalg.det(q))
    return out


def _translation(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, 3] = t
    return out


def _true_c2w(k: int) -> np.ndarray:
    """OpenCV c2w of frame k: a rotated world, the camera stepping by STEP in its own axes."""
    return _rotation(1) @ _translation(k * STEP)


# Raw pose of frame k in each dataset's raw convention, then the preprocessing's stored form (docs/training.md §2.4),
# written from the table independently of the reader.
def _stored_pose(dataset: str, k: int) -> np.ndarray:
    return _encode_pose(dataset, _true_c2w(k))


def _encode_pose(dataset: str, c2w: np.ndarray) -> np.ndarray:
    blender_c2w = c2w @ F            # Blender camera axes: x right, y up, z backward
    ned_c2w = np.linalg.inv(NED_TO_CV) @ c2w @ NED_TO_CV  # NED camera in a NED world
    stored = {
        "pointodyssey": np.linalg.inv(c2w) @ F,                 # raw OpenCV w2c E, stored E·F
        "tartanair": NED_TO_CV @ ned_c2w @ np.linalg.inv(NED_TO_CV),  # T·P·T⁻¹
        "spring": blender_c2w @ F,                              # official reading: E Blender c2w, E·F
        "spring-monst3r": np.linalg.inv(c2w) @ F,               # MonST3R reading: E OpenCV w2c, E·F
        "sceneflow": blender_c2w @ F,                           # P·F
        "vkitti2": np.linalg.inv(np.linalg.inv(c2w)),           # inv(E)
    }
    return stored[dataset]


SEQUENCE_DIRS = {
    "pointodyssey": ("train/seq_a", "train/seq_b"),
    "tartanair": ("abandoned_Easy_P000_left", "abandoned_Easy_P000_right"),
    "spring": ("train/0001", "train/0002"),
    "sceneflow": ("Driving_proc/15mm_focallength/scene_forwards/fast/left", "FlyingThings3D_proc/TRAIN/A/0000/left"),
    "vkitti2": ("scene0000_left", "scene0001_left"),
}
IGNORED_DIRS = {
    "pointodyssey": "val/seq_v", "tartanair": "abandoned_Hard_P001_left", "spring": "test/0003",
    "sceneflow": "FlyingThings3D_proc/TEST/A/0001/left", "vkitti2": None,
}


def _frame_arrays(k: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(k)
    v, u = np.mgrid[0:H, 0:W]
    rgb = np.stack([u * 12 + 20, v * 15 + 30, np.full_like(u, 90 + 10 * k)], axis=-1).astype(np.uint8)
    depth = rng.uniform(1, 50, size=(H, W)).astype(np.float32)
    depth[0, 0], depth[0, 1], depth[1, 0] = np.inf, np.nan, 500.0
    valid = np.ones((H, W), dtype=bool)
    valid[2, :3] = False
    intrinsics = np.array([[20.0 + k, 0, 7.6], [0, 21.0 + k, 5.4], [0, 0, 1]])
    prior = rng.uniform(2, 40, size=(H, W)).astype(np.float32)
    return {"rgb": rgb, "depth": depth, "valid": valid, "intrinsics": intrinsics, "prior": prior}


def _write_official(root: Path, dataset: str, pose_kind: str, frames: int = 3) -> None:
    dirs = [*SEQUENCE_DIRS[dataset], *filter(None, [IGNORED_DIRS[dataset]])]
    for seq in dirs:
        for k in range(frames):
            a = _frame_arrays(k)
            write_proc_frame(root / seq, f"{k:04d}", rgb=a["rgb"], depth=a["depth"], valid=a["valid"],
                             intrinsics=a["intrinsics"], camera_pose=_stored_pose(pose_kind, k),
                             priors={"depthpro": (a["prior"], 30.0 + k), "depthanything": (1 / a["prior"], 20.0)},
                             jpeg_quality=100)


def _write_synthetic(root: Path, frames: int = 3) -> None:
    for k in range(frames):
        a = _frame_arrays(k)
        for sub in ("rgb", "depth", "prior/depth-pro"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(a["rgb"]).save(root / "rgb" / f"{k:06d}.png")
        np.save(root / "depth" / f"{k:06d}.npy", np.where(a["valid"], a["depth"], np.inf))
        np.savez(root / "prior/depth-pro" / f"{k:06d}.npz", depth=a["prior"], focallength_px=np.float32(30 + k))
    np.savez(root / "cameras.npz", intrinsics=np.stack([_frame_arrays(k)["intrinsics"] for k in range(frames)]),
             cam2world=np.stack([_true_c2w(k) for k in range(frames)]))


OFFICIAL_CASES = [("pointodyssey", "pointodyssey", {}), ("tartanair", "tartanair", {}), ("spring", "spring", {}),
                  ("spring", "spring-monst3r", {"reading": "monst3r"}), ("sceneflow", "sceneflow", {}),
                  ("vkitti2", "vkitti2", {})]


@pytest.mark.parametrize(("dataset", "pose_kind", "options"), OFFICIAL_CASES)
def test_official_reader_returns_the_written_frame(tmp_path: Path, dataset: str, pose_kind: str, options: dict) -> None:
    _write_official(tmp_path, dataset, pose_kind)
    reader = make_reader(dataset, tmp_path, **options)
    assert [s.name for s in reader.sequences] == list(SEQUENCE_DIRS[dataset])
    assert [s.frame_ids for s in reader.sequences] == [("0000", "0001", "0002")] * 2
    record = reader.read_frame(1, 2)
    a = _frame_arrays(2)
    rgb_path = tmp_path / SEQUENCE_DIRS[dataset][1] / "0002_rgb.jpg"
    assert record.label == str(rgb_path) and record.dataset == dataset
    np.testing.assert_array_equal(record.rgb, np.asarray(Image.open(rgb_path).convert("RGB")))
    assert np.abs(record.rgb.astype(int) - a["rgb"]).max() <= 12  # JPEG, quality 100, 4:2:0 chroma
    expected_depth = np.where(a["valid"] & np.isfinite(a["depth"]), a["depth"], 0)
    np.testing.assert_array_equal(record.depth, expected_depth)
    assert record.depth[1, 0] == 500.0  # beyond 400 kept: only the mask PNG and the loss filter decide
    np.testing.assert_array_equal(record.intrinsics, a["intrinsics"].astype(np.float32))
    np.testing.assert_array_equal(record.prior_depth, a["prior"])
    assert record.prior_focal == 32.0


@pytest.mark.parametrize(("dataset", "pose_kind", "options"), OFFICIAL_CASES)
def test_every_reader_gives_the_known_relative_pose(tmp_path: Path, dataset: str, pose_kind: str,
                                                    options: dict) -> None:
    _write_official(tmp_path, dataset, pose_kind)
    reader = make_reader(dataset, tmp_path, **options)
    c2w_0, c2w_1 = (reader.read_frame(0, k).c2w.astype(np.float64) for k in (0, 1))
    np.testing.assert_allclose(np.linalg.inv(c2w_0) @ c2w_1, _translation(STEP), atol=2e-6)


@pytest.mark.parametrize(("dataset", "pose_kind", "options"),
                         [("pointodyssey", "pointodyssey", {}), ("spring", "spring-monst3r", {"reading": "monst3r"}),
                          ("sceneflow", "sceneflow", {}), ("vkitti2", "vkitti2", {})])
def test_readers_recover_the_raw_world_frame(tmp_path: Path, dataset: str, pose_kind: str, options: dict) -> None:
    _write_official(tmp_path, dataset, pose_kind)
    record = make_reader(dataset, tmp_path, **options).read_frame(0, 2)
    np.testing.assert_allclose(record.c2w, _true_c2w(2), atol=2e-6)


def test_spring_official_reading_keeps_the_stored_pose_and_scales_depth(tmp_path: Path) -> None:
    _write_official(tmp_path, "spring", "spring-monst3r")
    official = make_reader("spring", tmp_path).read_frame(0, 1)
    metric = make_reader("spring", tmp_path, reading="monst3r", depth_scale=0.065).read_frame(0, 1)
    np.testing.assert_array_equal(official.c2w, _stored_pose("spring-monst3r", 1).astype(np.float32))
    np.testing.assert_allclose(metric.depth, official.depth * np.float32(0.065), rtol=1e-6)


def test_sceneflow_test_split_and_3x3_prior_focal(tmp_path: Path) -> None:
    _write_official(tmp_path, "sceneflow", "sceneflow")
    prior_path = tmp_path / IGNORED_DIRS["sceneflow"] / "0001_rgb_pred_depth_depthpro.npz"
    np.savez(prior_path, depth=_frame_arrays(1)["prior"], focallength_px=np.diag([44.0, 45.0, 1.0]))
    reader = make_reader("sceneflow", tmp_path, split="test")
    assert [s.name for s in reader.sequences] == [IGNORED_DIRS["sceneflow"]]
    assert reader.read_frame(0, 1).prior_focal == 44.0


def test_depth_anything_prior_is_read_as_stored(tmp_path: Path) -> None:
    _write_official(tmp_path, "vkitti2", "vkitti2")
    record = make_reader("vkitti2", tmp_path, prior="depthanything").read_frame(0, 0)
    np.testing.assert_array_equal(record.prior_depth, (1 / _frame_arrays(0)["prior"]).astype(np.float32))
    assert record.prior_focal == 20.0


def test_synthetic_reader(tmp_path: Path) -> None:
    _write_synthetic(tmp_path / "seq_000")
    _write_synthetic(tmp_path / "seq_001", frames=4)
    reader = make_reader("synthetic", tmp_path)
    assert [len(s.frame_ids) for s in reader.sequences] == [3, 4]
    record = reader.read_frame(1, 2)
    a = _frame_arrays(2)
    np.testing.assert_array_equal(record.rgb, a["rgb"])
    np.testing.assert_array_equal(record.depth, np.where(a["valid"] & np.isfinite(a["depth"]), a["depth"], 0))
    np.testing.assert_array_equal(record.intrinsics, a["intrinsics"].astype(np.float32))
    np.testing.assert_allclose(record.c2w, _true_c2w(2), atol=1e-6)
    np.testing.assert_array_equal(record.prior_depth, a["prior"])
    assert record.prior_focal == 32.0
    assert len(make_reader("synthetic", tmp_path / "seq_001").sequences) == 1  # a sequence folder as root


def test_registry_names_and_unknown_dataset(tmp_path: Path) -> None:
    assert set(READERS) == {"pointodyssey", "tartanair", "spring", "sceneflow", "vkitti2", "synthetic"}
    with pytest.raises(InputError, match="unknown dataset 'kitti'"):
        make_reader("kitti", tmp_path)
    with pytest.raises(InputError, match="no vkitti2 sequence"):
        make_reader("vkitti2", tmp_path)
    with pytest.raises(InputError, match="unknown prior 'midas'"):
        make_reader("vkitti2", tmp_path, prior="midas")
    with pytest.raises(InputError, match="unknown split 'val'"):
        make_reader("vkitti2", tmp_path, split="val")
    with pytest.raises(InputError, match="root folder does not exist"):
        make_reader("vkitti2", tmp_path / "absent")


def test_missing_file_raises_naming_it_or_is_skipped_and_counted(tmp_path: Path) -> None:
    _write_official(tmp_path, "vkitti2", "vkitti2")
    missing = tmp_path / "scene0001_left" / "0001_metadata.npz"
    missing.unlink()
    with pytest.raises(InputError) as err:
        make_reader("vkitti2", tmp_path)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    reader = make_reader("vkitti2", tmp_path, on_error="skip")
    assert reader.skipped == [f"{missing}: missing"]
    assert [s.frame_ids for s in reader.sequences] == [("0000", "0001", "0002"), ("0000", "0002")]


@pytest.mark.parametrize(("name", "damage"), [
    ("0001_depth.pfm", lambda p: p.write_bytes(p.read_bytes()[:40])),
    ("0001_depth.pfm", lambda p: p.write_bytes(b"P6\n4 4\n255\n")),
    ("0001_rgb.jpg", lambda p: p.write_bytes(b"not a jpeg")),
    ("0001_mask.png", lambda p: Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(p)),
    ("0001_metadata.npz", lambda p: p.write_bytes(b"PK\x03\x04broken")),
    ("0001_metadata.npz", lambda p: np.savez(p, camera_intrinsics=np.eye(3))),
    ("0001_rgb_pred_depth_depthpro.npz", lambda p: np.savez(p, depth=np.full((H, W), np.nan), focallength_px=1.0)),
    ("0001_rgb_pred_depth_depthpro.npz", lambda p: np.savez(p, depth=np.ones((H // 2, W // 2)), focallength_px=1.0)),
])
def test_corrupt_file_gives_one_line_naming_it(tmp_path: Path, name: str, damage) -> None:
    _write_official(tmp_path, "pointodyssey", "pointodyssey")
    path = tmp_path / "train/seq_a" / name
    damage(path)
    reader = make_reader("pointodyssey", tmp_path)
    reader.read_frame(0, 0)
    with pytest.raises(InputError) as err:
        reader.read_frame(0, 1)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_pfm_round_trip_and_bottom_to_top_rows(tmp_path: Path) -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_pfm(tmp_path / "a.pfm", image)
    data = (tmp_path / "a.pfm").read_bytes()
    assert data.startswith(b"Pf\n4 3\n-1\n")
    assert np.frombuffer(data[-16:], "<f4").tolist() == [0, 1, 2, 3]  # last stored row is the top row
    np.testing.assert_array_equal(read_pfm(tmp_path / "a.pfm"), image)
    (tmp_path / "b.pfm").write_bytes(b"Pf\n2 1\n1.0\n" + np.array([1.5, -2], ">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(tmp_path / "b.pfm"), [[1.5, -2]])


def test_synthetic_reader_reads_the_generator_output(tmp_path: Path) -> None:
    synthetic = pytest.importorskip("align3r.data.synthetic.sequence")
    writer = pytest.importorskip("align3r.data.synthetic.writer")
    sequence = synthetic.generate_sequence(synthetic.SynthConfig(frames=3, width=40, height=24, seed=5))
    writer.write_sequence(sequence, tmp_path / "seq")
    depth_pro = make_reader("synthetic", tmp_path)
    depth_anything = make_reader("synthetic", tmp_path, prior="depthanything")
    for k in range(3):
        record, other = depth_pro.read_frame(0, k), depth_anything.read_frame(0, k)
        np.testing.assert_array_equal(record.rgb, sequence.images[k])
        np.testing.assert_array_equal(record.depth, np.where(sequence.valid_masks[k], sequence.depths[k], 0))
        np.testing.assert_array_equal(record.intrinsics, sequence.intrinsics[k].astype(np.float32))
        np.testing.assert_array_equal(record.c2w, sequence.poses_c2w[k].astype(np.float32))
        np.testing.assert_array_equal(record.prior_depth, sequence.priors["depth-pro"].stored[k])
        assert record.prior_focal == pytest.approx(sequence.priors["depth-pro"].focal_px[k])
        np.testing.assert_array_equal(other.prior_depth, sequence.priors["depth-anything"].stored[k])
        assert other.prior_focal == pytest.approx(sequence.intrinsics[k][0, 0])  # no stored focal: the GT fx


@pytest.mark.parametrize(("dataset", "pose_kind", "options"), OFFICIAL_CASES)
def test_generated_trajectory_in_each_official_layout_keeps_its_relative_poses(
        tmp_path: Path, dataset: str, pose_kind: str, options: dict) -> None:
    synthetic = pytest.importorskip("align3r.data.synthetic.sequence")
    sequence = synthetic.generate_sequence(synthetic.SynthConfig(frames=3, width=40, height=24, seed=2))
    for k in range(3):
        prior = sequence.priors["depth-pro"]
        write_proc_frame(tmp_path / SEQUENCE_DIRS[dataset][0], f"{k:04d}", rgb=sequence.images[k],
                         depth=sequence.depths[k], valid=sequence.valid_masks[k], intrinsics=sequence.intrinsics[k],
                         camera_pose=_encode_pose(pose_kind, sequence.poses_c2w[k].astype(np.float64)),
                         priors={"depthpro": (prior.stored[k], prior.focal_px[k])})
    reader = make_reader(dataset, tmp_path, **options)
    c2w = [reader.read_frame(0, k).c2w.astype(np.float64) for k in range(3)]
    for j in (1, 2):
        expected = np.linalg.inv(sequence.poses_c2w[0]) @ sequence.poses_c2w[j]
        np.testing.assert_allclose(np.linalg.inv(c2w[0]) @ c2w[j], expected, atol=2e-5)
