"""Ray casting of analytic primitives, vectorised over pixels with numpy: exact z-depth, the
surface hit per pixel, procedural textures and Lambertian shading from one directional light.

Rays are written in the camera frame as d = ((u - cx) / fx, (v - cy) / fy, 1), so the ray
parameter t of a hit is its z-depth in every rigidly moved frame. Ray and point sets are stored
one per column, (3, M), so that each coordinate is a contiguous row. Each primitive is tested only
on the rays inside the image rectangle of its bounding box, which keeps a frame fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from align3r.data.synthetic.scene import Primitive, Scene
from align3r.data.synthetic.textures import texture_rgb

T_MIN = 1e-6  # metres: hits closer than this along the ray are ignored
AMBIENT = 0.3
SKY_HORIZON = np.array([0.85, 0.9, 0.95])
SKY_ZENITH = np.array([0.35, 0.55, 0.85])


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """One rendered view."""

    rgb: np.ndarray
    """(H, W, 3) uint8."""
    depth: np.ndarray
    """(H, W) float32 z-depth in metres, 0 where no surface."""
    primitive_ids: np.ndarray
    """(H, W) int32 index into `Scene.primitives` of the visible surface, -1 where none."""


def pixel_rays(intrinsics: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-frame rays through pixel centres (u, v) = (column, row), z = 1.

    Returns:
        (3, H * W) float64, pixels row-major over (v, u).
    """
    v, u = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    x = (u - intrinsics[0, 2]) / intrinsics[0, 0]
    y = (v - intrinsics[1, 2]) / intrinsics[1, 1]
    return np.stack([x.ravel(), y.ravel(), np.ones(height * width)])


def _candidates(dirs_cam: np.ndarray, corners_cam: np.ndarray) -> np.ndarray | slice:
    """Rays (3, M), z = 1, that may meet a primitive inside a box of 8 camera-frame corners.

    The part of the box in front of the camera (z >= T_MIN) is a convex polytope whose vertices
    are the front corners and the crossings of the box edges with the plane z = T_MIN; its image
    lies within the bounding rectangle of those projected vertices.
    """
    front = corners_cam[:, 2] >= T_MIN
    if not front.any():
        return np.zeros(0, dtype=np.int64)
    if front.all():
        vertices = corners_cam
    else:
        start, end = corners_cam[BOX_EDGES[:, 0]], corners_cam[BOX_EDGES[:, 1]]
        crossing = (start[:, 2] >= T_MIN) != (end[:, 2] >= T_MIN)
        start, end = start[crossing], end[crossing]
        fraction = (T_MIN - start[:, 2]) / (end[:, 2] - start[:, 2])
        vertices = np.concatenate([corners_cam[front], start + fraction[:, None] * (end - start)])
    projected = vertices[:, :2] / np.maximum(vertices[:, 2:], T_MIN)
    low, high = projected.min(axis=0), projected.max(axis=0)
    inside = ((dirs_cam[0] >= low[0]) & (dirs_cam[0] <= high[0])
              & (dirs_cam[1] >= low[1]) & (dirs_cam[1] <= high[1]))
    return np.flatnonzero(inside)


