"""Simulated priors of synthetic sequences, in memory and in the generator's folder layout."""

import numpy as np
import pytest

from align3r.errors import InputError
from align3r.prior import load_prior
from align3r.prior.base import PriorMap
from align3r.prior.simulated import SimulatedPrior


def test_in_memory_lookup_by_frame_name():
    values = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5) + 1
    prior = SimulatedPrior(PriorMap("depth_metric", values, np.array([10.0, 11.0, 12.0])), ["f0", "f1", "f2"])
    frames = np.zeros((2, 4, 5, 3), np.uint8)
    out = prior.estimate(frames, ["f2", "f0"])
    np.testing.assert_array_equal(out.values, values[[2, 0]])
    np.testing.assert_array_equal(out.focal_px, [12.0, 10.0])
    with pytest.raises(InputError, match="no frame"):
        prior.estimate(frames, ["f2", "f9"])
    with pytest.raises(InputError, match="same sequence"):
        prior.estimate(np.zeros((1, 5, 5, 3), np.uint8), ["f0"])


@pytest.mark.parametrize("kind, style", [("depth_metric", "depth-pro"), ("disparity_affine", "depth-anything")])
def test_sequence_folder_style_by_kind(tmp_path, kind, style):
    folder = tmp_path / "prior" / style
    folder.mkdir(parents=True)
    for i in range(2):
        np.savez(folder / f"{i:06d}.npz", depth=np.full((4, 5), i + 1.0, np.float32), focallength_px=50.0)
    prior = load_prior(f"simulated:{tmp_path}", kind=kind)
    out = prior.estimate(np.zeros((2, 4, 5, 3), np.uint8), ["000000", "000001"])
    assert out.kind == kind and prior.name == f"simulated:{tmp_path}" and prior.cache_key is None
    np.testing.assert_array_equal(out.values[:, 0, 0], [1.0, 2.0])
