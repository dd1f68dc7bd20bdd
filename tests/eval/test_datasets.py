"""Evaluation-set readers: sequence lists, frame ranges and ground truth of miniature official layouts."""

from dataclasses import replace

import numpy as np
import pytest
from helpers.eval_layouts import official_sequences, tiny_sequence, write_benchmark

from align3r.errors import InputError
from align3r.eval.datasets import DATASETS, SINTEL_SEQUENCES
from align3r.eval.gt_files import SINTEL_TAG, read_dpt, read_png_depth, read_sintel_cam
from align3r.eval.metrics import depth_valid_mask

POSE_SETS = ("sintel", "bonn", "tum", "synthetic")


def tiled(frames: int):
    """The 4-frame miniature repeated to `frames` frames (for the frame-range rules)."""
    seq = tiny_sequence(1)
    take = np.arange(frames) % len(seq.depths)
    return replace(seq, images=seq.images[take], depths=seq.depths[take], valid_masks=seq.valid_masks[take],
                   dynamic_masks=seq.dynamic_masks[take], intrinsics=seq.intrinsics[take],
                   poses_c2w=seq.poses_c2w[take])


@pytest.mark.parametrize("name", list(DATASETS))
def test_reader_returns_the_written_ground_truth(name, tmp_path):
    names = official_sequences(name, 2)
    sequences = {n: tiny_sequence(i % 2) for i, n in enumerate(names)}
    expected = write_benchmark(name, tmp_path, sequences)
    dataset = DATASETS[name](tmp_path)
    assert dataset.sequences() == names
    for seq_name in names[:2]:
        gt = dataset.depth_gt(seq_name)
        np.testing.assert_array_equal(gt, expected[seq_name])
        assert len(dataset.image_paths(seq_name, "depth")) == 4
        valid = depth_valid_mask(gt, depth_max=dataset.depth_max)
        assert not valid[:, :2, :3].any() and valid[:, 3:-2, 3:].all()
        if name in POSE_SETS:
            np.testing.assert_allclose(dataset.pose_gt(seq_name), sequences[seq_name].poses_c2w, atol=1e-9)


def test_kitti_has_no_upper_depth_bound_and_float_sets_drop_far_depth(tmp_path):
    far = replace(tiny_sequence(0), depths=tiny_sequence(0).depths * 10)  # up to ~100 m
    for name in ("kitti", "pointodyssey"):
        write_benchmark(name, tmp_path / name, {"seq_0": far})
        dataset = DATASETS[name](tmp_path / name)
        valid = depth_valid_mask(dataset.depth_gt("seq_0"), depth_max=dataset.depth_max)
        beyond = (far.depths > 70)[:, 2:-2, 3:]
        assert beyond.any()
        assert valid[:, 2:-2, 3:][beyond].all() == (name == "kitti")


@pytest.mark.parametrize("name, depth_frames, pose_frames", [("tum", 110, 30), ("bonn", 110, 30),
                                                             ("pointodyssey", 110, None)])
def test_official_frame_ranges(name, depth_frames, pose_frames, tmp_path):
    frames = depth_frames + 3
    (seq_name, *_) = names = official_sequences(name, 1)
    write_benchmark(name, tmp_path, {n: tiled(frames) for n in names})
    dataset = DATASETS[name](tmp_path)
    assert len(dataset.depth_gt(seq_name)) == depth_frames
    first = dataset.image_paths(seq_name, "depth")
    assert first == sorted(first) and len(first) == depth_frames
    if pose_frames:
        assert len(dataset.pose_gt(seq_name)) == len(dataset.image_paths(seq_name, "pose")) == pose_frames


def test_flyingthings_takes_every_twentieth_folder(tmp_path):
    write_benchmark("flyingthings3d", tmp_path, {"A/0000": tiny_sequence(0), "A/0020": tiny_sequence(1)})
    assert DATASETS["flyingthings3d"](tmp_path).sequences() == ["A/0000", "A/0020"]


