"""Inference preprocessing: the official golden, the resize/crop geometry, maps, intrinsics."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from align3r.errors import InputError
from align3r.infer.preprocess import (
    frame_transform,
    normalize_rgb,
    prepare_view,
    prepare_views,
    resize_map,
    resize_rgb,
    restore_map,
    transform_intrinsics,
)

IMG_TOL = 1 / 127.5 + 1e-6
PTS_TOL = 1e-4


GOLDEN = Path(__file__).parents[1] / "goldens" / "infer" / "rubberwhale1.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as archive:
        return dict(archive)


@pytest.mark.parametrize("mode", ["crop", "resize"])
def test_reproduces_the_official_golden(golden, mode):
    out = prepare_view(golden["image"], golden["prior_depth"], 512, crop=mode == "crop")
    for style in ("depthpro", "depthanything"):  # focal (golden's vs 200) cancels: one map serves both
        prefix = f"{style}_{mode}_"
        assert out["img"].dtype == torch.float32 and out["pred_depth"].dtype == torch.float32
        assert out["true_shape"].dtype == torch.int32
        np.testing.assert_array_equal(out["true_shape"].numpy(), golden[prefix + "true_shape"])
        np.testing.assert_allclose(out["img"].numpy(), golden[prefix + "img"], rtol=0, atol=IMG_TOL)
        np.testing.assert_allclose(out["pred_depth"].numpy(), golden[prefix + "pred_depth"], rtol=0, atol=PTS_TOL)


@pytest.mark.parametrize("size_wh, resized_wh, box, out_wh", [
    ((1024, 436), (512, 218), (5, 0, 208, 512), (512, 208)),  # docs/method.md §10.3 examples
    ((854, 480), (512, 288), (0, 0, 288, 512), (512, 288)),
    ((640, 480), (512, 384), (0, 0, 384, 512), (512, 384)),
    ((584, 388), (512, 340), (2, 0, 336, 512), (512, 336)),
    ((300, 600), (256, 512), (0, 0, 512, 256), (256, 512)),  # portrait stays portrait
    ((512, 512), (512, 512), (64, 0, 384, 512), (512, 384)),  # square -> 4:3, as the official intends
    ((200, 200), (512, 512), (64, 0, 384, 512), (512, 384)),
])
def test_crop_geometry(size_wh, resized_wh, box, out_wh):
    t = frame_transform(size_wh[1], size_wh[0])
    assert t.resized_size == resized_wh[::-1] and t.crop_box == box and t.output_size == out_wh[::-1]


def test_square_ok_keeps_the_square_and_resize_mode_keeps_the_whole_frame():
    assert frame_transform(700, 700, square_ok=True).output_size == (512, 512)
    t = frame_transform(436, 1024, crop=False)
    assert t.crop_box == (0, 0, 218, 512) and t.output_size == (208, 512)


def test_224_mode_resizes_the_short_side_and_crops_a_square():
    t = frame_transform(480, 640, size=224)
    assert t.resized_size == (224, 299) and t.crop_box == (0, 37, 224, 224) and t.output_size == (224, 224)


def test_square_frame_with_prior_does_not_crash():
    image = np.random.default_rng(0).integers(0, 256, size=(300, 300, 3), dtype=np.uint8)
    depth = np.linspace(1, 2, 300 * 300).reshape(300, 300)
    for crop in (True, False):
        out = prepare_view(image, depth, 512, crop)
        assert out["img"].shape == (1, 3, 384, 512) and out["pred_depth"].shape == (1, 384, 512, 3)


def test_bad_inputs():
    with pytest.raises(InputError, match="no 16-pixel block"):
        frame_transform(20, 2000)
    with pytest.raises(InputError, match="resolution"):
        prepare_view(np.zeros((32, 48, 3), np.uint8), np.ones((16, 24)))
    with pytest.raises(ValueError, match="images"):
        prepare_views(np.zeros((32, 48, 3), np.float32), np.ones((32, 48)))


def test_batched_form_equals_per_frame():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(3, 60, 90, 3), dtype=np.uint8)
    depths = rng.uniform(1, 5, size=(3, 60, 90))
    batch = prepare_views(images, depths, size=64, crop=False)
    for i in range(3):
        one = prepare_view(images[i], depths[i], 64, False)
        for key in ("img", "pred_depth", "true_shape"):
            torch.testing.assert_close(batch[key][i:i + 1], one[key], rtol=0, atol=0)


def test_normalize_rgb_maps_0_and_255_to_the_ends():
    out = normalize_rgb(np.array([[[[0, 255, 51]]]], dtype=np.uint8))
    np.testing.assert_allclose(out.numpy().ravel(), [-1.0, 1.0, 51 / 127.5 - 1], atol=1e-7)


def test_resize_map_is_opencv_nearest_exact_for_a_pure_resize():
    labels = np.arange(480 * 640, dtype=np.int64).reshape(480, 640)
    t = frame_transform(480, 640)
    expected = cv2.resize(labels.astype(np.float64), (512, 384), interpolation=cv2.INTER_NEAREST_EXACT)
    np.testing.assert_array_equal(resize_map(labels, t), expected.astype(np.int64))


def test_crop_only_maps_round_trip_exactly():
    t = frame_transform(300, 512)  # no resize, crop rows 6..293
    depth = np.random.default_rng(2).uniform(1, 2, size=(300, 512, 2)).astype(np.float32)
    cropped = resize_map(depth, t)
    np.testing.assert_array_equal(cropped, depth[6:294])
    restored, valid = restore_map(cropped, t)
    assert valid.sum() == 288 * 512 and not valid[:6].any() and not valid[294:].any()
    np.testing.assert_array_equal(restored[valid], depth[valid])
    assert (restored[~valid] == 0).all()


def test_rgb_crop_without_resize_is_a_slice():
    image = np.random.default_rng(3).integers(0, 256, size=(300, 512, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_rgb(image, frame_transform(300, 512)), image[6:294])


def test_linear_restore_of_an_affine_ramp_is_exact_inside():
    t = frame_transform(388, 584, crop=False)
    scale, offset = t.pixel_affine()
    out_v, out_u = np.mgrid[0:t.output_size[0], 0:t.output_size[1]].astype(np.float32)
    ramp = np.stack([out_u, out_v], axis=-1)  # output pixel coordinates
    restored, valid = restore_map(ramp, t, interpolation="linear")
    in_v, in_u = np.mgrid[0:388, 0:584]
    expected = np.stack([in_u * scale[0] + offset[0], in_v * scale[1] + offset[1]], axis=-1)
    inside = valid & (expected[..., 0] >= 0) & (expected[..., 0] <= t.output_size[1] - 1) \
        & (expected[..., 1] >= 0) & (expected[..., 1] <= t.output_size[0] - 1)
    assert inside.mean() > 0.98
    np.testing.assert_allclose(restored[inside], expected[inside], atol=1e-4)


def test_intrinsics_follow_the_pixels():
    t = frame_transform(436, 1024)  # x0.5, then crop 5 rows
    intrinsics = torch.tensor([[800.0, 0, 512], [0, 810.0, 218], [0, 0, 1]], dtype=torch.float64)
    new = transform_intrinsics(intrinsics, t)
    expected = torch.tensor([[400.0, 0, 255.75], [0, 405.0, (218 + 0.5) * 0.5 - 0.5 - 5], [0, 0, 1]],
                            dtype=torch.float64)
    torch.testing.assert_close(new, expected)
    point = torch.tensor([0.3, -0.2, 2.0], dtype=torch.float64)
    uv0 = (intrinsics @ point)[:2] / point[2]
    uv1 = (new @ point)[:2] / point[2]
    scale, offset = t.pixel_affine()
    torch.testing.assert_close(uv1, uv0 * torch.from_numpy(scale) + torch.from_numpy(offset))
