"""Scene graphs: official edge order (set order, symmetrisation) against the stored goldens."""

from pathlib import Path

import numpy as np
import pytest

from align3r.errors import Align3rError
from align3r.infer.graph import forward_pairs, pair_graph

ALIGN_DATA = Path(__file__).parents[1] / "goldens" / "align"


def test_swinstride_matches_the_documented_n8_example():
    edges = pair_graph(8, "swinstride-5-noncyclic")
    first_half = [(0, 1), (0, 7), (1, 2), (3, 4), (2, 7), (0, 3), (1, 4), (2, 3), (6, 7), (4, 5),
                  (5, 6), (0, 5), (3, 6), (1, 6), (2, 5), (4, 7)]
    assert edges.dtype == np.int64 and edges.shape == (32, 2)
    assert [tuple(e) for e in edges[:16].tolist()] == first_half
    np.testing.assert_array_equal(edges[16:], edges[:16, ::-1])


def test_global_golden_edges_identical():
    golden = np.load(ALIGN_DATA / "global8_demo_flow.npz")["edges"]
    np.testing.assert_array_equal(pair_graph(8, "swinstride-5-noncyclic"), golden)


@pytest.mark.parametrize("case, keyframes, clip_starts, clip_sizes, stride, symmetrize", [
    ("hier24_demo_flow", [0, 10, 20], [0, 10, 20], [10, 10, 4], 2, True),
    ("hier12_plain", [0, 10], [0, 10], [10, 2], 1, False),
])
def test_hierarchical_golden_edges_identical(case, keyframes, clip_starts, clip_sizes, stride,
                                             symmetrize):
    golden = np.load(ALIGN_DATA / f"{case}.npz")
    ours = [np.asarray(keyframes)[forward_pairs(len(keyframes), symmetrize=symmetrize)]]
    ours += [start + forward_pairs(size, stride=stride, symmetrize=symmetrize)
             for start, size in zip(clip_starts, clip_sizes)]
    np.testing.assert_array_equal(np.concatenate(ours), golden["edges"])
    np.testing.assert_array_equal([len(e) for e in ours], golden["scene_edge_counts"])


def test_complete_is_larger_index_first_and_oneref_ascending():
    assert pair_graph(4, "complete", symmetrize=False).tolist() == [
        [1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]]
    assert pair_graph(4, "oneref-2", symmetrize=False).tolist() == [[2, 0], [2, 1], [2, 3]]
    assert pair_graph(3, "oneref", symmetrize=False).tolist() == [[0, 1], [0, 2]]


@pytest.mark.parametrize("name", ["swin-3", "swinstride-2", "swin2stride-2-noncyclic", "logwin-3",
                                  "logwin-2-noncyclic", "swin"])
def test_window_graphs_hold_each_expected_unordered_pair_once(name):
    n = 9
    kind, window = name.split("-")[0], int(name.split("-")[1]) if name.count("-") else 3
    cyclic = not name.endswith("noncyclic")
    if kind == "logwin":
        offsets = [s * 2**m for m in range(window) for s in (1, -1)]
    else:
        stride = {"swin": 1, "swinstride": 2, "swin2stride": 3}[kind]
        offsets = list(range(1, stride * window + 1, stride))
    expected = {tuple(sorted((i, (i + d) % n if cyclic else i + d)))
                for i in range(n) for d in offsets if cyclic or 0 <= i + d < n}
    edges = pair_graph(n, name, symmetrize=False)
    assert len(edges) == len(expected) and {tuple(e) for e in edges.tolist()} == expected
    assert (edges[:, 0] < edges[:, 1]).all()


def test_forward_pairs_stride_two():
    assert forward_pairs(4, stride=2, symmetrize=False).tolist() == [[0, 1], [0, 3], [1, 2], [2, 3]]


@pytest.mark.parametrize("num_frames, name", [(1, "complete"), (8, "star"), (4, "swin-4"),
                                              (4, "oneref-7")])
def test_bad_graphs_raise_one_line(num_frames, name):
    with pytest.raises(Align3rError, match=name.split("-")[0] if num_frames > 1 else "2 frames"):
        pair_graph(num_frames, name)
