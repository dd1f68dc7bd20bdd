"""The official optimiser's global cases (tests/goldens/align/global8_*) reproduced within tolerance."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.align_goldens import (
    ALIGN_DATA,
    ate,
    check_initial_state,
    check_loss_curve,
    depth_rel,
    load_pairs,
    rotation_error_deg,
    translation_rel,
)

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align

CASES = {  # case -> preset, flow on, final-state tolerances (README "Tolerances", item 4)
    "global8_demo_noflow": ("demo", False, dict(depth=(2e-3, 1e-2), rot=0.1, trans=1e-2, focal=1e-3)),
    "global8_demo_flow": ("demo", True, dict(depth=(2e-3, 1e-2), rot=0.1, trans=1e-2, focal=1e-3)),
    "global8_plain": ("depth_test", False, dict(depth=(5e-3, 5e-2), rot=2.0, trans=5e-2, focal=1e-2)),
}


@pytest.fixture(scope="module", params=list(CASES))
def aligned(request):
    """(case, our result, golden) with one thread, like the golden run."""
    case = request.param
    preset, flow, _ = CASES[case]
    config = replace(PRESETS[preset][0], niter=100, **({} if flow else {"flow_weight": 0.0}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = global_align(load_pairs("global8"), config)
    finally:
        torch.set_num_threads(threads)
    return case, result, dict(np.load(ALIGN_DATA / f"{case}.npz"))


def test_initial_state_matches(aligned):
    _, result, golden = aligned
    extent = np.ptp(golden["poses_c2w"][:, :3, 3], axis=0).max()
    check_initial_state(result, golden, 0, extent)


def test_loss_curve_matches(aligned):
    case, result, golden = aligned
    check_loss_curve(result.loss_curve.numpy(), golden["loss_curves"][0],
                     2e-1 if "plain" in case else 5e-2)


def test_final_state_matches(aligned):
    case, result, golden = aligned
    tol = CASES[case][2]
    median, p99 = depth_rel(result.depths.numpy(), golden["depths"])
    assert median <= tol["depth"][0] and p99 <= tol["depth"][1]
    c2w = result.c2w.double().numpy()
    assert rotation_error_deg(c2w, golden["poses_c2w"]).max() <= tol["rot"]
    assert translation_rel(c2w, golden["poses_c2w"]) <= tol["trans"]
    np.testing.assert_allclose(result.focals.numpy(), golden["focals"], rtol=tol["focal"])
    np.testing.assert_allclose(result.pts3d_world().numpy(), golden["pts3d"], rtol=tol["depth"][1], atol=1e-3)
    np.testing.assert_allclose(result.conf.numpy(), golden["conf"], rtol=1e-6)
    if "dynamic_masks" in golden:
        assert (result.dynamic_masks.numpy() == golden["dynamic_masks"]).mean() >= 0.999


def test_no_worse_than_official_against_ground_truth(aligned):
    case, result, golden = aligned
    gt = np.load(ALIGN_DATA / "global8_gt.npz")
    assert ate(result.c2w.double().numpy(), gt["poses_c2w"]) <= 1.1 * ate(golden["poses_c2w"], gt["poses_c2w"])
