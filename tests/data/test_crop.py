"""Crops and resizes of image, depth, prior map and K together (docs/training.md §4.3)."""

from __future__ import annotations

import numpy as np
import pytest

from align3r.data.crop import (
    CropConfig,
    FrameArrays,
    crop_and_resize,
    crop_intrinsics,
    crop_to_principal_point,
    rescale_intrinsics,
    rescale_to_cover,
)
from align3r.errors import InputError

NO_AUG = CropConfig(aug_f=False, aug_crop=0)


def _frame(width: int = 170, height: int = 96, *, cx: float | None = None, cy: float | None = None,
           focal: float = 120.0) -> FrameArrays:
    """A frame whose RGB is a linear ramp of the pixel coordinates and whose depth is a tilted plane."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([u * 200 / width + 20, v * 200 / height + 20, np.full_like(u, 128)], axis=-1)
    k = np.array([[focal, 0, (width - 1) / 2 if cx is None else cx],
                  [0, focal, (height - 1) / 2 if cy is None else cy], [0, 0, 1]])
    rays = np.stack([(u - k[0, 2]) / focal, (v - k[1, 2]) / focal, np.ones_like(u)], axis=-1)
    depth = 1 / (rays @ PLANE_NORMAL)  # the plane n·X = 1 in the camera frame
    prior = np.random.default_rng(0).uniform(0, 1, size=(height, width, 3))
    return FrameArrays(np.round(rgb).astype(np.uint8), depth.astype(np.float32), prior.astype(np.float32), k)


PLANE_NORMAL = np.array([0.02, -0.03, 0.2])


def _unproject(frame: FrameArrays) -> np.ndarray:
    height, width = frame.depth.shape
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    k = frame.intrinsics
    z = frame.depth.astype(np.float64)
    return np.stack([(u - k[0, 2]) * z / k[0, 0], (v - k[1, 2]) * z / k[1, 1], z], axis=-1)


def test_rescale_intrinsics_maps_pixel_centres() -> None:
    k = np.array([[10.0, 0, 4.5], [0, 10.0, 5.0], [0, 0, 1]])
    out = rescale_intrinsics(k, 0.5, (10, 11), (5, 5))  # 11 x 0.5 = 5.5 floored to 5: half a pixel lost
    np.testing.assert_allclose(out, [[5, 0, 2.0], [0, 5, 2.0], [0, 0, 1]])  # image centres stay centres
    np.testing.assert_allclose(crop_intrinsics(k, 3, 2)[:2, 2], [1.5, 3.0])


def test_principal_point_crop_is_centred_on_the_rounded_principal_point() -> None:
    frame = crop_to_principal_point(_frame(16, 12, cx=7.6, cy=5.4), "f")
    assert frame.size == (16, 10)
    np.testing.assert_allclose(frame.intrinsics[:2, 2], [7.6, 5.4])
    with pytest.raises(InputError, match="principal point"):
        crop_to_principal_point(_frame(16, 12, cx=2.0), "f")


@pytest.mark.parametrize("source", [(170, 96), (682, 384), (96, 96), (160, 120)])
@pytest.mark.parametrize("resolution", [(128, 96), (128, 80), (128, 64), (96, 96)])
def test_output_has_exactly_the_requested_resolution(source: tuple[int, int], resolution: tuple[int, int]) -> None:
    frame = _frame(*source, cx=source[0] / 2 - 0.3)
    for seed in range(3):
        out = crop_and_resize(frame, resolution, np.random.default_rng(seed), CropConfig(aug_crop=4))
        assert out.rgb.shape == (resolution[1], resolution[0], 3)
        assert out.depth.shape == resolution[::-1] and out.prior_pts.shape == (*resolution[::-1], 3)


@pytest.mark.parametrize("config", [NO_AUG, CropConfig(aug_crop=4), CropConfig()])
def test_intrinsics_follow_the_rgb_content(config: CropConfig) -> None:
    """Each output pixel, unprojected with the output K and projected with the input K, lands
    where its RGB value came from (the ramp encodes the input pixel coordinates)."""
    frame = _frame(cx=84.2, cy=47.9)
    for seed in range(4):
        out = crop_and_resize(frame, (128, 80), np.random.default_rng(seed), config)
        pts = _unproject(out)
        u_in = frame.intrinsics[0, 0] * pts[..., 0] / pts[..., 2] + frame.intrinsics[0, 2]
        v_in = frame.intrinsics[1, 1] * pts[..., 1] / pts[..., 2] + frame.intrinsics[1, 2]
        u_rgb = (out.rgb[..., 0].astype(np.float64) - 20) * 170 / 200
        v_rgb = (out.rgb[..., 1].astype(np.float64) - 20) * 96 / 200
        inner = (slice(3, -3), slice(3, -3))  # away from the resampling kernels' borders
        # Up to ~1 px from the two uint8 roundings of the ramp; a K off by half a pixel would bias the mean.
        assert np.abs(u_in - u_rgb)[inner].max() < 1.2 and np.abs(v_in - v_rgb)[inner].max() < 1.2
        assert abs((u_in - u_rgb)[inner].mean()) < 0.1 and abs((v_in - v_rgb)[inner].mean()) < 0.1


def test_unprojected_depth_stays_on_the_plane_and_centred_nearest_is_unbiased() -> None:
    frame = _frame(cx=84.2, cy=47.9)
    residual = {}
    for mode in ("centred", "official"):
        out = crop_and_resize(frame, (128, 64), np.random.default_rng(0), CropConfig(aug_f=False, aug_crop=0,
                                                                                     nearest=mode))
        residual[mode] = _unproject(out) @ PLANE_NORMAL - 1  # 0 for a point on the plane
    # The depth of a source pixel at most half a source pixel (times 170/128) away from the ray.
    assert np.abs(residual["centred"]).max() < 0.01
    assert abs(residual["centred"].mean()) < 2e-4
    assert abs(residual["official"].mean()) > 10 * abs(residual["centred"].mean())  # docs/training.md §11 item 13


def test_depth_and_prior_are_resampled_by_nearest_neighbour() -> None:
    frame = _frame()
    out = crop_and_resize(frame, (128, 64), np.random.default_rng(1), CropConfig())
    assert np.isin(out.prior_pts, frame.prior_pts).all() and np.isin(out.depth, frame.depth).all()
    assert 0 <= out.prior_pts.min() and out.prior_pts.max() <= 1


def test_augmentation_draws_zoom_and_jitter_deterministically() -> None:
    frame = _frame(682, 384, focal=500.0)
    ratios = set()
    for seed in range(20):
        out = crop_and_resize(frame, (512, 288), np.random.default_rng(seed), CropConfig())
        again = crop_and_resize(frame, (512, 288), np.random.default_rng(seed), CropConfig())
        np.testing.assert_array_equal(out.rgb, again.rgb)
        np.testing.assert_array_equal(out.intrinsics, again.intrinsics)
        rng = np.random.default_rng(seed)
        zoom, jitter = float(rng.choice([0.8, 0.9, 1.0])), int(rng.integers(0, 16))
        width, height = int(680 * zoom), int(384 * zoom)  # the principal-point crop keeps 680 x 384
        expected = max((512 + jitter) / width, (288 + jitter) / height) + 1e-8  # f_final / f (docs/training.md §4.3)
        assert out.intrinsics[0, 0] == pytest.approx(500 * expected, rel=1e-9)
        ratios.add(round(out.intrinsics[0, 0] / 500, 3))
    assert len(ratios) > 8 and 0.74 < min(ratios) and max(ratios) < 1.3


def test_no_augmentation_is_a_plain_cover_resize_and_centre_crop() -> None:
    frame = _frame()  # principal point (84.5, 47.5) rounds to (84, 48): the crop keeps 168 x 96
    out = crop_and_resize(frame, (96, 96), np.random.default_rng(0), NO_AUG)
    np.testing.assert_array_equal(out.rgb, frame.rgb[:, 36:132])
    np.testing.assert_allclose(out.intrinsics[:2, 2], [84.5 - 36, 47.5])
    assert rescale_to_cover(frame, (96, 96), "centred").size == (170, 96)


def test_portrait_frames_are_rejected() -> None:
    with pytest.raises(InputError, match="portrait"):
        crop_and_resize(_frame(96, 170), (128, 96), np.random.default_rng(0), NO_AUG, label="x.png")
