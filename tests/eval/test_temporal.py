"""Tests of the temporal alignment error on closed-form videos."""

import logging

import numpy as np
import pytest

from align3r.eval.metrics import fit_sequence_alignment
from align3r.eval.temporal import aligned_temporal_alignment_error, temporal_alignment_error

H, W, FOCAL = 32, 40, 50.0
ROT_Z_180 = np.diag([-1.0, -1.0, 1.0])


def _intrinsics(n: int) -> np.ndarray:
    """(n, 3, 3) K with the principal point ((W - 1) / 2, (H - 1) / 2)."""
    k = np.array([[FOCAL, 0, (W - 1) / 2], [0, FOCAL, (H - 1) / 2], [0, 0, 1]])
    return np.repeat(k[None], n, axis=0)


def _c2w(rot: np.ndarray, centre: np.ndarray) -> np.ndarray:
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rot, centre
    return c2w


def _render_plane(poses_c2w: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """(N, H, W) z-depth of the world plane normal . x = offset seen by each camera."""
    v, u = np.meshgrid(np.arange(H, dtype=float), np.arange(W, dtype=float), indexing="ij")
    k = _intrinsics(1)[0]
    rays_in_cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], axis=-1)
    rays_in_world = np.einsum("nij,hwj->nhwi", poses_c2w[:, :3, :3], rays_in_cam)  # z = 1 in the camera
    return (offset - poses_c2w[:, :3, 3] @ normal)[:, None, None] / (rays_in_world @ normal)


def _plane_video() -> tuple[np.ndarray, np.ndarray]:
    """Exact depth (4, H, W) and c2w (4, 4, 4) of a tilted floor seen by a camera that slides along
    world x and turns 180 degrees about its optical axis: depth varies along rows only and rows map
    to whole rows, so nearest rounding of the columns loses nothing."""
    rots = [np.eye(3), ROT_Z_180, ROT_Z_180, np.eye(3)]
    centres = [np.array([x, 0.0, 0.0]) for x in (0.0, 0.1, 0.25, 0.3)]
    poses = np.stack([_c2w(r, c) for r, c in zip(rots, centres)])
    return _render_plane(poses, np.array([0.0, -0.3, 1.0]), 4.0), poses