def test_present_sequences_are_evaluated_and_missing_official_ones_named(tmp_path):
    write_benchmark("sintel", tmp_path / "sintel", {n: tiny_sequence(0) for n in ("market_5", "alley_2", "extra")})
    sintel = DATASETS["sintel"](tmp_path / "sintel")
    assert sintel.sequences() == ["alley_2", "extra", "market_5"]  # every folder, as os.listdir finds them
    assert sintel.missing_sequences() == [s for s in SINTEL_SEQUENCES if s not in ("market_5", "alley_2")]
    bonn_names = ["rgbd_bonn_crowd3", "rgbd_bonn_balloon2", "rgbd_bonn_moving_obstructing_box"]
    write_benchmark("bonn", tmp_path / "bonn", {n: tiny_sequence(0) for n in bonn_names})
    bonn = DATASETS["bonn"](tmp_path / "bonn")
    assert bonn.sequences() == ["rgbd_bonn_balloon2", "rgbd_bonn_crowd3"]  # the official five only, official order
    assert bonn.missing_sequences() == ["rgbd_bonn_crowd2", "rgbd_bonn_person_tracking2", "rgbd_bonn_synchronous"]
    write_benchmark("tum", tmp_path / "tum", {"seq_0": tiny_sequence(0)})
    assert DATASETS["tum"](tmp_path / "tum").missing_sequences() == []


def test_empty_or_unreadable_dataset_folder_is_one_error(tmp_path, monkeypatch):
    (tmp_path / "training" / "clean").mkdir(parents=True)
    with pytest.raises(InputError, match="no sintel sequences found"):
        DATASETS["sintel"](tmp_path).sequences()

    def unreadable(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "iterdir", unreadable)
    with pytest.raises(InputError, match="cannot list the folder \\(Permission denied\\)"):
        DATASETS["sintel"](tmp_path).sequences()


def test_depth_cameras_where_every_frame_has_one(tmp_path):
    sequence = tiny_sequence(2)
    for name in ("sintel", "synthetic", "bonn"):
        write_benchmark(name, tmp_path / name, {official_sequences(name, 1)[0]: sequence})
        dataset = DATASETS[name](tmp_path / name)
        cameras = dataset.depth_cameras(dataset.sequences()[0])
        if name == "bonn":  # a trajectory paired by row and no intrinsics
            assert cameras is None
            continue
        np.testing.assert_allclose(cameras[0], sequence.poses_c2w, atol=1e-9)
        np.testing.assert_array_equal(cameras[1], sequence.intrinsics)


def test_fewer_depth_maps_than_images_is_an_error(tmp_path):
    write_benchmark("tum", tmp_path, {"seq_0": tiny_sequence(0)})
    sorted((tmp_path / "seq_0" / "depth_50").iterdir())[-1].unlink()
    with pytest.raises(InputError, match="4 evaluated images but only 3 depth maps"):
        DATASETS["tum"](tmp_path).depth_gt("seq_0")


def test_pose_rows_fewer_than_images_is_an_error(tmp_path):
    write_benchmark("bonn", tmp_path, {n: tiny_sequence(0) for n in official_sequences("bonn", 5)})
    gt_file = tmp_path / "rgbd_bonn_dataset" / "rgbd_bonn_crowd2" / "groundtruth_110.txt"
    gt_file.write_text("\n".join(gt_file.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(InputError, match="4 evaluated images but only 2 ground-truth poses"):
        DATASETS["bonn"](tmp_path).pose_gt("rgbd_bonn_crowd2")


def test_gt_file_readers_reject_bad_files(tmp_path):
    bad_tag = tmp_path / "a.dpt"
    bad_tag.write_bytes(np.array([1.0, 0, 0], "<f4").tobytes())
    truncated = tmp_path / "b.dpt"
    truncated.write_bytes(np.array([SINTEL_TAG], "<f4").tobytes() + np.array([4, 3], "<i4").tobytes() + b"\0" * 8)
    short_cam = tmp_path / "c.cam"
    short_cam.write_bytes(np.array([SINTEL_TAG], "<f4").tobytes())
    rgb_png = tmp_path / "d.png"
    from PIL import Image
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(rgb_png)
    for call, path, message in [(read_dpt, bad_tag, "not a Sintel depth"), (read_dpt, truncated, "truncated"),
                                (read_sintel_cam, short_cam, "not a Sintel camera"),
                                (lambda p: read_png_depth(p, 5000.0), rgb_png, "single-channel 16-bit"),
                                (lambda p: read_png_depth(p, 5000.0), tmp_path / "none.png", "missing")]:
        with pytest.raises(InputError, match=message):
            call(path)


def test_unknown_root_and_pose_on_depth_only_sets(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        DATASETS["bonn"](tmp_path / "absent")
    write_benchmark("kitti", tmp_path, {"seq_0": tiny_sequence(0)})
    with pytest.raises(InputError, match="no camera ground truth"):
        DATASETS["kitti"](tmp_path).pose_gt("seq_0")
