"""Long videos: keyframes aligned globally, each clip seeded by its keyframe, then stitched (docs/alignment.md §5)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from align3r.align.config import AlignConfig, HierarchyConfig
from align3r.align.global_align import AlignResult, global_align
from align3r.align.init import KeyframePrior
from align3r.align.known_cameras import KnownCameras
from align3r.errors import InputError
from align3r.geometry import invert_pose
from align3r.infer.graph import forward_pairs, pair_graph
from align3r.infer.pairs import PairPredictions
from align3r.io.progress import track

logger = logging.getLogger(__name__)

PairLoader = Callable[[np.ndarray], PairPredictions]
"""Returns the predictions of the given (E, 2) global edges, in that order (e.g. PairStore.load)."""


@dataclass(frozen=True)
class HierarchicalResult:
    """A stitched video (global frame indices) and the per-scene summaries.

    Attributes:
        c2w: (N, 4, 4) camera-to-world poses after stitching.
        depths: (N, H, W) z-depth (rescaled per clip by `similarity` stitching).
        focals: (N,) focal lengths in pixels; principal point (W/2, H/2).
        conf: (N, H, W) per-frame max raw confidence within the frame's clip.
        dynamic_masks: (N, H, W) bool motion masks of the clips.
        keyframes: (K,) keyframe indices; clip k starts at keyframes[k].
        clip_sizes: (K,) frames per clip.
        key_c2w: (K, 4, 4) keyframe-scene poses handed to the clips.
        key_focals: (K,) keyframe-scene focals.
        clip_scales: (K,) scale applied to each clip by the stitching (1 unless `similarity`).
        loss_curves: (S, niter) the keyframe scene (or the scenes of its nested hierarchy)
            first, then each clip.
    """

    c2w: torch.Tensor
    depths: torch.Tensor
    focals: torch.Tensor
    conf: torch.Tensor
    dynamic_masks: torch.Tensor
    keyframes: np.ndarray
    clip_sizes: np.ndarray
    key_c2w: torch.Tensor
    key_focals: torch.Tensor
    clip_scales: torch.Tensor
    loss_curves: torch.Tensor


def clip_plan(num_frames: int, clip_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Keyframes and clip sizes: the clip size drops from `clip_size` until clips never divide
    the video evenly (tool/demo.py), so the last clip has 2 .. c-1 frames.

    Returns:
        keyframes (K,) int64, clip sizes (K,) int64.

    Raises:
        InputError: fewer than 5 frames (the official rule reaches a clip size of 0).
    """
    size = clip_size
    while size > 1 and (size > num_frames or num_frames % size in (0, 1)):
        size -= 1
    if size < 2:
        raise InputError(f"hierarchical alignment needs at least 5 frames, got {num_frames}; "
                         "use global alignment")
    keyframes = np.arange(0, num_frames, size)
    return keyframes, np.minimum(keyframes + size, num_frames) - keyframes


def keyframe_pairs(num_keyframes: int, hierarchy: HierarchyConfig) -> np.ndarray:
    """(E, 2) keyframe-scene edges in keyframe ranks (official: every a < b, tool/demo.py)."""
    if hierarchy.keyframe_graph == "complete":
        return forward_pairs(num_keyframes, symmetrize=hierarchy.symmetrize)
    return pair_graph(num_keyframes, hierarchy.keyframe_graph, symmetrize=hierarchy.symmetrize)


