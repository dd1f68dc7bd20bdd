"""Known intrinsics, poses and masks moved to the network grid, and the warnings about what the aligner cannot use."""

import logging

import numpy as np
import pytest

from align3r.errors import InputError
from align3r.infer.preprocess import frame_transform
from align3r.io.known_inputs import KnownFiles, KnownInputs
from align3r.pipeline.known_grid import known_cameras, network_intrinsics

K = np.array([[50.0, 0, 32], [0, 50, 24], [0, 0, 1]])


def test_known_intrinsics_move_to_the_network_grid():
    """64x48 frames at size 32 (32x24, centre crop to 32x16): focal halved, principal point
    through the pixel-centre affine, 4 rows cropped above."""
    transform = frame_transform(48, 64, size=32)
    known = KnownInputs(intrinsics=np.stack([K] * 2))
    grid = network_intrinsics(known, transform)
    np.testing.assert_allclose(grid[:, 0, 0], 25.0)
    np.testing.assert_allclose(grid[:, :2, 2], [[15.75, 7.75]] * 2)  # (c + 0.5) / 2 - 0.5 - crop
    np.testing.assert_allclose(known_cameras(known, transform, 2).focals.numpy(), 25.0)


def test_what_the_aligner_cannot_use_warns(caplog):
    k = K.copy()
    k[0, 0], k[0, 2] = 60.0, 45.0  # fx != fy, principal point 13 px right of the centre
    with caplog.at_level(logging.WARNING):
        cameras = known_cameras(KnownInputs(intrinsics=k[None]), frame_transform(48, 64, size=64), 1)
    assert "from the image centre" in caplog.text and "sqrt(fx fy)" in caplog.text
    np.testing.assert_allclose(cameras.focals.numpy(), np.sqrt(60.0 * 50.0))


def test_api_inputs_are_checked():
    with pytest.raises(InputError, match="not a rigid transform"):
        KnownInputs(poses_c2w=2 * np.eye(4)[None])
    with pytest.raises(InputError, match="poses_mode"):
        KnownInputs(poses_mode="frozen")
    with pytest.raises(InputError, match="2 poses for 3 frames"):
        known_cameras(KnownInputs(poses_c2w=np.stack([np.eye(4)] * 2)), frame_transform(48, 64, size=64), 3)
    assert KnownFiles().load(["a"], (48, 64)) is None
