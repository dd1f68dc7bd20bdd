"""One training view: a frame record through the crop/augment pipeline to tensors (docs/training.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch

from align3r.data.augment import ColorJitterConfig, color_jitter, normalize_image
from align3r.data.crop import CropConfig, FrameArrays, crop_and_resize
from align3r.data.readers.base import FrameRecord
from align3r.geometry import transform_points, unproject_depth
from align3r.prior.condition import prior_points


@dataclass(frozen=True)
class ViewConfig:
    """The per-view pipeline; defaults are the official training values."""

    crop: CropConfig = CropConfig()
    """Geometric augmentation (docs/training.md §4.3)."""
    color_jitter: ColorJitterConfig | None = ColorJitterConfig()
    """Photometric augmentation (docs/training.md §4.4); None for test sets (normalisation only)."""
    max_depth: float = 400.0
    """Depths at or beyond this (dataset units) are not valid GT (the 400 filter)."""
    fallback: Literal["nearest", "none"] = "nearest"
    """A view with no depth in (0, max_depth): "nearest" marks its nearest positive-depth
    pixel(s) valid (official); "none" leaves it without valid pixels."""


TEST_VIEW_CONFIG = ViewConfig(crop=CropConfig(aug_f=False, aug_crop=0), color_jitter=None)
"""Test sets: principal-point crop, cover rescale and centred crop only; normalisation only."""


@dataclass(frozen=True)
class View:
    """One view of a pair, or a batch of them after `collate_pairs` (a leading B on every tensor,
    lists for the strings).

    Attributes:
        img: (3, H, W) float32 RGB in [-1, 1].
        depthmap: (H, W) float32 GT z-depth, 0 where invalid.
        camera_pose: (4, 4) float32 OpenCV camera-to-world (`c2w`).
        camera_intrinsics: (3, 3) float32 K of the final crop, pixels.
        prior_pts: (H, W, 3) float32 prior point map in [0, 1] (official key `pred_depth`).
        pts3d: (H, W, 3) float32 GT points, world frame.
        valid_mask: (H, W, 2) bool: [..., 0] 0 < depth < max_depth (the loss's mask),
            [..., 1] depth > 0; both only where pts3d is finite.
        true_shape: (2,) int32 (H, W).
        idx: (3,) int64 (pair index, aspect-ratio index, view index within the pair).
        rng: () int64 fingerprint drawn from the item's generator after both views.
        dataset: reader name.
        label: RGB path (the official `label`).
        instance: RGB path (the official `instance`, which the model uses to spot symmetrised batches).
    """

    img: torch.Tensor
    depthmap: torch.Tensor
    camera_pose: torch.Tensor
    camera_intrinsics: torch.Tensor
    prior_pts: torch.Tensor
    pts3d: torch.Tensor
    valid_mask: torch.Tensor
    true_shape: torch.Tensor
    idx: torch.Tensor
    rng: torch.Tensor
    dataset: str | list[str]
    label: str | list[str]
    instance: str | list[str]

    def as_official_dict(self) -> dict[str, object]:
        """The official view dict (`pred_depth` for `prior_pts`), e.g. for `Align3RNet.forward`."""
        view = {f.name: getattr(self, f.name) for f in fields(self)}
        view["pred_depth"] = view.pop("prior_pts")
        return view


def gt_points_and_mask(depth: torch.Tensor, intrinsics: torch.Tensor, c2w: torch.Tensor, *,
                       max_depth: float, fallback: Literal["nearest", "none"]) -> tuple[torch.Tensor, torch.Tensor]:
    """GT points in the world and the two-channel validity mask (docs/training.md §4.5).

    Args:
        depth: (H, W) float32 z-depth, 0 where unknown, finite.
        intrinsics: (3, 3) K, pixels, no skew.
        c2w: (4, 4) OpenCV camera-to-world.
        max_depth: the upper bound of valid depth (400).
        fallback: see `ViewConfig.fallback`. Unlike the official code, a view whose depth is all
            zero never becomes "valid at depth 0" (docs/training.md §11 item 8).

    Returns:
        pts3d: (H, W, 3) world frame; valid_mask: (H, W, 2) bool.
    """
    pts3d = transform_points(c2w, unproject_depth(depth, intrinsics))
    positive = depth > 0
    in_range = positive & (depth < max_depth)
    if fallback == "nearest" and not in_range.any() and positive.any():
        in_range = positive & (depth == depth[positive].min())  # `dust3r/utils/geometry.py:196-200`
    finite = torch.isfinite(pts3d).all(dim=-1)
    return pts3d, torch.stack([in_range & finite, positive & finite], dim=-1)


def make_view(record: FrameRecord, resolution: tuple[int, int], rng: np.random.Generator, config: ViewConfig, *,
              idx: tuple[int, int, int] = (0, 0, 0)) -> View:
    """One frame through docs/training.md §4.2-§4.5: prior map, crops, resize, colour jitter, GT points.

    Args:
        record: the frame as read.
        resolution: (W, H) of the output.
        rng: the view's generator (zoom, jitter, colour draws, in that order).
        config: the pipeline options.
        idx: (pair index, aspect-ratio index, view index), carried into the record.

    Returns:
        The view; its fingerprint `rng` is 0 until `PairDataset` draws it.
    """
    # The prior map at the stored resolution (docs/training.md §4.2).
    prior_pts = prior_points(record.prior_depth[None], record.prior_focal)[0]
    frame = FrameArrays(record.rgb, record.depth, prior_pts, record.intrinsics.astype(np.float64))
    frame = crop_and_resize(frame, resolution, rng, config.crop, label=record.label)
    rgb = frame.rgb if config.color_jitter is None else color_jitter(frame.rgb, rng, config.color_jitter)
    depth = torch.tensor(frame.depth, dtype=torch.float32)
    intrinsics = torch.tensor(frame.intrinsics, dtype=torch.float32)
    c2w = torch.tensor(record.c2w, dtype=torch.float32)
    pts3d, valid = gt_points_and_mask(depth, intrinsics, c2w, max_depth=config.max_depth, fallback=config.fallback)
    return View(img=normalize_image(rgb), depthmap=depth, camera_pose=c2w, camera_intrinsics=intrinsics,
                prior_pts=torch.tensor(frame.prior_pts, dtype=torch.float32),
                pts3d=pts3d, valid_mask=valid,
                true_shape=torch.tensor([resolution[1], resolution[0]], dtype=torch.int32),
                idx=torch.tensor(idx, dtype=torch.int64), rng=torch.tensor(0, dtype=torch.int64),
                dataset=record.dataset, label=record.label, instance=record.label)


def collate_views(views: list[View]) -> View:
    """Stack views along a new batch dim: tensors (B, ...), strings into lists."""
    def column(name: str) -> object:
        values = [getattr(v, name) for v in views]
        return torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return View(**{f.name: column(f.name) for f in fields(View)})


def collate_pairs(items: list[tuple[View, View]]) -> tuple[View, View]:
    """DataLoader collate: B items (view 1, view 2) -> (batched view 1, batched view 2)."""
    return collate_views([first for first, _ in items]), collate_views([second for _, second in items])