def _box_corners(half: np.ndarray) -> np.ndarray:
    """(8, 3) corners of the box [-half, half]; corner k has the signs of the bits of k (x: 4, y: 2, z: 1)."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    return signs * half


BOX_EDGES = np.array([(k, k | bit) for bit in (1, 2, 4) for k in range(8) if not k & bit])  # (12, 2) corner pairs


def _intersect_box(half: np.ndarray, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    t_near = np.full(dirs.shape[1], -np.inf)
    t_far = np.full(dirs.shape[1], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            inverse = 1.0 / dirs[axis]
            t1 = (-half[axis] - origin[axis]) * inverse
            t2 = (half[axis] - origin[axis]) * inverse
            np.maximum(t_near, np.minimum(t1, t2), out=t_near)
            np.minimum(t_far, np.maximum(t1, t2), out=t_far)
    return np.where((t_near <= t_far) & (t_near > T_MIN), t_near, np.inf)


def _intersect_sphere(radius: float, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    a = dirs[0] * dirs[0] + dirs[1] * dirs[1] + dirs[2] * dirs[2]
    b = origin @ dirs
    disc = b * b - a * (origin @ origin - radius * radius)
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    return np.where((disc >= 0) & (t > T_MIN), t, np.inf)


def _intersect_cylinder(radius: float, half_height: float, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    a = dirs[0] * dirs[0] + dirs[1] * dirs[1]
    b = origin[0] * dirs[0] + origin[1] * dirs[1]
    disc = b * b - a * (origin[0] ** 2 + origin[1] ** 2 - radius * radius)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
        z_side = origin[2] + t_side * dirs[2]
        t_side = np.where((disc >= 0) & (t_side > T_MIN) & (np.abs(z_side) <= half_height), t_side, np.inf)
        if abs(origin[2]) <= half_height:  # between the cap planes: only the side is visible
            return t_side
        t_cap = (np.sign(origin[2]) * half_height - origin[2]) / dirs[2]
        x, y = origin[0] + t_cap * dirs[0], origin[1] + t_cap * dirs[1]
    t_cap = np.where((t_cap > T_MIN) & (x * x + y * y <= radius * radius), t_cap, np.inf)
    return np.minimum(t_side, t_cap)


def _intersect_plane(half: np.ndarray, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -origin[2] / dirs[2]
    inside = (np.abs(origin[0] + t * dirs[0]) <= half[0]) & (np.abs(origin[1] + t * dirs[1]) <= half[1])
    return np.where((t > T_MIN) & inside, t, np.inf)


def intersect(prim: Primitive, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Ray parameters of the first hit with a primitive, in its own frame.

    Args:
        prim: the primitive.
        origin: (3,) ray origin in the primitive's frame.
        dirs: (3, M) ray directions in the primitive's frame (any length), one ray per column.

    Returns:
        (M,) float64 t > T_MIN of the nearest hit (point = origin + t dirs), inf on a miss.
    """
    size = np.asarray(prim.size)
    if prim.kind == "box":
        return _intersect_box(size, origin, dirs)
    if prim.kind == "sphere":
        return _intersect_sphere(size[0], origin, dirs)
    if prim.kind == "cylinder":
        return _intersect_cylinder(size[0], size[2], origin, dirs)
    return _intersect_plane(size, origin, dirs)