def stitch(clip: AlignResult, key_c2w: torch.Tensor, key_depth: torch.Tensor,
           mode: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bring a clip (local frame 0 = the keyframe) into the keyframe scene's world.

    `rigid`: the official `align_poses`, `key_c2w @ inv(c2w_0) @ c2w_m` (the clip keeps its own
    scale; frame 0 gets exactly `key_c2w`). `similarity`: the same with the clip first scaled by
    s = median(key depth / clip depth of frame 0), so that both agree on the shared keyframe;
    depths are scaled by s too. `none`: the clip as optimised (tool/depth_test.py).

    Returns:
        c2w (M, 4, 4), depths (M, H, W), scale ().
    """
    one = torch.ones((), dtype=clip.depths.dtype, device=clip.depths.device)
    if mode == "none":
        return clip.c2w, clip.depths, one
    scale = torch.median(key_depth / clip.depths[0]) if mode == "similarity" else one
    clip_in_0 = invert_pose(clip.c2w[0]) @ clip.c2w  # (M, 4, 4) camera m -> camera 0 (clip scale)
    clip_in_0[:, :3, 3] *= scale
    c2w = key_c2w @ clip_in_0
    c2w[0] = key_c2w
    return c2w, clip.depths * scale, scale


def _nested(num_keyframes: int, hierarchy: HierarchyConfig) -> bool:
    """Whether the keyframes form a hierarchy of their own (needs >= 5 of them)."""
    limit = hierarchy.max_keyframes
    return limit is not None and num_keyframes > max(limit, 4)


def scene_edges(num_frames: int, hierarchy: HierarchyConfig) -> list[np.ndarray]:
    """(E_s, 2) global edges of every scene, in the order `hierarchical_align` aligns them."""
    keyframes, clip_sizes = clip_plan(num_frames, hierarchy.clip_size)
    if not _nested(len(keyframes), hierarchy):
        scenes = [keyframes[keyframe_pairs(len(keyframes), hierarchy)]]
    else:
        scenes = [keyframes[edges] for edges in scene_edges(len(keyframes), hierarchy)]
    return scenes + [start + forward_pairs(size, stride=hierarchy.clip_stride,
                                           symmetrize=hierarchy.symmetrize)
                     for start, size in zip(keyframes.tolist(), clip_sizes.tolist())]


def _align_keyframes(load_pairs: PairLoader, keyframes: np.ndarray, config: AlignConfig,
                     hierarchy: HierarchyConfig, on_scene: Callable[[int, AlignResult], None] | None,
                     known: KnownCameras) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keyframe poses (K, 4, 4), focals (K,), depths (K, H, W) and loss curves (S, niter): one
    global scene, or beyond `max_keyframes` a hierarchy of its own over the keyframes."""
    if not _nested(len(keyframes), hierarchy):
        key_edges = keyframe_pairs(len(keyframes), hierarchy)
        key = global_align(replace(load_pairs(keyframes[key_edges]), edges=torch.from_numpy(key_edges)),
                           config, known=known.subset(keyframes))
        if on_scene is not None:
            on_scene(0, key)
        return key.c2w, key.focals, key.depths, key.loss_curve[None]
    nested = hierarchical_align(lambda edges: load_pairs(keyframes[edges]), len(keyframes), config,
                                hierarchy, known=known.subset(keyframes))
    return nested.c2w, nested.focals, nested.depths, nested.loss_curves


def hierarchical_align(load_pairs: PairLoader, num_frames: int, config: AlignConfig,
                       hierarchy: HierarchyConfig, *,
                       on_scene: Callable[[int, AlignResult], None] | None = None,
                       known: KnownCameras = KnownCameras()) -> HierarchicalResult:
    """Align a long video scene by scene; only one scene's pairs are in memory at a time.

    Args:
        load_pairs: gives the predictions (with flows when the flow term is on) of global edges.
        num_frames: frames of the video (>= 5).
        config: each scene's optimiser settings.
        hierarchy: clip size, pair layout, keyframe levels and stitching.
        on_scene: called with (scene index, result) after each scene: 0 the keyframe scene (when
            it is a single scene), k + 1 clip k.
        known: what the user knows of the video's frames (global indices). Known poses (fixed
            or initial) put every scene in their world and scale, so clips are not stitched.

    Returns:
        The stitched video.
    """
    keyframes, clip_sizes = clip_plan(num_frames, hierarchy.clip_size)
    key_c2w, key_focals, key_depths, key_curves = _align_keyframes(load_pairs, keyframes, config,
                                                                   hierarchy, on_scene, known)
    stitching = hierarchy.stitching if known.c2w is None else "none"
    outputs, curves, scales = [], [key_curves], []
    clips = track(enumerate(zip(keyframes.tolist(), clip_sizes.tolist())), stage="clips", total=len(keyframes),
                  unit="clip")
    for k, (start, size) in clips:
        local = forward_pairs(size, stride=hierarchy.clip_stride, symmetrize=hierarchy.symmetrize)
        pairs = replace(load_pairs(local + start), edges=torch.from_numpy(local))
        clip = global_align(pairs, config, prior=KeyframePrior(key_c2w[k], float(key_focals[k])),
                            known=known.subset(np.arange(start, start + size)))
        if on_scene is not None:
            on_scene(k + 1, clip)
        c2w, depths, scale = stitch(clip, key_c2w[k], key_depths[k], stitching)
        outputs.append((c2w, depths, clip.focals, clip.conf, clip.dynamic_masks))
        curves.append(clip.loss_curve[None])
        scales.append(scale)
        logger.debug("clip %d (frames %d..%d) aligned, scale %.4f", k, start, start + size - 1,
                     float(scale))
    c2w, depths, focals, conf, dynamic = (torch.cat(x) for x in zip(*outputs))
    return HierarchicalResult(c2w, depths, focals, conf, dynamic, keyframes, clip_sizes, key_c2w,
                              key_focals, torch.stack(scales), torch.cat(curves))
