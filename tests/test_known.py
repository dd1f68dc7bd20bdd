"""Known intrinsics, poses and masks: file layouts, the move to the network grid, the warnings."""

import logging

import numpy as np
import pytest
from PIL import Image

from align3r.errors import InputError
from align3r.infer.preprocess import frame_transform
from align3r.known import KnownFiles, KnownInputs, read_intrinsics, read_masks

K = np.array([[50.0, 0, 32], [0, 50, 24], [0, 0, 1]])


@pytest.mark.parametrize("text", ["50 0 32\n0 50 24\n0 0 1\n", "50 0 32 0 50 24 0 0 1\n", "# fx fy cx cy\n50, 50, 32, 24\n",
                                  "50 50 32 24\n" * 3])
def test_intrinsics_layouts_give_one_k_per_frame(tmp_path, text):
    (tmp_path / "K.txt").write_text(text)
    np.testing.assert_array_equal(read_intrinsics(tmp_path / "K.txt", 3), np.stack([K] * 3))


def test_known_intrinsics_move_to_the_network_grid():
    """64x48 frames at size 32 (32x24, centre crop to 32x16): focal halved, principal point
    through the pixel-centre affine, 4 rows cropped above."""
    transform = frame_transform(48, 64, size=32)
    known = KnownInputs(intrinsics=np.stack([K] * 2))
    grid = known.network_intrinsics(transform)
    np.testing.assert_allclose(grid[:, 0, 0], 25.0)
    np.testing.assert_allclose(grid[:, :2, 2], [[15.75, 7.75]] * 2)  # (c + 0.5) / 2 - 0.5 - crop
    np.testing.assert_allclose(known.on_network_grid(transform, 2).focals.numpy(), 25.0)


def test_what_the_aligner_cannot_use_warns(caplog):
    k = K.copy()
    k[0, 0], k[0, 2] = 60.0, 45.0  # fx != fy, principal point 13 px right of the centre
    with caplog.at_level(logging.WARNING):
        cameras = KnownInputs(intrinsics=k[None]).on_network_grid(frame_transform(48, 64, size=64), 1)
    assert "from the image centre" in caplog.text and "sqrt(fx fy)" in caplog.text
    np.testing.assert_allclose(cameras.focals.numpy(), np.sqrt(60.0 * 50.0))


def test_masks_of_another_size_are_resized_nearest_with_a_warning(tmp_path, caplog):
    small = np.zeros((24, 32), np.uint8)
    small[:12, :16] = 7
    Image.fromarray(small).save(tmp_path / "a.png")
    Image.fromarray(np.kron(small, np.ones((2, 2), np.uint8))).save(tmp_path / "b.jpg")
    with caplog.at_level(logging.WARNING):
        masks = read_masks(tmp_path, ["a", "b"], (48, 64))
    assert "1 mask(s) of another size" in caplog.text
    assert masks.shape == (2, 48, 64) and masks.dtype == bool
    np.testing.assert_array_equal(masks[0], masks[1])
    assert masks[0, :24, :32].all() and not masks[0, 24:].any()


def test_api_inputs_are_checked():
    with pytest.raises(InputError, match="not a rigid transform"):
        KnownInputs(poses_c2w=2 * np.eye(4)[None])
    with pytest.raises(InputError, match="poses_mode"):
        KnownInputs(poses_mode="frozen")
    with pytest.raises(InputError, match="2 poses for 3 frames"):
        KnownInputs(poses_c2w=np.stack([np.eye(4)] * 2)).on_network_grid(frame_transform(48, 64, size=64), 3)
    assert KnownFiles().load(["a"], (48, 64)) is None
