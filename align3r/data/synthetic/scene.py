"""Scene layouts: an indoor room or an outdoor ground with far background, static objects, 1-4
rigid moving objects and the camera's trajectory, drawn from a seed.

World frame: z up, metres. Every primitive is posed by an object-to-world transform per frame
(`o2w`); static ones keep one pose. Objects are placed so no camera centre comes within
`CLEARANCE` of an object's bounding sphere, so every rendered surface is seen from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from align3r.data.synthetic.textures import Material, sample_material
from align3r.data.synthetic.trajectories import (
    CameraMotion,
    camera_trajectory,
    normalised_time,
    object_trajectory,
    yaw_matrix,
)

Kind = Literal["box", "sphere", "cylinder", "plane"]
Setting = Literal["indoor", "outdoor"]
CLEARANCE = 0.3
FAR_MIN, FAR_MAX = 500.0, 900.0  # outdoor background distance: mostly beyond the 400 m training filter
MAX_PLACEMENT_TRIES = 50


@dataclass(frozen=True)
class Primitive:
    """An analytic surface in its own frame (centred at the origin, axis z)."""

    kind: Kind
    """box, sphere, cylinder (axis z, with caps) or plane (z = 0, a bounded rectangle)."""
    size: tuple[float, float, float]
    """box: half extents; sphere: (r, r, r); cylinder: (r, r, half height); plane: (half x, half y, 0)."""
    material: Material
    """its texture."""

    @property
    def bounding_box(self) -> np.ndarray:
        """(3,) half extents of a box around the origin containing the primitive, metres."""
        return np.asarray(self.size)

    @property
    def bounding_radius(self) -> float:
        """Radius of a sphere around the origin containing the primitive, metres."""
        if self.kind == "sphere":
            return self.size[0]
        return float(np.linalg.norm(self.bounding_box))


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything the renderer needs for every frame."""

    setting: Setting
    """indoor (closed room) or outdoor (ground, far background, open sky without surface)."""
    camera_motion: CameraMotion
    """the camera trajectory's style."""
    primitives: tuple[Primitive, ...]
    """P surfaces."""
    o2w: np.ndarray
    """(N, P, 4, 4) float64 object-to-world pose of each primitive at each frame."""
    dynamic: np.ndarray
    """(P,) bool: the primitive moves (it moves between any two frames)."""
    c2w: np.ndarray
    """(N, 4, 4) float64 OpenCV camera-to-world poses."""
    intrinsics: np.ndarray
    """(N, 3, 3) float64 pinhole K in pixels, principal point ((W - 1) / 2, (H - 1) / 2)."""
    light_dir: np.ndarray
    """(3,) unit vector from surfaces towards the (directional) light, world frame."""
    height: int
    """image rows H."""
    width: int
    """image columns W."""


@dataclass(frozen=True)
class SceneSpec:
    """Everything a scene is drawn from, with nothing left to chance but the seed."""

    seed: int
    """seeds the layout, textures, trajectories and light."""
    frames: int
    """N >= 1."""
    width: int
    """image columns W."""
    height: int
    """image rows H."""
    setting: Setting
    """"indoor" or "outdoor"."""
    camera_motion: CameraMotion
    """"orbit", "walk", "rotation" or "static"."""
    dynamic_objects: int
    """moving objects, 1-4 (fewer only if no path clear of the cameras is found)."""
    static_objects: int
    """resting objects besides the background (fewer only if no clear place is found)."""
    fov_deg: float
    """horizontal field of view, degrees."""


