"""Noise-free pairs from known geometry give back the true poses, focal and depths (up to scale)."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.align_goldens import ate
from helpers.synthetic_pairs import ROOM_HALF_SIZE, box_depth, trajectory

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align
from align3r.align.oracle import oracle_pairs
from align3r.infer.graph import pair_graph

FOCAL, HEIGHT, WIDTH, FRAMES = 30.0, 24, 32, 8
SCENE_SIZE = 2 * ROOM_HALF_SIZE


def _scene(graph: str):
    c2w = trajectory(FRAMES, seed=0)
    depths = box_depth(c2w, FOCAL, HEIGHT, WIDTH)
    k = torch.tensor([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]], dtype=torch.float64)
    pairs = oracle_pairs(c2w, depths, k.expand(FRAMES, 3, 3), pair_graph(FRAMES, graph), seed=1)
    return c2w.numpy(), depths.numpy(), pairs


def _one_scale_error(depths: np.ndarray, gt_depths: np.ndarray) -> np.ndarray:
    scale = np.median(gt_depths / depths)
    return np.abs(scale * depths / gt_depths - 1)


@pytest.mark.parametrize("preset, graph", [("demo", "swinstride-5-noncyclic"), ("depth_test", "complete")])
def test_initialisation_is_exact_on_exact_pairs(preset, graph):
    """Symmetrised window graph and the non-symmetrised complete graph (PnP focal sweep frame)."""
    c2w, depths, pairs = _scene(graph)
    result = global_align(pairs, replace(PRESETS[preset][0], niter=1, flow_weight=0.0, temporal_weight=0.0))
    assert ate(result.init.c2w.double().numpy(), c2w) < 1e-5 * SCENE_SIZE
    assert _one_scale_error(result.init.depths.numpy(), depths).max() < 1e-5
    np.testing.assert_allclose(result.tree.focals, FOCAL, rtol=1e-5)
    assert float(result.loss_curve[0]) < 1e-5


def test_optimiser_keeps_the_true_scene():
    """Official demo schedule (300 iterations, lr 0.01 -> 1e-3), flow and smoothing off."""
    c2w, depths, pairs = _scene("swinstride-5-noncyclic")
    result = global_align(pairs, replace(PRESETS["demo"][0], flow_weight=0.0, temporal_weight=0.0))
    assert ate(result.c2w.double().numpy(), c2w) < 1e-3 * SCENE_SIZE
    error = _one_scale_error(result.depths.numpy(), depths)
    assert np.median(error) < 1e-3 and error.max() < 5e-3
    np.testing.assert_allclose(result.focals.numpy(), FOCAL, rtol=5e-3)
