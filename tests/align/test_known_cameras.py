"""Known poses, focals and motion masks in the aligner: fixed ones come back unchanged and set the
scale, initial ones improve the result, user masks replace the self-derived ones."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.align_goldens import ALIGN_DATA, ate, load_pairs
from helpers.synthetic_pairs import box_depth, trajectory

from align3r.align.config import PRESETS, HierarchyConfig
from align3r.align.global_align import global_align
from align3r.align.hierarchical import hierarchical_align
from align3r.align.known_cameras import KnownCameras
from align3r.align.oracle import oracle_pairs
from align3r.infer.graph import pair_graph

NOFLOW = replace(PRESETS["demo"][0], niter=100, flow_weight=0.0)


@pytest.fixture(scope="module")
def global8():
    """8 frames of 1 %-noise pairs with a random scale per edge and a moving sphere, and the truth."""
    gt = np.load(ALIGN_DATA / "global8_gt.npz")
    return load_pairs("global8"), gt


def _known(gt, **kwargs) -> KnownCameras:
    frames = len(gt["poses_c2w"])
    return KnownCameras(c2w=torch.from_numpy(gt["poses_c2w"]),
                        focals=torch.full((frames,), float(gt["focal"]), dtype=torch.float64), **kwargs)


def _errors(result, gt) -> dict[str, float]:
    """ATE (Sim(3)), max focal error, median depth error after one scale and without (absolute)."""
    depths = result.depths.numpy()
    scale = np.median(gt["depths"] / depths)
    return {"ate": ate(result.c2w.double().numpy(), gt["poses_c2w"]),
            "focal": float(np.abs(result.focals.numpy() / gt["focal"] - 1).max()),
            "depth": float(np.median(np.abs(scale * depths / gt["depths"] - 1))),
            "depth_absolute": float(np.median(np.abs(depths / gt["depths"] - 1)))}


def test_placing_the_tree_on_known_poses_is_exact_on_exact_pairs():
    """Exact pairs in random per-edge scales: the initial depths are the true ones, in the poses' scale."""
    c2w = trajectory(8, seed=0)
    depths = box_depth(c2w, 30.0, 24, 32)
    k = torch.tensor([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]], dtype=torch.float64).expand(8, 3, 3)
    pairs = oracle_pairs(c2w, depths, k, pair_graph(8, "swinstride-5-noncyclic"), seed=1)
    known = KnownCameras(c2w=c2w, focals=torch.full((8,), 30.0, dtype=torch.float64))
    result = global_align(pairs, replace(NOFLOW, niter=1, temporal_weight=0.0), known=known)
    np.testing.assert_allclose(result.init.depths.numpy(), depths.numpy(), rtol=1e-5)
    assert float(result.loss_curve[0]) < 1e-5


def test_fixed_poses_and_focals_come_back_unchanged_and_set_the_scale(global8):
    pairs, gt = global8
    result = global_align(pairs, replace(NOFLOW, niter=300), known=_known(gt))
    np.testing.assert_allclose(result.c2w.double().numpy(), gt["poses_c2w"], atol=1e-6)
    np.testing.assert_allclose(result.focals.numpy(), gt["focal"], rtol=1e-6)
    errors = _errors(result, gt)
    assert errors["depth_absolute"] < 1.5e-2  # measured 0.9 %: the scale of the poses, no drift in 300 steps
    assert errors["depth"] < 3e-3


def test_known_poses_as_initialisation_improve_the_result(global8):
    """Same pairs and 100 iterations; measured ATE 1.14e-2 -> 7.4e-3, focal error 1.7e-3 -> 3.9e-4,
    depth error 2.91e-3 -> 2.84e-3, and depths in the poses' scale (0.5 % vs a free scale)."""
    pairs, gt = global8
    free = _errors(global_align(pairs, NOFLOW), gt)
    seeded = global_align(pairs, NOFLOW, known=replace(_known(gt, fixed_poses=False), focals=None))
    assert (seeded.c2w.double() - _known(gt).c2w).abs().max() > 1e-3  # optimised from the known poses
    init = _errors(seeded, gt)
    assert init["ate"] < 0.75 * free["ate"]
    assert init["focal"] < 0.5 * free["focal"]
    assert init["depth"] < free["depth"]
    assert init["depth_absolute"] < 1e-2 < free["depth_absolute"]


def _hierarchical(known: KnownCameras):
    return hierarchical_align(lambda edges: load_pairs("hier24", edges), 24, replace(NOFLOW, niter=50),
                              HierarchyConfig(), known=known)


def test_hierarchical_stitching_does_not_move_fixed_poses():
    """24 frames, keyframes 0, 10, 20: the keyframe scene and every clip keep the known poses."""
    gt = np.load(ALIGN_DATA / "hier24_gt.npz")
    result = _hierarchical(_known(gt))
    np.testing.assert_allclose(result.c2w.double().numpy(), gt["poses_c2w"], atol=1e-6)
    np.testing.assert_allclose(result.key_c2w.double().numpy(), gt["poses_c2w"][result.keyframes], atol=1e-6)
    np.testing.assert_allclose(result.focals.numpy(), gt["focal"], rtol=1e-6)
    assert _errors(result, gt)["depth_absolute"] < 1.5e-2  # measured 0.8 %


def test_hierarchical_known_initial_poses_improve_the_trajectory():
    """Measured ATE 1.85e-2 -> 1.64e-2; depths in the poses' scale (1.1 %) instead of a free one."""
    gt = np.load(ALIGN_DATA / "hier24_gt.npz")
    free = _errors(_hierarchical(KnownCameras()), gt)
    init = _errors(_hierarchical(KnownCameras(c2w=torch.from_numpy(gt["poses_c2w"]), fixed_poses=False)), gt)
    assert init["ate"] < 0.95 * free["ate"]
    assert init["depth_absolute"] < 2e-2 < free["depth_absolute"]


def test_user_masks_are_the_output_and_the_flow_terms_static_mask(global8):
    """Flow on: whatever the flow on masked pixels, the result is the same; off the masks it is not."""
    pairs, gt = global8
    masks = torch.zeros(8, 48, 64, dtype=torch.bool)
    masks[:, 10:30, 20:40] = True
    config = replace(PRESETS["demo"][0], niter=30)
    generator = torch.Generator().manual_seed(0)

    def with_flow(region: torch.Tensor, noise: float):
        """The pairs with random flow added on `region` (N, H, W) of each edge's source frame."""
        flows = []
        for flow, src in ((pairs.flow_ij, pairs.edges[:, 0]), (pairs.flow_ji, pairs.edges[:, 1])):
            extra = noise * torch.randn(flow.shape, generator=generator)
            flows.append(flow + extra * region[src][:, None])
        return replace(pairs, flow_ij=flows[0], flow_ji=flows[1])

    known = KnownCameras(dynamic_masks=masks)
    first = global_align(with_flow(masks, 30.0), config, known=known)
    second = global_align(with_flow(masks, 30.0), config, known=known)
    assert torch.equal(first.dynamic_masks, masks)
    assert torch.equal(first.c2w, second.c2w) and torch.equal(first.depths, second.depths)
    off_masks = global_align(with_flow(~masks, 1.0), config, known=known)
    assert not torch.equal(first.depths, off_masks.depths)