def surface_frame(prim: Primitive, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normals and texture coordinates at surface points of a primitive, in its own frame.

    Args:
        prim: the primitive.
        points: (3, M) points on its surface, one per column.

    Returns:
        normals (3, M) unit (sign arbitrary), uv (2, M) surface coordinates in metres.
    """
    size = np.asarray(prim.size, dtype=points.dtype)
    normals = np.zeros_like(points)
    if prim.kind == "plane":
        normals[2] = 1.0
        return normals, points[:2]
    if prim.kind == "box":
        rel = np.abs(points) / size[:, None]
        on_x = (rel[0] >= rel[1]) & (rel[0] >= rel[2])
        on_y = ~on_x & (rel[1] >= rel[2])
        normals[0], normals[1], normals[2] = on_x, on_y, ~(on_x | on_y)
        u = np.where(on_x, points[1], np.where(on_y, points[2], points[0]))
        v = np.where(on_x, points[2], np.where(on_y, points[0], points[1]))
        return normals, np.stack([u, v])
    around = size[0] * np.arctan2(points[1], points[0])
    if prim.kind == "sphere":
        return points / size[0], np.stack([around, points[2]])
    radial = np.maximum(np.hypot(points[0], points[1]), 1e-12)
    on_cap = np.abs(np.abs(points[2]) - size[2]) < np.abs(radial - size[0])
    normals[0], normals[1] = points[0] / radial, points[1] / radial
    normals[:, on_cap] = [[0.0], [0.0], [1.0]]
    uv = np.where(on_cap, points[:2], np.stack([around, points[2]]))
    return normals, uv


def trace(scene: Scene, frame: int, dirs_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest surface along camera rays of one frame.

    Args:
        scene: the scene.
        frame: frame index (camera and object poses).
        dirs_cam: (3, M) rays in the camera frame with z = 1.

    Returns:
        depth (M,) float64 z-depth (inf: no surface), ids (M,) int32 primitive index (-1: none).
    """
    dirs = np.ascontiguousarray(dirs_cam, dtype=np.float64)
    w2c = np.linalg.inv(scene.c2w[frame])
    depth = np.full(dirs.shape[1], np.inf)
    ids = np.full(dirs.shape[1], -1, dtype=np.int32)
    for index, prim in enumerate(scene.primitives):
        o2c = w2c @ scene.o2w[frame, index]
        rows = _candidates(dirs, _box_corners(prim.bounding_box) @ o2c[:3, :3].T + o2c[:3, 3])
        c2o_rot = o2c[:3, :3].T
        t = intersect(prim, -c2o_rot @ o2c[:3, 3], c2o_rot @ dirs[:, rows])
        closer = t < depth[rows]
        hit_rows = np.flatnonzero(closer) if isinstance(rows, slice) else rows[closer]
        depth[hit_rows] = t[closer]
        ids[hit_rows] = index
    return depth, ids


def _shade(scene: Scene, frame: int, dirs_cam: np.ndarray, depth: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(3, M) float32 RGB in [0, 1]: textured Lambertian surfaces, a sky gradient elsewhere.

    Colours are computed in float32 from the float64 depths and rays (3, M).
    """
    c2w = scene.c2w[frame]
    dirs_cam = dirs_cam.astype(np.float32)
    color = np.empty(dirs_cam.shape, dtype=np.float32)
    sky = np.flatnonzero(ids < 0)
    sky_world = c2w[:3, :3] @ dirs_cam[:, sky]
    elevation = np.clip(sky_world[2] / np.linalg.norm(sky_world, axis=0), 0.0, 1.0)
    color[:, sky] = SKY_HORIZON[:, None] * (1 - elevation) + SKY_ZENITH[:, None] * elevation
    for index in np.flatnonzero(np.bincount(ids + 1, minlength=len(scene.primitives) + 1)[1:]):
        prim, o2w, rows = scene.primitives[index], scene.o2w[frame, index], np.flatnonzero(ids == index)
        c2o_rot = (o2w[:3, :3].T @ c2w[:3, :3]).astype(np.float32)
        dirs = c2o_rot @ dirs_cam[:, rows]  # (3, m) in the primitive's frame
        origin = (o2w[:3, :3].T @ (c2w[:3, 3] - o2w[:3, 3])).astype(np.float32)
        points = origin[:, None] + depth[rows].astype(np.float32) * dirs
        normals, uv = surface_frame(prim, points)
        facing = np.sign(-(normals * dirs).sum(axis=0))
        lambert = np.maximum(0.0, facing * ((o2w[:3, :3].T @ scene.light_dir).astype(np.float32) @ normals))
        color[:, rows] = texture_rgb(prim.material, uv) * (AMBIENT + (1 - AMBIENT) * lambert)
    return color


def render_frame(scene: Scene, frame: int) -> RenderedFrame:
    """Render frame `frame` of the scene at its resolution (no anti-aliasing)."""
    height, width = scene.height, scene.width
    dirs_cam = pixel_rays(scene.intrinsics[frame], height, width)
    depth, ids = trace(scene, frame, dirs_cam)
    color = _shade(scene, frame, dirs_cam, depth, ids)
    rgb = (color.T * 255.0 + 0.5).astype(np.uint8).reshape(height, width, 3)
    depth_map = np.where(ids >= 0, depth, 0.0).astype(np.float32).reshape(height, width)
    return RenderedFrame(rgb=rgb, depth=depth_map, primitive_ids=ids.reshape(height, width))
