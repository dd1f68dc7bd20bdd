"""Simulated priors: exact at zero corruption, each corruption as documented, deterministic."""

import dataclasses

import numpy as np
import pytest

from align3r.data.synthetic import PRIOR_PRESETS, PriorConfig, SynthConfig, exact_prior, generate_sequence, simulate_prior
from align3r.data.synthetic.prior import FAR_DEPTH


@pytest.fixture(scope="module")
def truth():
    sequence = generate_sequence(SynthConfig(frames=3, width=64, height=48, seed=11, setting="outdoor",
                                             camera_motion="orbit", priors=()))
    assert (~sequence.valid_masks).any()
    return sequence.depths, sequence.valid_masks, sequence.intrinsics[:, 0, 0]


def test_exact_depth_pro_is_the_ground_truth(truth):
    depth, valid, focal = truth
    prior = simulate_prior(depth, valid, focal, exact_prior("depth-pro"), seed=0)
    assert prior.disparity_affine is None and prior.depth_metric.dtype == np.float32
    np.testing.assert_array_equal(prior.depth_metric[valid], depth[valid])
    np.testing.assert_array_equal(prior.depth_metric[~valid], np.float32(FAR_DEPTH))
    np.testing.assert_array_equal(prior.focal_px, focal)


def test_exact_depth_anything_is_inverse_depth(truth):
    depth, valid, focal = truth
    prior = simulate_prior(depth, valid, focal, exact_prior("depth-anything"), seed=0)
    assert prior.depth_metric is None and prior.focal_px is None
    expected = np.zeros(depth.shape, dtype=np.float32)
    expected[valid] = (1.0 / depth[valid].astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(prior.disparity_affine, expected)


def affine_fit_residual(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    design = np.stack([x, np.ones_like(x)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(scale), float(shift), float(np.abs(design @ [scale, shift] - y).max() / np.abs(y).max())


def test_depth_anything_affine_only_is_an_exact_affine_of_inverse_depth(truth):
    depth, valid, focal = truth
    config = dataclasses.replace(exact_prior("depth-anything"), scale_error=0.3, shift=0.5)
    prior = simulate_prior(depth, valid, focal, config, seed=3)
    scales = []
    for frame in range(len(depth)):
        scale, shift, residual = affine_fit_residual(1.0 / depth[frame][valid[frame]].astype(np.float64),
                                                     prior.disparity_affine[frame][valid[frame]].astype(np.float64))
        assert residual < 1e-6 and shift > 0
        scales.append(scale)
    assert np.ptp(scales) > 1e-3  # a different affine map per frame


def test_depth_pro_scale_and_focal_errors_stay_in_their_bounds(truth):
    depth, valid, focal = truth
    config = dataclasses.replace(exact_prior("depth-pro"), scale_error=0.2, focal_error=0.05)
    prior = simulate_prior(depth, valid, focal, config, seed=4)
    ratio = prior.depth_metric[valid] / depth[valid]
    per_frame = [prior.depth_metric[f][valid[f]] / depth[f][valid[f]] for f in range(len(depth))]
    assert all(np.ptp(r) < 1e-6 for r in per_frame)  # one scale per frame
    assert np.all(np.abs(ratio - 1) <= 0.2 + 1e-6) and np.ptp(ratio) > 1e-3
    assert np.all(np.abs(prior.focal_px / focal - 1) <= 0.05) and not np.allclose(prior.focal_px, focal)


def test_realistic_prior_is_corrupted_but_close(truth):
    depth, valid, focal = truth
    prior = simulate_prior(depth, valid, focal, PriorConfig(style="depth-pro"), seed=5)
    rel = np.abs(prior.depth_metric[valid] / depth[valid] - 1)
    assert np.isfinite(prior.depth_metric).all()
    assert 0.005 < np.median(rel) < 0.3


def test_one_strength_leaves_the_other_draws_unchanged(truth):
    depth, valid, focal = truth
    base = dataclasses.replace(exact_prior("depth-pro"), scale_error=0.1)
    with_noise = dataclasses.replace(base, noise=0.02)
    a = simulate_prior(depth, valid, focal, base, seed=6).depth_metric
    b = simulate_prior(depth, valid, focal, with_noise, seed=6).depth_metric
    ratio = b[valid] / a[valid]
    assert np.all(np.abs(ratio - 1) < 0.2) and np.std(ratio) == pytest.approx(0.02, rel=0.2)


def test_same_seed_same_prior_other_seed_other_prior(truth):
    depth, valid, focal = truth
    config = PRIOR_PRESETS["realistic"][0]
    first = simulate_prior(depth, valid, focal, config, seed=7).stored
    assert first.tobytes() == simulate_prior(depth, valid, focal, config, seed=7).stored.tobytes()
    assert not np.array_equal(first, simulate_prior(depth, valid, focal, config, seed=8).stored)
