"""Tests of the per-frame robust alignment of a monocular prior onto align3r's depth."""

import logging

import numpy as np
import pytest

from align3r.pipeline.aligned_prior import PriorAlignConfig, aligned_prior_depth, fit_frame_scale_shift

N, H, W = 4, 40, 48
SCALES = np.array([0.8, 1.3, 2.1, 0.55])
SHIFTS = np.array([0.1, -0.2, 0.35, 0.05])


def _smooth_field(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """(N, H, W) float64 smooth values in [low, high] (a few random sinusoids per frame)."""
    v, u = np.meshgrid(np.linspace(0, 1, H), np.linspace(0, 1, W), indexing="ij")
    phases = rng.uniform(0, 2 * np.pi, size=(N, 3))
    field = sum(np.sin((k + 1) * 3 * u[None] + 2 * v[None] + phases[:, k, None, None]) for k in range(3))
    field = (field - field.min()) / (field.max() - field.min())
    return low + (high - low) * field + 0.05 * rng.uniform(size=(N, H, W)) * (high - low)


def _depth_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Metric-prior depth p and align3r depth s_k p + b_k, (N, H, W) float64 each."""
    prior = _smooth_field(np.random.default_rng(seed), 1.0, 5.0)
    return prior, SCALES[:, None, None] * prior + SHIFTS[:, None, None]


def _disparity_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Affine-invariant disparity q and align3r depth 1 / (s_k q + b_k), (N, H, W) float64 each."""
    prior = _smooth_field(np.random.default_rng(seed), 0.2, 1.0)
    shifts = np.abs(SHIFTS)  # keeps s q + b > 0 for q >= 0.2
    return prior, 1 / (SCALES[:, None, None] * prior + shifts[:, None, None])


def _with_outliers(depth: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """`depth` with `fraction` of its pixels multiplied by a gross factor in [2, 4] or [0.2, 0.4]."""
    rng = np.random.default_rng(seed)
    hit = rng.uniform(size=depth.shape) < fraction
    factor = np.where(rng.uniform(size=depth.shape) < 0.5, rng.uniform(2, 4, depth.shape),
                      rng.uniform(0.2, 0.4, depth.shape))
    return np.where(hit, depth * factor, depth)


def _moving_object(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A block per frame whose depth is halved (a moving object), and the static mask without it."""
    moved = depth.copy()
    static = np.ones(depth.shape, dtype=bool)
    for k in range(N):
        rows, cols = slice(5 + 3 * k, 20 + 3 * k), slice(10, 30)
        moved[k, rows, cols] *= 0.5
        static[k, rows, cols] = False
    return moved, static


@pytest.mark.parametrize("loss", ["huber", "lad", "lstsq"])
def test_depth_space_recovers_known_scale_and_shift(loss: str) -> None:
    prior, depth = _depth_case()
    fit = fit_frame_scale_shift(prior, depth, np.ones(depth.shape, bool), space="depth",
                                config=PriorAlignConfig(loss=loss))
    np.testing.assert_allclose(fit.scale, SCALES, rtol=1e-6)
    np.testing.assert_allclose(fit.shift, SHIFTS, atol=1e-6)
    np.testing.assert_array_less(fit.residual, 1e-6)
    assert not fit.fallback.any() and fit.reasons == (None,) * N
    assert (fit.pixels == H * W).all()


@pytest.mark.parametrize("loss", ["huber", "lad"])
def test_disparity_space_recovers_known_scale_and_shift(loss: str) -> None:
    prior, depth = _disparity_case()
    fit = fit_frame_scale_shift(prior, depth, np.ones(depth.shape, bool), space="disparity",
                                config=PriorAlignConfig(loss=loss))
    np.testing.assert_allclose(fit.scale, SCALES, rtol=1e-6)
    np.testing.assert_allclose(fit.shift, np.abs(SHIFTS), atol=1e-6)


def test_masked_moving_objects_do_not_move_the_fit() -> None:
    prior, depth = _disparity_case()
    moved, static = _moving_object(depth)
    fit = fit_frame_scale_shift(prior, moved, static, space="disparity", config=PriorAlignConfig(loss="lstsq"))
    np.testing.assert_allclose(fit.scale, SCALES, rtol=1e-6)
    aligned = aligned_prior_depth(prior.astype(np.float32), "disparity_affine", moved, static)
    # The prior's own depth everywhere, the moving block included (float32 prior and output).
    np.testing.assert_allclose(aligned.depths, depth, rtol=1e-5)
    assert aligned.depths.dtype == np.float32 and (aligned.replaced == 0).all()


@pytest.mark.parametrize("space", ["depth", "disparity"])
@pytest.mark.parametrize("loss", ["huber", "lad"])
def test_gross_outliers_do_not_move_the_robust_fit(space: str, loss: str) -> None:
    prior, depth = _depth_case() if space == "depth" else _disparity_case()
    noisy = _with_outliers(depth, 0.1, seed=1)
    mask = np.ones(depth.shape, bool)
    fit = fit_frame_scale_shift(prior, noisy, mask, space=space, config=PriorAlignConfig(loss=loss))
    plain = fit_frame_scale_shift(prior, noisy, mask, space=space, config=PriorAlignConfig(loss="lstsq"))
    np.testing.assert_allclose(fit.scale, SCALES, rtol=1e-6)
    np.testing.assert_allclose(fit.shift, SHIFTS if space == "depth" else np.abs(SHIFTS), atol=1e-6)
    assert np.abs(plain.scale / SCALES - 1).max() > 1e-2  # least squares is moved: the case has teeth


def test_confidence_weights_enter_the_fit() -> None:
    prior, depth = _depth_case()
    noisy = _with_outliers(depth, 0.1, seed=2)
    weights = np.where(noisy == depth, 3.0, 0.0)
    fit = fit_frame_scale_shift(prior, noisy, np.ones(depth.shape, bool), space="depth", weights=weights,
                                config=PriorAlignConfig(loss="lstsq"))
    np.testing.assert_allclose(fit.scale, SCALES, rtol=1e-9)


def test_ill_posed_frames_fall_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    prior, depth = _depth_case()
    align3r_depth = depth.copy()
    align3r_depth[2] = 10 - 0.5 * prior[2]  # depth decreasing with the prior: negative scale
    mask = np.ones(depth.shape, bool)
    mask[1] = False
    mask[1, :5, :10] = True  # 50 pixels < 100
    with caplog.at_level(logging.WARNING, logger="align3r.pipeline.aligned_prior"):
        aligned = aligned_prior_depth(prior, "depth_metric", align3r_depth, mask)
    assert aligned.reasons == (None, "too_few_pixels", "bad_scale", None)
    np.testing.assert_array_equal(aligned.fallback, [False, True, True, False])
    assert aligned.scale[2] < 0 and aligned.pixels[1] == 50
    np.testing.assert_array_equal(aligned.depths[1:3], align3r_depth[1:3].astype(np.float32))
    np.testing.assert_allclose(aligned.depths[[0, 3]], depth[[0, 3]], rtol=1e-6)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "1 (too_few_pixels)" in record.getMessage() and "2 (bad_scale)" in record.getMessage()


def test_a_collapsed_scale_is_an_outlier_and_falls_back() -> None:
    prior, depth = _depth_case()
    flat = depth.copy()
    flat[0] = 2.0 + 1e-4 * prior[0]  # a flat depth: s near 0, b near 2 fits it exactly
    aligned = aligned_prior_depth(prior, "depth_metric", flat, np.ones(depth.shape, bool))
    assert aligned.reasons == ("scale_outlier", None, None, None) and 0 < aligned.scale[0] < 1e-3
    np.testing.assert_array_equal(aligned.depths[0], flat[0].astype(np.float32))
    lenient = aligned_prior_depth(prior, "depth_metric", flat, np.ones(depth.shape, bool),
                                  config=PriorAlignConfig(max_scale_ratio=1e5))
    assert not lenient.fallback.any()


def test_mostly_non_positive_disparity_falls_back() -> None:
    prior = np.broadcast_to(np.linspace(0, 1, W), (N, H, W)).copy()
    mask = prior > 0.8  # fitted where 3 q - 2 > 0, which is not positive on 2/3 of the frame
    depth = np.where(mask, 1 / np.maximum(3 * prior - 2, 1e-3), 1.0)
    aligned = aligned_prior_depth(prior, "disparity_affine", depth, mask)
    assert aligned.reasons == ("non_positive",) * N
    np.testing.assert_array_equal(aligned.depths, depth.astype(np.float32))


def test_a_few_non_positive_disparities_take_align3r_depth() -> None:
    prior, depth = _disparity_case()
    prior[:, 0, :3] = -1.0  # s q + b < 0 at 3 pixels per frame, left out of the fit by the mask
    mask = prior > 0
    aligned = aligned_prior_depth(prior, "disparity_affine", depth, mask)
    assert not aligned.fallback.any()
    np.testing.assert_array_equal(aligned.replaced, [3] * N)
    np.testing.assert_array_equal(aligned.depths[:, 0, :3], depth[:, 0, :3].astype(np.float32))


def test_errors_name_the_argument() -> None:
    prior, depth = _depth_case()
    with pytest.raises(ValueError, match="mask"):
        fit_frame_scale_shift(prior, depth, np.ones((N, H, W + 1), bool), space="depth")
    with pytest.raises(ValueError, match="space"):
        fit_frame_scale_shift(prior, depth, np.ones(depth.shape, bool), space="inverse")
    with pytest.raises(ValueError, match="kind"):
        aligned_prior_depth(prior, "depth_relative", depth, np.ones(depth.shape, bool))
    with pytest.raises(ValueError, match="loss"):
        PriorAlignConfig(loss="l2")
