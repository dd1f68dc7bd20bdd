"""One training view: prior point map, GT points, validity, the full per-view pipeline (docs/training.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r.data.crop import CropConfig
from align3r.data.readers.base import FrameRecord
from align3r.data.views import TEST_VIEW_CONFIG, ViewConfig, collate_pairs, gt_points_and_mask, make_view


def _record(width: int = 170, height: int = 96, *, depth: np.ndarray | None = None) -> FrameRecord:
    rng = np.random.default_rng(0)
    c2w = np.eye(4, dtype=np.float32)
    c2w[:3, 3] = (1.0, -2.0, 0.5)
    k = np.array([[100.0, 0, 84.3], [0, 100.0, 47.6], [0, 0, 1]], dtype=np.float32)
    return FrameRecord(rgb=rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8),
                       depth=rng.uniform(1, 30, size=(height, width)).astype(np.float32) if depth is None else depth,
                       intrinsics=k, c2w=c2w, prior_depth=rng.uniform(2, 20, size=(height, width)).astype(np.float32),
                       prior_focal=90.0, label="seq/000001.png", dataset="synthetic")


def test_gt_points_known_answer_and_the_400_filter() -> None:
    depth = torch.tensor([[2.0, 0.0, 500.0], [399.0, 400.0, 4.0]])
    k = torch.tensor([[2.0, 0, 1.0], [0, 4.0, 0.0], [0, 0, 1]])
    c2w = torch.eye(4)
    c2w[:3, 3] = torch.tensor([10.0, 20.0, 30.0])
    pts, valid = gt_points_and_mask(depth, k, c2w, max_depth=400.0, fallback="nearest")
    torch.testing.assert_close(pts[1, 2], torch.tensor([10 + (2 - 1) * 4 / 2, 20 + 1 * 4 / 4, 30 + 4.0]))
    assert valid[..., 0].tolist() == [[True, False, False], [True, False, True]]
    assert valid[..., 1].tolist() == [[True, False, True], [True, True, True]]


def test_fallback_marks_the_nearest_far_pixels_but_never_zero_depth() -> None:
    k, c2w = torch.eye(3), torch.eye(4)
    far = torch.tensor([[0.0, 450.0], [450.0, 900.0]])
    _, valid = gt_points_and_mask(far, k, c2w, max_depth=400.0, fallback="nearest")
    assert valid[..., 0].tolist() == [[False, True], [True, False]]
    _, valid = gt_points_and_mask(far, k, c2w, max_depth=400.0, fallback="none")
    assert not valid[..., 0].any()
    _, valid = gt_points_and_mask(torch.zeros(2, 2), k, c2w, max_depth=400.0, fallback="nearest")
    assert not valid.any()  # the official code would mark every pixel valid at depth 0 (docs/training.md §11 item 8)


@pytest.mark.parametrize("resolution", [(128, 96), (128, 80), (128, 64)])
def test_view_has_the_requested_size_and_consistent_contents(resolution: tuple[int, int]) -> None:
    view = make_view(_record(), resolution, np.random.default_rng(3), ViewConfig(crop=CropConfig(aug_crop=4)),
                     idx=(7, 1, 0))
    width, height = resolution
    assert view.img.shape == (3, height, width) and view.depthmap.shape == (height, width)
    assert view.prior_pts.shape == view.pts3d.shape == (height, width, 3)
    assert view.valid_mask.shape == (height, width, 2)
    assert view.true_shape.tolist() == [height, width] and view.idx.tolist() == [7, 1, 0]
    assert view.img.min() >= -1 and view.img.max() <= 1
    assert view.prior_pts.min() >= 0 and view.prior_pts.max() <= 1
    torch.testing.assert_close(view.camera_pose, torch.from_numpy(_record().c2w))
    pts_in_cam = view.pts3d - view.camera_pose[:3, 3]
    torch.testing.assert_close(pts_in_cam[..., 2], view.depthmap)
    u = view.camera_intrinsics[0, 0] * pts_in_cam[..., 0] / pts_in_cam[..., 2] + view.camera_intrinsics[0, 2]
    torch.testing.assert_close(u, torch.arange(width, dtype=torch.float32).expand(height, width), atol=1e-3, rtol=0)


def test_view_is_deterministic_given_the_generator() -> None:
    first, again, other = (make_view(_record(), (128, 80), np.random.default_rng(seed), ViewConfig())
                           for seed in (4, 4, 5))
    for name in ("img", "depthmap", "camera_intrinsics", "prior_pts", "pts3d", "valid_mask"):
        assert torch.equal(getattr(first, name), getattr(again, name)), name
    assert not torch.equal(first.img, other.img)


def test_test_set_view_has_no_augmentation() -> None:
    record = _record()
    view = make_view(record, (96, 96), np.random.default_rng(0), TEST_VIEW_CONFIG)
    left = round((168 - 96) / 2)  # principal point (84.3, 47.6) -> crop 168 x 96, then a centred 96 x 96
    expected = torch.from_numpy(record.rgb[:, left:left + 96]).permute(2, 0, 1).float() / 127.5 - 1
    torch.testing.assert_close(view.img, expected)
    torch.testing.assert_close(view.camera_intrinsics[:2, 2], torch.tensor([84.3 - left, 47.6]))
    # The prior map is normalised over the whole stored frame first (docs/training.md §4.2), then cropped:
    # a sub-range of [0, 1].
    z = record.prior_depth.astype(np.float64)
    expected_z = (z - z.min()) / (z.max() - z.min())
    np.testing.assert_allclose(view.prior_pts[..., 2].numpy(), expected_z[:, left:left + 96], atol=1e-6)
    x = (np.arange(170) - 85.0) * z / 90.0  # X = (u - W/2) Z / f
    np.testing.assert_allclose(view.prior_pts[..., 0].numpy(), ((x - x.min()) / (x.max() - x.min()))[:, left:left + 96],
                               atol=1e-6)


def test_sky_and_far_depth_in_the_view_mask() -> None:
    depth = np.full((96, 170), 600.0, dtype=np.float32)
    depth[40:60, 70:100] = 5.0
    depth[:10] = 0.0
    view = make_view(_record(depth=depth), (128, 96), np.random.default_rng(0), TEST_VIEW_CONFIG)
    near = view.depthmap == 5.0
    assert torch.equal(view.valid_mask[..., 0], near) and near.any()
    assert torch.equal(view.valid_mask[..., 1], view.depthmap > 0)


def test_collate_stacks_tensors_and_lists_strings() -> None:
    views = [make_view(_record(), (128, 64), np.random.default_rng(s), ViewConfig(), idx=(s, 0, k))
             for s in range(2) for k in range(2)]
    first, second = collate_pairs([(views[0], views[1]), (views[2], views[3])])
    assert first.img.shape == (2, 3, 64, 128) and first.valid_mask.dtype == torch.bool
    assert first.true_shape.tolist() == [[64, 128]] * 2 and second.idx[:, 2].tolist() == [1, 1]
    assert first.label == ["seq/000001.png"] * 2 and first.dataset == ["synthetic"] * 2
    official = first.as_official_dict()
    assert "pred_depth" in official and "prior_pts" not in official
