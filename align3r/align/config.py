"""Alignment settings: frozen dataclasses with the official defaults, and the entry-point presets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class AlignConfig:
    """One scene's optimiser (docs/alignment.md §2-§4, §7). Defaults: tool/demo.py (flow family).

    The plain family (tool/depth_test.py) is the same optimiser with the extra terms at zero,
    per-frame focals, cosine schedule and the confidence override; see `PRESETS`.
    """

    niter: int = 300
    """Adam iterations."""
    lr: float = 0.01
    """Base learning rate."""
    lr_min: float = 1e-3
    """End of the schedule (flow family 1e-3, plain family 1e-6); never reached (t < 1)."""
    schedule: Literal["linear", "cosine"] = "linear"
    """Learning-rate decay from `lr` to `lr_min`."""
    shared_focal: bool = True
    """One focal for every frame (flow family) or one per frame (plain family)."""
    min_conf_thr: float = 3.0
    """Raw-confidence threshold of the PnP masks (init) and of the motion-mask pair views."""
    conf_override: float | None = None
    """tool/depth_test.py sets every raw confidence > 1 to this value (10) before aligning."""
    temporal_weight: float = 0.01
    """Weight of the temporal pose smoothing (docs/alignment.md §4.2)."""
    translation_weight: float = 1.0
    """Weight of the translation inside the temporal smoothing."""
    flow_weight: float = 0.01
    """Weight of the optical-flow term (docs/alignment.md §4.3); 0 switches flow and motion masks off."""
    flow_start: float = 0.1
    """The flow term is on from iteration `niter * flow_start`."""
    flow_loss_thre: float = 25.0
    """Flow term dropped for an iteration where it exceeds this (demo 25, pose_test 40)."""
    pxl_thre: float = 50.0
    """Per-element cap of the smooth-L1 flow residual."""
    motion_mask_thre: float = 0.35
    """Threshold on the mean normalised ego-flow error for the self-derived motion masks."""
    base_scale: float = 0.5
    """Geometric mean of the per-edge scales (the gauge)."""
    stale_focal_edge: bool = True
    """Official MST quirk (init_im_poses.py, minimum_spanning_tree): a frame's initial focal is
    estimated from the previously processed edge. False uses the current edge."""


@dataclass(frozen=True)
class HierarchyConfig:
    """Keyframes aligned globally, then each clip seeded by its keyframe (docs/alignment.md §5)."""

    clip_size: int = 10
    """Starting clip size c0 (demo 10, depth_test 50); lowered until clips never divide n."""
    symmetrize: bool = True
    """Keyframe and clip pairs symmetrised (demo) or upper triangle only (depth_test)."""
    clip_stride: int = 2
    """Partner stride of the clip pairs (demo 2, depth_test 1)."""
    keyframe_graph: str = "complete"
    """Keyframe-scene pairs: `complete` (official: every a < b, quadratic in the keyframes) or a
    `pair_graph` name over the keyframes (e.g. swinstride-5-noncyclic: linear, for long videos)."""
    max_keyframes: int | None = None
    """Above this many keyframes, the keyframe scene is itself aligned hierarchically, so that no
    scene grows with the video (ours; official: None, one keyframe scene however long)."""
    stitching: Literal["similarity", "rigid", "none"] = "similarity"
    """How clips join the keyframe scene: `similarity` (ours: scale from the shared keyframe),
    `rigid` (official `align_poses`, each clip keeps its scale), `none` (depth_test: clip poses
    and depths as optimised, unstitched)."""


_DEMO = AlignConfig()
_PLAIN = AlignConfig(lr=0.05, lr_min=1e-6, schedule="cosine", shared_focal=False,
                     conf_override=10.0, temporal_weight=0.0, flow_weight=0.0)

PRESETS: dict[str, tuple[AlignConfig, HierarchyConfig]] = {
    "demo": (_DEMO, HierarchyConfig(stitching="rigid")),
    "pose_test": (replace(_DEMO, flow_loss_thre=40.0), HierarchyConfig(stitching="rigid")),
    "depth_test": (_PLAIN, HierarchyConfig(clip_size=50, symmetrize=False, clip_stride=1,
                                           stitching="none")),
    "align3r": (_DEMO, HierarchyConfig(keyframe_graph="swinstride-5-noncyclic", max_keyframes=20)),
}
"""Official entry points (tool/demo.py, tool/pose_test.py, tool/depth_test.py) and ours
(`align3r`: demo settings with scale-consistent stitching, a window graph over the keyframes and
nested keyframe levels, so that memory stays flat in the number of frames; the default of
`align3r run`)."""