def _flicker_video(scales: list[float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """pred_k = c_k gt of a static random scene under a static (non-identity) camera."""
    gt = np.random.default_rng(seed).uniform(1.0, 5.0, size=(H, W))
    pose = _c2w(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
    return np.stack([c * gt for c in scales]), np.repeat(pose[None], len(scales), axis=0)


def test_exact_depth_under_a_moving_camera_gives_zero() -> None:
    depths, poses = _plane_video()
    assert (depths > 0).all() and np.ptp(depths[0]) > 0.5  # a non-trivial scene
    result = temporal_alignment_error(depths, poses, _intrinsics(4))
    assert result.tae < 1e-12
    assert (result.pixels > H * W // 2).all()  # most points stay in view
    assert result.forward.shape == result.backward.shape == (3,)


def test_per_frame_scale_flicker_has_its_closed_form() -> None:
    # Static camera: pixel (u, v) of frame k lands on (u, v) of frame k+1 with z = c_k gt, so the
    # forward term is |c_{k+1} - c_k| / c_{k+1} and the backward one |c_k - c_{k+1}| / c_k.
    scales = [1.0, 2.0, 1.5, 3.0, 2.5]
    depths, poses = _flicker_video(scales)
    result = temporal_alignment_error(depths, poses, _intrinsics(len(scales)))
    c = np.array(scales)
    forward, backward = np.abs(c[1:] - c[:-1]) / c[1:], np.abs(c[:-1] - c[1:]) / c[:-1]
    np.testing.assert_allclose(result.forward, forward, rtol=1e-12)
    np.testing.assert_allclose(result.backward, backward, rtol=1e-12)
    assert result.tae == pytest.approx((forward.sum() + backward.sum()) / (2 * (len(c) - 1)), rel=1e-12)
    assert (result.pixels == H * W).all()
    scaled = temporal_alignment_error(7 * depths, poses, _intrinsics(len(scales)))
    assert scaled.tae == pytest.approx(result.tae, rel=1e-12)  # Abs Rel is scale invariant


def test_both_directions_are_averaged() -> None:
    depths, poses = _flicker_video([1.0, 2.0])
    result = temporal_alignment_error(depths, poses, _intrinsics(2))
    assert result.forward[0] == pytest.approx(0.5)  # |2 - 1| / 2
    assert result.backward[0] == pytest.approx(1.0)  # |1 - 2| / 1
    assert result.tae == pytest.approx(0.75)


def test_occluded_points_do_not_count() -> None:
    # A near strip (z = 1) before a far wall (z = 10); the camera slides 0.2 along x, so the strip
    # moves 10 pixels and the wall 1: wall points splatted under the strip lose to the strip's.
    frame_a = np.full((H, W), 10.0)
    frame_a[:, 15:25] = 1.0
    frame_b = np.full((H, W), 10.0)
    frame_b[:, 5:15] = 1.0
    poses = np.stack([np.eye(4), _c2w(np.eye(3), np.array([0.2, 0.0, 0.0]))])
    result = temporal_alignment_error(np.stack([frame_a, frame_b]), poses, _intrinsics(2))
    assert result.tae < 1e-12
    assert 0 < result.pixels.min() < H * W  # disoccluded and out-of-view pixels are not compared


def test_valid_masks_source_and_target() -> None:
    depths, poses = _flicker_video([1.0, 1.0, 1.0])
    depths[1, :10] = 100.0  # garbage where frame 1 is not valid
    valid = np.ones(depths.shape, bool)
    valid[1, :10] = False
    result = temporal_alignment_error(depths, poses, _intrinsics(3), valid=valid)
    assert result.tae < 1e-12
    np.testing.assert_array_equal(result.pixels, [[H * W - 10 * W] * 2] * 2)
    assert temporal_alignment_error(depths, poses, _intrinsics(3)).tae > 1


def test_a_direction_without_pixels_counts_as_zero(caplog: pytest.LogCaptureFixture) -> None:
    depths, poses = _flicker_video([1.0, 2.0, 1.0])
    valid = np.ones(depths.shape, bool)
    valid[2] = False
    with caplog.at_level(logging.WARNING, logger="align3r.eval.temporal"):
        result = temporal_alignment_error(depths, poses, _intrinsics(3), valid=valid)
    np.testing.assert_array_equal(result.pixels[1], [0, 0])
    assert result.tae == pytest.approx((0.5 + 1.0) / 4)  # the pair 1-2 adds 0 twice
    assert "1->2, 2->1" in caplog.text


def test_rigid_change_of_world_frame_leaves_tae_unchanged() -> None:
    rng = np.random.default_rng(3)
    depths = rng.uniform(2.0, 6.0, size=(3, H, W))
    angles = rng.uniform(-0.05, 0.05, size=3)
    poses = np.stack([_c2w(np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]),
                           rng.normal(scale=0.05, size=3)) for a in angles])
    world_change = _c2w(ROT_Z_180 @ np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]), np.array([5.0, -1.0, 2.0]))
    result = temporal_alignment_error(depths, poses, _intrinsics(3))
    moved = temporal_alignment_error(depths, world_change @ poses, _intrinsics(3))
    assert moved.tae == pytest.approx(result.tae, rel=1e-9)
    assert result.tae > 0.01


def test_aligned_tae_aligns_the_video_first() -> None:
    gt, poses = _plane_video()
    pred = 2.5 * gt + 0.3
    lstsq = fit_sequence_alignment(pred, gt, align="lstsq")
    result = aligned_temporal_alignment_error(pred, poses, _intrinsics(4), lstsq)
    assert result.scale == pytest.approx(0.4, rel=1e-5)
    assert result.shift == pytest.approx(-0.12, abs=1e-5)
    assert result.tae < 1e-5
    lad = fit_sequence_alignment(pred, gt)  # LAD (BFGS)
    assert aligned_temporal_alignment_error(pred, poses, _intrinsics(4), lad).tae < 1e-3


def test_errors_name_the_argument() -> None:
    depths, poses = _flicker_video([1.0, 2.0])
    with pytest.raises(ValueError, match="poses_c2w"):
        temporal_alignment_error(depths, poses[:1], _intrinsics(2))
    with pytest.raises(ValueError, match="intrinsics"):
        temporal_alignment_error(depths, poses, _intrinsics(3))
    with pytest.raises(ValueError, match="valid"):
        temporal_alignment_error(depths, poses, _intrinsics(2), valid=np.ones((2, H, W + 1), bool))
    with pytest.raises(ValueError, match="depths"):
        temporal_alignment_error(depths[:1], poses[:1], _intrinsics(1))
    with pytest.raises(ValueError, match="pred"):
        fit_sequence_alignment(depths[:, :-1], depths)
    with pytest.raises(ValueError, match="valid"):
        aligned_temporal_alignment_error(depths[:, :-1], poses, _intrinsics(2), fit_sequence_alignment(depths, depths))