def intrinsics_from_fov(width: int, height: int, fov_x: float) -> np.ndarray:
    """(3, 3) K with square pixels, horizontal field of view `fov_x` (radians), centred."""
    focal = (width / 2) / np.tan(fov_x / 2)
    return np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _solid(rng: np.random.Generator, scale: float, material: Material) -> Primitive:
    """A random box, sphere or cylinder of about `scale` metres."""
    kind = ("box", "sphere", "cylinder")[rng.integers(3)]
    if kind == "box":
        size = tuple(float(v) for v in rng.uniform(0.4, 1.0, size=3) * scale)
    elif kind == "sphere":
        size = (float(rng.uniform(0.5, 0.9) * scale),) * 3
    else:
        radius = float(rng.uniform(0.3, 0.7) * scale)
        size = (radius, radius, float(rng.uniform(0.5, 1.2) * scale))
    return Primitive(kind=kind, size=size, material=material)


def _clear_of_cameras(centres: np.ndarray, radius: float, eyes: np.ndarray) -> bool:
    """True when every (centre, eye) pair is farther apart than radius + CLEARANCE."""
    return bool(np.all(np.linalg.norm(centres[:, None] - eyes[None], axis=-1) > radius + CLEARANCE))


def _place_static(rng: np.random.Generator, prim: Primitive, stage: float, eyes: np.ndarray) -> np.ndarray | None:
    """A resting pose (4, 4) within 1.6 * stage of the stage centre clear of all cameras, or None."""
    for _ in range(MAX_PLACEMENT_TRIES):
        angle, dist = rng.uniform(0.0, 2 * np.pi), stage * np.sqrt(rng.uniform(0.0, 1.6 ** 2))
        centre = np.array([dist * np.cos(angle), dist * np.sin(angle), prim.size[2]])
        if _clear_of_cameras(centre[None], prim.bounding_radius, eyes):
            o2w = np.eye(4)
            o2w[:3, :3] = yaw_matrix(np.array(rng.uniform(0.0, 2 * np.pi)))
            o2w[:3, 3] = centre
            return o2w
    return None


def _place_dynamic(rng: np.random.Generator, prim: Primitive, stage: float, s: np.ndarray,
                   eyes: np.ndarray) -> np.ndarray | None:
    """(N, 4, 4) poses crossing the stage clear of all cameras, or None."""
    for _ in range(MAX_PLACEMENT_TRIES):
        heading, offset = rng.uniform(0.0, 2 * np.pi), rng.uniform(-0.4, 0.4) * stage
        along = np.array([np.cos(heading), np.sin(heading), 0.0])
        across = np.array([-along[1], along[0], 0.0])
        half = rng.uniform(0.6, 1.0) * stage
        base = offset * across + np.array([0.0, 0.0, prim.size[2]])
        o2w = object_trajectory(rng, s, start=base - half * along, end=base + half * along)
        if _clear_of_cameras(o2w[:, :3, 3], prim.bounding_radius, eyes):
            return o2w
    return None


def _room(rng: np.random.Generator, half: np.ndarray) -> tuple[list[Primitive], list[np.ndarray]]:
    """Floor, ceiling and four walls of the box [-hx, hx] x [-hy, hy] x [0, 2 hz], facing inwards.

    Each face is a plane primitive 1 cm larger than the box, so rays cannot slip through the
    seams; the overhang lies behind the neighbouring face and is never seen.
    """
    floor, ceiling, walls = (sample_material(rng, period_range=(0.3, 1.0)) for _ in range(3))
    ex, ey, ez = np.eye(3)
    faces = [  # (material, centre, local x axis, local y axis): local z = x cross y is the normal
        (floor, [0.0, 0.0, 0.0], ex, ey), (ceiling, [0.0, 0.0, 2 * half[2]], ey, ex),
        (walls, [-half[0], 0.0, half[2]], ey, ez), (walls, [half[0], 0.0, half[2]], ez, ey),
        (walls, [0.0, -half[1], half[2]], ez, ex), (walls, [0.0, half[1], half[2]], ex, ez),
    ]
    prims, poses = [], []
    for material, centre, axis_x, axis_y in faces:
        o2w = np.eye(4)
        o2w[:3, :3] = np.stack([axis_x, axis_y, np.cross(axis_x, axis_y)], axis=1)
        o2w[:3, 3] = centre
        extent = (float(np.abs(axis_x) @ half + 0.01), float(np.abs(axis_y) @ half + 0.01), 0.0)
        prims.append(Primitive("plane", extent, material))
        poses.append(o2w)
    return prims, poses


