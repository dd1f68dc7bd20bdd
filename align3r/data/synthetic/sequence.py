"""A synthetic dynamic video with exact ground truth, from a frozen config and a seed."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from align3r.data.synthetic.prior import PRIOR_PRESETS, PRIOR_STYLES, PriorConfig, PriorMaps, simulate_prior
from align3r.data.synthetic.render import render_frame
from align3r.data.synthetic.scene import Scene, SceneSpec, Setting, sample_scene
from align3r.data.synthetic.trajectories import CAMERA_MOTIONS, CameraMotion
from align3r.errors import InputError
from align3r.settings import to_mapping

FORMAT_VERSION = 1
MAX_SIZE = 8192


@dataclass(frozen=True)
class SynthConfig:
    """What to render; "any" fields are drawn from the seed."""

    frames: int = 24
    """N >= 1 frames."""
    width: int = 512
    """image columns W."""
    height: int = 288
    """image rows H."""
    seed: int = 0
    """fixes everything: same seed and fields, same bytes."""
    setting: Setting | Literal["any"] = "any"
    """"indoor" room, "outdoor" ground with far background and sky, or drawn."""
    camera_motion: CameraMotion | Literal["any"] = "any"
    """"orbit", "walk", "rotation" (pure rotation), "static" (near-static) or drawn."""
    dynamic_objects: int | None = None
    """moving rigid objects, 1-4; None draws."""
    static_objects: int | None = None
    """resting objects besides the room or ground, 0-8; None draws 2-6."""
    fov_deg: tuple[float, float] = (50.0, 75.0)
    """range of the horizontal field of view, degrees (equal ends fix it)."""
    priors: tuple[PriorConfig, ...] = PRIOR_PRESETS["realistic"]
    """simulated priors, at most one per style."""

    def __post_init__(self) -> None:
        checks = [
            (self.frames >= 1, f"frames must be >= 1 (got {self.frames})"),
            (8 <= self.width <= MAX_SIZE and 8 <= self.height <= MAX_SIZE,
             f"size must be 8..{MAX_SIZE} pixels per side (got {self.width}x{self.height})"),
            (self.setting in ("indoor", "outdoor", "any"), f"setting must be indoor, outdoor or any (got {self.setting!r})"),
            (self.camera_motion in (*CAMERA_MOTIONS, "any"),
             f"camera motion must be one of {', '.join(CAMERA_MOTIONS)} or any (got {self.camera_motion!r})"),
            (self.dynamic_objects is None or 1 <= self.dynamic_objects <= 4,
             f"dynamic objects must be 1..4 (got {self.dynamic_objects})"),
            (self.static_objects is None or 0 <= self.static_objects <= 8,
             f"static objects must be 0..8 (got {self.static_objects})"),
            (10.0 <= self.fov_deg[0] <= self.fov_deg[1] <= 150.0,
             f"fov_deg must be an increasing range within 10..150 degrees (got {self.fov_deg})"),
            (len({p.style for p in self.priors}) == len(self.priors) and all(p.style in PRIOR_STYLES for p in self.priors),
             f"priors: at most one per style of {', '.join(PRIOR_STYLES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


@dataclass(frozen=True, eq=False)
class SyntheticSequence:
    """A rendered video and its exact ground truth (OpenCV cameras, metres)."""

    images: np.ndarray
    """(N, H, W, 3) uint8 RGB."""
    depths: np.ndarray
    """(N, H, W) float32 z-depth, 0 where no surface."""
    valid_masks: np.ndarray
    """(N, H, W) bool: a surface was hit (depth > 0)."""
    dynamic_masks: np.ndarray
    """(N, H, W) bool: the visible surface belongs to a moving object."""
    intrinsics: np.ndarray
    """(N, 3, 3) float64 pinhole K in pixels."""
    poses_c2w: np.ndarray
    """(N, 4, 4) float64 camera-to-world."""
    priors: Mapping[str, PriorMaps]
    """style -> simulated prior."""
    meta: Mapping[str, Any]
    """seed, resolved parameters and versions (JSON-ready)."""


def resolve_config(config: SynthConfig) -> SceneSpec:
    """The scene's parameters, with every "any"/None field of the config drawn from its seed."""
    rng = np.random.default_rng([config.seed, 1])
    setting = ("indoor", "outdoor")[rng.integers(2)]
    camera_motion = CAMERA_MOTIONS[rng.integers(len(CAMERA_MOTIONS))]
    dynamic_objects, static_objects = int(rng.integers(1, 5)), int(rng.integers(2, 7))
    return SceneSpec(seed=config.seed, frames=config.frames, width=config.width, height=config.height,
                     setting=setting if config.setting == "any" else config.setting,
                     camera_motion=camera_motion if config.camera_motion == "any" else config.camera_motion,
                     dynamic_objects=dynamic_objects if config.dynamic_objects is None else config.dynamic_objects,
                     static_objects=static_objects if config.static_objects is None else config.static_objects,
                     fov_deg=float(rng.uniform(*config.fov_deg)))


def build_scene(config: SynthConfig) -> Scene:
    """The config's scene: layout, object motion and cameras, not yet rendered."""
    return sample_scene(resolve_config(config))


def generate_sequence(config: SynthConfig) -> SyntheticSequence:
    """Render a synthetic dynamic sequence with exact depth, poses, intrinsics, masks and priors."""
    scene = build_scene(config)
    frames = [render_frame(scene, i) for i in range(config.frames)]
    depths = np.stack([f.depth for f in frames])
    ids = np.stack([f.primitive_ids for f in frames])
    valid = ids >= 0
    dynamic = valid & scene.dynamic[np.maximum(ids, 0)]
    priors = {p.style: simulate_prior(depths, valid, scene.intrinsics[:, 0, 0], p, seed=config.seed)
              for p in config.priors}
    meta = {"format_version": FORMAT_VERSION, "generator": f"align3r {importlib.metadata.version('align3r')}",
            "seed": config.seed, "config": to_mapping(config), "resolved": to_mapping(resolve_config(config)),
            "primitives": len(scene.primitives), "moving_primitives": int(scene.dynamic.sum())}
    return SyntheticSequence(images=np.stack([f.rgb for f in frames]), depths=depths, valid_masks=valid,
                             dynamic_masks=dynamic, intrinsics=scene.intrinsics, poses_c2w=scene.c2w,
                             priors=priors, meta=meta)

