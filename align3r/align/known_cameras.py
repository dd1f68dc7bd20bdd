"""What the user knows of a scene (cameras, focal lengths, motion masks) and how the aligner uses it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from align3r.align.init import TreeInit
from align3r.geometry import invert_pose, transform_points
from align3r.infer.pairs import PairPredictions

MIN_BASELINE = 0.01
"""Camera centres spreading less than this fraction of the scene depth do not set the scale."""


@dataclass(frozen=True)
class KnownCameras:
    """Known geometry of a scene on the network grid (local frame indices, any float dtype).

    Attributes:
        c2w: (N, 4, 4) camera-to-world poses, or None: held fixed (`fixed_poses`) or only
            initialising the poses; either way the scene takes their world and scale.
        fixed_poses: whether `c2w` is held fixed (True) or only initialises the poses.
        focals: (N,) focal lengths in pixels, held fixed (the spanning tree uses them instead
            of estimating); principal point (W/2, H/2) as everywhere in the aligner.
        dynamic_masks: (N, H, W) bool, True on moving pixels, or None. They replace the
            self-derived motion masks (the flow term uses the other pixels) and are the
            scene's output masks.
    """

    c2w: torch.Tensor | None = None
    fixed_poses: bool = True
    focals: torch.Tensor | None = None
    dynamic_masks: torch.Tensor | None = None

    def for_scene(self, pairs: PairPredictions) -> KnownCameras:
        """Shapes checked against the scene's N frames of (H, W); floats in the pairs' dtype, on their device.

        Raises:
            ValueError: a shape does not match the scene.
        """
        num_frames, (height, width), like = pairs.num_frames, pairs.conf_i.shape[1:], pairs.conf_i
        for name, tensor, shape in (("c2w", self.c2w, (num_frames, 4, 4)), ("focals", self.focals, (num_frames,)),
                                    ("dynamic_masks", self.dynamic_masks, (num_frames, height, width))):
            if tensor is not None and tuple(tensor.shape) != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {tuple(tensor.shape)}")
        cast = [None if t is None else t.to(like) for t in (self.c2w, self.focals)]
        masks = None if self.dynamic_masks is None else self.dynamic_masks.to(like.device, torch.bool)
        return KnownCameras(cast[0], self.fixed_poses, cast[1], masks)

    def subset(self, frames: np.ndarray) -> KnownCameras:
        """The same knowledge for the frames `frames` (K,) of this scene, in that order."""
        index = torch.from_numpy(np.asarray(frames, dtype=np.int64))
        pick = [None if t is None else t[index.to(t.device)] for t in (self.c2w, self.focals, self.dynamic_masks)]
        return KnownCameras(pick[0], self.fixed_poses, pick[1], pick[2])


def place_tree_on_poses(tree: TreeInit, c2w: torch.Tensor) -> TreeInit:
    """Put every frame of the spanning tree in its known camera, scaled to the known trajectory.

    Each frame's points keep their shape in their own camera (the tree's depth map) and are
    carried by the known pose; one scale for all, the ratio of the RMS spreads of the known and
    the tree's camera centres. When the tree's cameras spread less than `MIN_BASELINE` of the
    median depth, the centres (PnP-noisy, nearly equal) say nothing about the scale and the
    pairs' own scale is kept (1). Depths stay consistent with the pair predictions whatever the
    tree's pose errors.

    Args:
        tree: the spanning tree's result (world = one of its cameras).
        c2w: (N, 4, 4) known camera-to-world poses, the tree's dtype and device.

    Returns:
        The tree with its points in the known world and `c2w` as its poses.
    """
    pts3d_in_cam = transform_points(invert_pose(tree.c2w), tree.pts3d_world)  # (N, H, W, 3)
    src, dst = tree.c2w[:, :3, 3], c2w[:, :3, 3]  # (N, 3) camera centres
    spread_src, spread_dst = (float((x - x.mean(dim=0)).square().sum(dim=-1).mean().sqrt()) for x in (src, dst))
    moving = spread_src > MIN_BASELINE * float(pts3d_in_cam[..., 2].median()) and spread_dst > 0
    scale = spread_dst / spread_src if moving else 1.0
    return TreeInit(transform_points(c2w, scale * pts3d_in_cam), c2w, tree.focals, tree.mst_edges)


def gauge(log_pw_scales: torch.Tensor, base_scale: float,
          known: KnownCameras) -> tuple[torch.Tensor | float, float]:
    """How the scene's free scale is fixed: (factor applied to the tree's world, pinned base scale).

    Without known poses, the official gauge: the world is rescaled so that the geometric mean of
    the pairwise scales is `base_scale`, and it stays pinned there. Known poses (fixed or
    initial) set the scale: no rescaling, and the mean stays pinned where the tree placed on
    them starts. Pinning matters even with fixed poses: the alignment loss is measured in world
    units, so free pairwise scales let the depths shrink towards the cameras (15 % in 300
    iterations on an 8-frame test scene whose camera baseline is a third of the depth).

    Args:
        log_pw_scales: (E,) ln of the pairwise scales after the tree.
        base_scale: the official geometric mean (0.5).
        known: the scene's known geometry.
    """
    if known.c2w is None:
        return torch.exp(math.log(base_scale) - log_pw_scales.mean()), base_scale
    return 1.0, float(torch.exp(log_pw_scales.double().mean()))
