"""PairStore: round trips, resume, key check, atomic files, and float16 within the golden tolerance."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.align_goldens import ALIGN_DATA, depth_rel, load_pairs, rotation_error_deg, translation_rel

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align
from align3r.errors import InputError
from align3r.infer.pairs import PairPredictions
from align3r.infer.store import PairStore


def _pairs(edges, height=4, width=5, flow=True):
    gen = torch.Generator().manual_seed(0)
    e = len(edges)
    rand = lambda *shape: torch.randn(*shape, generator=gen)  # noqa: E731
    return PairPredictions(torch.tensor(edges), rand(e, height, width, 3), rand(e, height, width, 3),
                           1 + rand(e, height, width).exp() * 1e3, 1 + rand(e, height, width).exp(),
                           rand(e, 2, height, width) if flow else None,
                           rand(e, 2, height, width) if flow else None)


def test_float32_round_trip_in_the_requested_order(tmp_path):
    pairs = _pairs([[0, 1], [1, 0], [2, 1]])
    store = PairStore(tmp_path, height=4, width=5, key="k", dtype="float32")
    store.write(pairs)
    loaded = store.load(np.array([[2, 1], [0, 1]]), with_flow=True)
    assert loaded.edges.tolist() == [[2, 1], [0, 1]]
    for name in ("pts3d_i_in_i", "pts3d_j_in_i", "conf_i", "conf_j", "flow_ij", "flow_ji"):
        torch.testing.assert_close(getattr(loaded, name), getattr(pairs, name)[[2, 0]], rtol=0, atol=0)
    assert store.load(np.array([[0, 1]])).flow_ij is None
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_float16_points_and_float32_confidences(tmp_path):
    pairs = _pairs([[0, 1]])
    store = PairStore(tmp_path, height=4, width=5, key="k")
    store.write(pairs)
    loaded = store.load(np.array([[0, 1]]))
    torch.testing.assert_close(loaded.pts3d_i_in_i, pairs.pts3d_i_in_i, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(loaded.conf_i, pairs.conf_i, rtol=0, atol=0)  # > 65504 stays finite
    assert np.load(tmp_path / "0_1.pts.npy", mmap_mode="r").dtype == np.float16


def test_resume_writes_only_missing_edges_and_key_is_checked(tmp_path):
    edges = np.array([[0, 1], [1, 2], [2, 0]])
    store = PairStore(tmp_path, height=4, width=5, key="k")
    store.write(_pairs(edges[:1].tolist()))
    reopened = PairStore(tmp_path, height=4, width=5, key="k")
    assert reopened.missing(edges).tolist() == [[1, 2], [2, 0]]
    with pytest.raises(InputError, match="lacks edges"):
        reopened.load(edges)
    with pytest.raises(InputError, match="other inputs"):
        PairStore(tmp_path, height=4, width=5, key="other")


def test_float16_store_keeps_the_golden_final_state_tolerance(tmp_path):
    """global8_demo_flow from float16 points: final state within the README's flow tolerances."""
    pairs = load_pairs("global8")
    store = PairStore(tmp_path, height=48, width=64, key="global8")
    store.write(pairs)
    result = global_align(store.load(pairs.edges.numpy(), with_flow=True),
                          replace(PRESETS["demo"][0], niter=100))
    golden = np.load(ALIGN_DATA / "global8_demo_flow.npz")
    median, p99 = depth_rel(result.depths.numpy(), golden["depths"])
    assert median <= 2e-3 and p99 <= 1e-2
    c2w = result.c2w.double().numpy()
    assert rotation_error_deg(c2w, golden["poses_c2w"]).max() <= 0.1
    assert translation_rel(c2w, golden["poses_c2w"]) <= 1e-2
    np.testing.assert_allclose(result.focals.numpy(), golden["focals"], rtol=1e-3)
    assert (result.dynamic_masks.numpy() == golden["dynamic_masks"]).mean() >= 0.999
