"""Known intrinsics, poses and masks as read from the user's files and checked."""

import logging

import numpy as np
import pytest
from PIL import Image

from align3r.io.known_inputs import read_intrinsics, read_masks

K = np.array([[50.0, 0, 32], [0, 50, 24], [0, 0, 1]])


@pytest.mark.parametrize("text", ["50 0 32\n0 50 24\n0 0 1\n", "50 0 32 0 50 24 0 0 1\n", "# fx fy cx cy\n50, 50, 32, 24\n",
                                  "50 50 32 24\n" * 3])
def test_intrinsics_layouts_give_one_k_per_frame(tmp_path, text):
    (tmp_path / "K.txt").write_text(text)
    np.testing.assert_array_equal(read_intrinsics(tmp_path / "K.txt", 3), np.stack([K] * 3))


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