def _background(rng: np.random.Generator, setting: Setting,
                eyes: np.ndarray) -> tuple[list[Primitive], list[np.ndarray]]:
    """Static surroundings: a room holding every camera, or a ground plane plus far boxes."""
    if setting == "indoor":
        reach = np.abs(eyes).max(axis=0) + 0.5
        half = np.array([max(rng.uniform(4.0, 6.0), reach[0]), max(rng.uniform(4.0, 6.0), reach[1]),
                         rng.uniform(1.3, 1.8)])
        return _room(rng, half)
    prims = [Primitive("plane", (2000.0, 2000.0, 0.0), sample_material(rng, period_range=(0.5, 2.0)))]
    poses = [np.eye(4)]
    for angle in rng.uniform(0.0, 2 * np.pi, size=int(rng.integers(6, 10))):
        half = tuple(float(v) for v in rng.uniform(20.0, 80.0, size=3))
        dist = rng.uniform(FAR_MIN, FAR_MAX)
        o2w = np.eye(4)
        o2w[:3, :3] = yaw_matrix(np.array(angle + rng.uniform(-0.5, 0.5)))
        o2w[:3, 3] = [dist * np.cos(angle), dist * np.sin(angle), half[2]]
        prims.append(Primitive("box", half, sample_material(rng, period_range=(5.0, 30.0))))
        poses.append(o2w)
    return prims, poses


def sample_scene(spec: SceneSpec) -> Scene:
    """Draw a scene and its camera trajectory, deterministic in `spec`."""
    rng = np.random.default_rng([spec.seed, 0])
    frames, setting = spec.frames, spec.setting
    s = normalised_time(frames)
    stage = rng.uniform(1.2, 1.8) if setting == "indoor" else rng.uniform(2.5, 5.0)
    centre = np.array([0.0, 0.0, rng.uniform(0.5, 0.9)])
    c2w = camera_trajectory(rng, spec.camera_motion, s, stage_centre=centre, distance=2.0 * stage,
                            height=rng.uniform(0.3, 0.9))
    eyes = c2w[:, :3, 3]
    prims, poses = _background(rng, setting, eyes)
    object_scale = 0.35 if setting == "indoor" else 0.8
    for _ in range(spec.static_objects):
        prim = _solid(rng, object_scale * rng.uniform(0.7, 1.5), sample_material(rng, period_range=(0.05, 0.3)))
        o2w = _place_static(rng, prim, stage, eyes)
        if o2w is not None:
            prims.append(prim)
            poses.append(np.broadcast_to(o2w, (frames, 4, 4)))
    static_count = len(prims)
    for _ in range(spec.dynamic_objects):
        prim = _solid(rng, object_scale, sample_material(rng, period_range=(0.05, 0.3)))
        o2w = _place_dynamic(rng, prim, stage, s, eyes)
        if o2w is not None:
            prims.append(prim)
            poses.append(o2w)
    o2w_all = np.stack([np.broadcast_to(p, (frames, 4, 4)) for p in poses], axis=1)
    dynamic = np.arange(len(prims)) >= static_count
    elevation, azimuth = rng.uniform(0.5, 1.2), rng.uniform(0.0, 2 * np.pi)
    light = np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    k = intrinsics_from_fov(spec.width, spec.height, np.deg2rad(spec.fov_deg))
    return Scene(setting=setting, camera_motion=spec.camera_motion, primitives=tuple(prims), o2w=o2w_all,
                 dynamic=dynamic, c2w=c2w, intrinsics=np.tile(k, (frames, 1, 1)), light_dir=light,
                 height=spec.height, width=spec.width)
