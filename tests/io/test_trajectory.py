"""Trajectory files: official (w first) and TUM (w last) rows, read and written losslessly."""

from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from align3r.errors import InputError
from align3r.io.trajectory import c2w_to_rows, read_trajectory, rows_to_c2w, write_trajectory

DATA = Path(__file__).parents[1] / "goldens" / "eval"


def random_c2w(count: int) -> np.ndarray:
    c2w = np.tile(np.eye(4), (count, 1, 1))
    c2w[:, :3, :3] = roma.random_rotmat(count, dtype=torch.float64).numpy()
    c2w[:, :3, 3] = np.random.default_rng(0).normal(size=(count, 3))
    return c2w


def test_known_rows():
    c2w = np.eye(4)
    c2w[:3, :3] = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]  # 90 degrees about z
    c2w[:3, 3] = [1.0, 2.0, 3.0]
    h = np.sqrt(0.5)
    np.testing.assert_allclose(c2w_to_rows(np.array([7.0]), c2w[None], fmt="official")[0], [7, 1, 2, 3, h, 0, 0, h], atol=1e-15)
    np.testing.assert_allclose(c2w_to_rows(np.array([7.0]), c2w[None], fmt="tum")[0], [7, 1, 2, 3, 0, 0, h, h], atol=1e-15)


@pytest.mark.parametrize("fmt", ["official", "tum"])
def test_rows_round_trip(fmt):
    c2w = random_c2w(10)
    stamps, back = rows_to_c2w(c2w_to_rows(np.arange(10.0), c2w, fmt=fmt), fmt=fmt)
    np.testing.assert_array_equal(stamps, np.arange(10.0))
    np.testing.assert_allclose(back, c2w, atol=1e-14)


@pytest.mark.parametrize("fmt", ["official", "tum"])
def test_file_round_trip_is_lossless_and_atomic(tmp_path, fmt):
    c2w = random_c2w(6)
    stamps = np.linspace(1305031102.175304, 1305031102.4, 6)
    path = tmp_path / "traj.txt"
    write_trajectory(path, stamps, c2w, fmt=fmt)
    np.testing.assert_array_equal(np.loadtxt(path), c2w_to_rows(stamps, c2w, fmt=fmt))  # shortest exact floats
    read_stamps, read_c2w = read_trajectory(path, fmt=fmt)
    np.testing.assert_array_equal(read_stamps, stamps)
    np.testing.assert_allclose(read_c2w, c2w, atol=1e-14)
    assert [p.name for p in tmp_path.iterdir()] == ["traj.txt"]


def test_golden_files_agree_across_formats():
    """poseC: the TUM ground truth (comment line, real time stamps) and the official prediction."""
    stamps, gt = read_trajectory(DATA / "poseC_gt_tum.txt", fmt="tum")
    assert len(stamps) == 24 and stamps[0] == pytest.approx(1305031102.175304)
    pred_stamps, pred = read_trajectory(DATA / "poseC_pred_traj.txt", fmt="official")
    np.testing.assert_array_equal(pred_stamps, np.arange(24.0))
    first = np.loadtxt(DATA / "poseC_pred_traj.txt")[0]
    np.testing.assert_allclose(pred[0, :3, 3], first[1:4])
    w, x, y, z = first[4:]
    np.testing.assert_allclose(pred[0, 0, 1], 2 * (x * y - w * z), atol=1e-12)  # w is first in the file
    for c2w in (gt, pred):
        np.testing.assert_allclose(c2w[:, :3, :3] @ c2w[:, :3, :3].transpose(0, 2, 1), np.tile(np.eye(3), (24, 1, 1)), atol=1e-12)


@pytest.mark.parametrize("text, message", [("0 1 2 3 1 0 0\n", "8 finite numbers"), ("0 1 2 3 a 0 0 0\n", "8 finite"),
                                           ("0 1 2 3 0 0 0 0\n", "non-zero"), ("# only a comment\n", "no poses"),
                                           ("0 1 2 nan 1 0 0 0\n", "finite")])
def test_bad_files_raise_input_error(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_trajectory(path, fmt="tum")


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_trajectory(tmp_path / "none.txt", fmt="tum")
    with pytest.raises(InputError, match="unknown trajectory format"):
        read_trajectory(tmp_path / "none.txt", fmt="kitti")
