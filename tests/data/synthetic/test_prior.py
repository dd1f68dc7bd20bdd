"""Simulated priors: exact at zero corruption, each corruption as documented, deterministic."""

import dataclasses
import zlib

import numpy as np
import pytest
from scipy import ndimage

from align3r.data.synthetic import (
    PRIOR_PRESETS,
    PriorConfig,
    SynthConfig,
    exact_prior,
    generate_sequence,
    simulate_prior,
)
from align3r.data.synthetic.prior import (
    FAR_DEPTH,
    PRIOR_STYLES,
    VIDEO_STREAM,
    calibrated_prior,
    compress_far,
    depth_edges,
    mean_reverting_walk,
    video_factors,
)
from align3r.errors import InputError


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


# Video corruptions: each one alone, measured against its closed form.

def toy_scene(frames: int = 3, height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A wall at 5 m under open sky (rows < 8), a wide box at 2 m and a 2-pixel bar at 1.5 m."""
    depth = np.full((frames, height, width), 5.0, dtype=np.float32)
    depth[:, :8] = 0.0
    depth[:, 20:36, 10:30] = 2.0
    depth[:, 10:40, 45:47] = 1.5
    return depth, depth > 0, np.full(frames, 60.0)


def video_draws(config: PriorConfig, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-frame log scale and shift `simulate_prior` draws for (config, seed)."""
    rng = np.random.default_rng([seed, zlib.crc32(config.style.encode()), VIDEO_STREAM])
    return video_factors(rng, config, frames)


def test_mild_and_exact_presets_keep_their_values_and_have_no_video_corruption():
    mild = {"scale_error": 0.1, "shift": 0.2, "warp": 0.05, "blur_px": 1.0, "noise": 0.01, "focal_error": 0.03}
    for preset, frame_values in (("realistic", mild), ("exact", dict.fromkeys(mild, 0.0))):
        assert [c.style for c in PRIOR_PRESETS[preset]] == ["depth-anything", "depth-pro"]
        for config in PRIOR_PRESETS[preset]:
            assert {k: getattr(config, k) for k in mild} == frame_values
            assert (config.drift, config.flicker, config.shift_drift, config.shift_flicker, config.warp_static,
                    config.edge_bleed, config.far_gamma) == (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("style", PRIOR_STYLES)
def test_the_video_shapes_are_inert_while_their_strengths_are_zero(truth, style):
    depth, valid, focal = truth
    mild = PriorConfig(style=style)
    reshaped = dataclasses.replace(mild, drift_frames=2.0, edge_radius=0.3, edge_jump=0.01, far_knee=0.5)
    a, b = (simulate_prior(depth, valid, focal, c, seed=9) for c in (mild, reshaped))
    assert a.stored.tobytes() == b.stored.tobytes()


def test_mean_reverting_walk_known_answer_and_stationary_spread():
    ratio = np.exp(-1.0 / 4.0)
    np.testing.assert_allclose(mean_reverting_walk(np.array([1.0, 0.0, 0.0]), 4.0), [1.0, ratio, ratio ** 2])
    walk = mean_reverting_walk(np.random.default_rng(0).normal(size=(20000, 40)), 4.0)
    np.testing.assert_allclose(walk.var(axis=0), 1.0, atol=0.05)  # the same spread at every frame
    lag1 = np.mean(walk[:, 1:] * walk[:, :-1])
    assert lag1 == pytest.approx(ratio, abs=0.02)


def test_depth_pro_drift_and_flicker_scale_depth_and_focal_by_the_drawn_factor():
    depth, valid, focal = toy_scene(frames=6)
    config = dataclasses.replace(exact_prior("depth-pro"), drift=0.05, flicker=0.02)
    prior = simulate_prior(depth, valid, focal, config, seed=12)
    log_scale, _ = video_draws(config, 6, 12)
    assert np.ptp(log_scale) > 0.01
    for frame in range(6):
        ratio = prior.depth_metric[frame][valid[frame]] / depth[frame][valid[frame]]
        np.testing.assert_allclose(ratio, np.exp(log_scale[frame]), rtol=1e-6)
    np.testing.assert_allclose(prior.focal_px, focal * np.exp(log_scale), rtol=1e-12)


def test_depth_anything_drift_is_a_per_frame_affine_map_of_disparity_with_the_drawn_scale_and_shift():
    depth, valid, focal = toy_scene(frames=5)
    config = dataclasses.replace(exact_prior("depth-anything"), drift=0.05, flicker=0.02, shift_drift=0.1,
                                 shift_flicker=0.05)
    prior = simulate_prior(depth, valid, focal, config, seed=13)
    log_scale, shift = video_draws(config, 5, 13)
    median = np.median(1.0 / depth[valid].astype(np.float64))
    for frame in range(5):
        inverse = 1.0 / depth[frame][valid[frame]].astype(np.float64)
        stored = prior.disparity_affine[frame][valid[frame]].astype(np.float64)
        scale, offset, residual = affine_fit_residual(inverse, stored)
        assert residual < 1e-6
        assert scale == pytest.approx(np.exp(log_scale[frame]), rel=1e-5)
        assert offset == pytest.approx(shift[frame] * median, abs=1e-6)


def test_static_warp_is_one_smooth_field_shared_by_all_frames():
    depth, valid, focal = toy_scene(frames=4)
    prior = simulate_prior(depth, valid, focal, dataclasses.replace(exact_prior("depth-pro"), warp_static=0.1), seed=14)
    ratio = np.where(valid, prior.depth_metric / np.where(valid, depth, 1.0), np.nan)
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-6)
    assert 0.02 < np.nanstd(np.log(ratio[0])) < 0.1


def test_depth_edges_mark_both_sides_of_a_jump_and_of_the_sky_line():
    depth, valid, _ = toy_scene(frames=1)
    edges = depth_edges(depth, valid, 0.1)[0]
    assert edges[7:9, 0].all() and not edges[6, 0] and not edges[9, 0]  # sky line: rows 7 and 8
    assert edges[25, 9:11].all() and edges[25, 29:31].all() and not edges[25, 8] and not edges[25, 11]
    assert not edges[25, 20] and not edges[45, 5]  # inside the box, on the plain wall
    assert not depth_edges(depth, valid, 2.0)[0][25, 9:11].any()  # 2.5x is not a 3x jump


def test_bleeding_changes_only_pixels_within_the_radius_of_an_edge():
    depth, valid, focal = toy_scene(frames=2)
    config = dataclasses.replace(exact_prior("depth-anything"), edge_bleed=1.0, edge_radius=4.0 / 64)
    prior = simulate_prior(depth, valid, focal, config, seed=15)
    exact = simulate_prior(depth, valid, focal, exact_prior("depth-anything"), seed=15).disparity_affine
    edges = depth_edges(depth, valid, config.edge_jump)
    distance = np.stack([ndimage.distance_transform_edt(~e) for e in edges])
    changed = prior.disparity_affine != exact
    assert not changed[distance >= 4.0].any()
    assert changed[distance < 4.0].mean() > 0.8


def test_bleeding_wipes_out_a_structure_thinner_than_its_reach():
    depth, valid, focal = toy_scene(frames=1)
    config = dataclasses.replace(exact_prior("depth-pro"), edge_bleed=1.0, edge_radius=4.0 / 64)
    prior = simulate_prior(depth, valid, focal, config, seed=16).depth_metric[0]
    bar_error = np.abs(prior[25, 45:47] / 1.5 - 1)
    assert bar_error.min() > 0.3  # the 2-pixel bar mostly takes the wall's depth
    assert prior[28, 20] == pytest.approx(2.0, rel=1e-6)  # the wide box's centre keeps its own


def test_far_field_is_compressed_beyond_the_knee_and_exact_before_it():
    depth = np.geomspace(1.0, 100.0, 3 * 8 * 8).reshape(3, 8, 8)
    valid = np.ones(depth.shape, dtype=bool)
    compressed = compress_far(depth, valid, 2.0, 0.5)
    knee = 2.0 * np.median(depth)
    near = depth <= knee
    np.testing.assert_array_equal(compressed[near], depth[near])
    np.testing.assert_allclose(np.log(compressed[~near] / knee), 0.5 * np.log(depth[~near] / knee), rtol=1e-12)
    config = dataclasses.replace(exact_prior("depth-pro"), far_knee=2.0, far_gamma=0.5)
    prior = simulate_prior(depth, valid, np.full(3, 50.0), config, seed=17)
    np.testing.assert_allclose(prior.depth_metric, compressed, rtol=1e-6)


@pytest.mark.parametrize("style", PRIOR_STYLES)
def test_calibrated_prior_is_deterministic_finite_and_corrupted(truth, style):
    depth, valid, focal = truth
    config = calibrated_prior(style)
    assert PRIOR_PRESETS["calibrated"][PRIOR_STYLES.index(style)] == config
    first = simulate_prior(depth, valid, focal, config, seed=18).stored
    assert first.tobytes() == simulate_prior(depth, valid, focal, config, seed=18).stored.tobytes()
    assert not np.array_equal(first, simulate_prior(depth, valid, focal, config, seed=19).stored)
    assert np.isfinite(first).all()


@pytest.mark.parametrize("field, value", [("edge_bleed", 1.5), ("edge_radius", 0.0), ("drift_frames", -1.0),
                                          ("far_gamma", 0.0)])
def test_out_of_range_video_strengths_are_refused(field, value):
    with pytest.raises(InputError, match=field):
        dataclasses.replace(exact_prior("depth-pro"), **{field: value})
