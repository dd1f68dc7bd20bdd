"""Simulated priors of synthetic sequences, in memory and in the generator's folder layout."""

import numpy as np
import pytest

from align3r.data.synthetic.simulated_prior import SimulatedPrior
from align3r.errors import InputError
from align3r.prior import load_prior
from align3r.prior.base import PriorMap


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


@pytest.fixture(scope="module")
def sequence():
    from align3r.data.synthetic import SynthConfig, generate_sequence
    return generate_sequence(SynthConfig(frames=2, width=32, height=24, seed=3))


@pytest.mark.parametrize("style, kind", [("depth-pro", "depth_metric"), ("depth-anything", "disparity_affine")])
def test_generator_priors_in_memory_and_written_agree(sequence, tmp_path, style, kind):
    from align3r.data.synthetic import write_sequence
    maps = sequence.priors[style]
    in_memory = SimulatedPrior.from_maps(maps).estimate(sequence.images, ["000000", "000001"])
    assert in_memory.kind == kind
    np.testing.assert_array_equal(in_memory.values, maps.stored)
    assert (in_memory.focal_px is None) == (style == "depth-anything")
    folder = write_sequence(sequence, tmp_path / "seq")
    on_disk = load_prior(f"simulated:{folder}", kind=kind).estimate(sequence.images, ["000000", "000001"])
    np.testing.assert_array_equal(on_disk.values, in_memory.values)
    if style == "depth-pro":
        np.testing.assert_allclose(on_disk.focal_px, maps.focal_px)
