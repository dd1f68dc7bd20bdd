"""Point-cloud exports through trimesh: PLY (fused, or one file per frame) and GLB (points plus
camera frustums and the trajectory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from align3r.atomic import atomic_write_bytes
from align3r.errors import require
from align3r.geometry import transform_points
from align3r.io.export.frames import FramePoints, FrameSource, colourise, frame_points
from align3r.io.export.options import ExportOptions, check_destination, staged_folder


def fused_points(source: FrameSource, *, min_conf: float, static_only: bool, max_points: int,
                 seed: int) -> FramePoints:
    """All frames' kept points in one cloud, each frame giving at most max_points // N of them
    (with more frames than max_points, the first max_points points)."""
    share = max(1, max_points // source.num_frames)
    frames = [frame_points(source, i, min_conf=min_conf, static_only=static_only, max_points=share, seed=seed)
              for i in range(source.num_frames)]
    merged = FramePoints.concatenate(frames)
    return merged if len(merged.conf) <= max_points else merged.subset(slice(0, max_points))


def ply_bytes(points: FramePoints) -> bytes:
    """Binary PLY of points with their RGB colours."""
    trimesh = require("trimesh", "export", feature="PLY/GLB exports")
    alpha = np.full((len(points.rgb), 1), 255, dtype=np.uint8)
    cloud = trimesh.PointCloud(points.pts_world.astype(np.float64), colors=np.hstack([points.rgb, alpha]))
    return cloud.export(file_type="ply", encoding="binary")


def export_ply(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """One fused PLY at `dest`, or with `per_frame` a folder `dest` of `<name>.ply` per frame."""
    keep = {"min_conf": options.min_conf, "static_only": options.static_only, "seed": options.seed}
    if not options.per_frame:
        check_destination(dest, overwrite=options.overwrite)
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest, ply_bytes(fused_points(source, max_points=options.max_points, **keep)))
        return [dest]
    with staged_folder(dest, overwrite=options.overwrite) as stage:
        for i, name in enumerate(source.names):
            points = frame_points(source, i, max_points=options.max_points, **keep)
            atomic_write_bytes(stage / f"{name}.ply", ply_bytes(points))
    return [dest / f"{name}.ply" for name in source.names]


def frustum_corners(intrinsics: np.ndarray, size: tuple[int, int], depth: float) -> np.ndarray:
    """Image corners at z-depth `depth`: (N, 4, 3) in each camera's frame (OpenCV), clockwise from top-left.

    Args:
        intrinsics: (N, 3, 3) pinhole K (integer pixel centres, so the image spans -0.5 .. W - 0.5).
        size: (H, W) in pixels.
        depth: z-depth of the corners.
    """
    height, width = size
    u = np.array([-0.5, width - 0.5, width - 0.5, -0.5])
    v = np.array([-0.5, -0.5, height - 0.5, height - 0.5])
    k = intrinsics[:, None]  # (N, 1, 3, 3)
    x = (u - k[..., 0, 2]) / k[..., 0, 0] * depth
    y = (v - k[..., 1, 2]) / k[..., 1, 1] * depth
    return np.stack([x, y, np.full_like(x, depth)], axis=-1)


def camera_segments(source: FrameSource, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Line segments of every frustum (8 per camera) and of the trajectory (N - 1).

    Returns:
        segments (S, 2, 3) float64 world points, colours (S, 3) uint8 (frustums by time, turbo;
        trajectory white).
    """
    n = source.num_frames
    corners_cam = frustum_corners(source.intrinsics, source.size, depth)  # (N, 4, 3) camera frame
    corners = transform_points(torch.from_numpy(source.poses_c2w), torch.from_numpy(corners_cam)).numpy()
    centres = np.repeat(source.poses_c2w[:, None, :3, 3], 4, axis=1)  # (N, 4, 3)
    rays = np.stack([centres, corners], axis=2)  # (N, 4, 2, 3)
    rims = np.stack([corners, np.roll(corners, -1, axis=1)], axis=2)  # (N, 4, 2, 3)
    frustums = np.concatenate([rays, rims], axis=1).reshape(-1, 2, 3)
    frustum_colours = np.repeat(colourise(np.arange(n, dtype=np.float64), 0, max(n - 1, 1)), 8, axis=0)
    track = np.stack([source.poses_c2w[:-1, :3, 3], source.poses_c2w[1:, :3, 3]], axis=1)
    track_colours = np.full((len(track), 3), 255, dtype=np.uint8)
    return np.concatenate([frustums, track]), np.concatenate([frustum_colours, track_colours])


def export_glb(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """A GLB scene at `dest`: the fused points (a POINTS primitive with colours), the camera
    frustums and the trajectory (LINES); frustums are 5% of the cloud's bounding-box diagonal deep."""
    trimesh = require("trimesh", "export", feature="PLY/GLB exports")
    check_destination(dest, overwrite=options.overwrite)
    points = fused_points(source, min_conf=options.min_conf, static_only=options.static_only,
                          max_points=options.max_points, seed=options.seed)
    alpha = np.full((len(points.rgb), 1), 255, dtype=np.uint8)
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.PointCloud(points.pts_world.astype(np.float64), colors=np.hstack([points.rgb, alpha])),
                       geom_name="points")
    extent = np.ptp(points.pts_world, axis=0) if len(points.conf) else np.ones(3)
    segments, colours = camera_segments(source, 0.05 * float(np.linalg.norm(extent)))
    entities = [trimesh.path.entities.Line([2 * k, 2 * k + 1]) for k in range(len(segments))]
    lines = trimesh.path.Path3D(entities=entities, vertices=segments.reshape(-1, 3), process=False)
    lines.colors = np.hstack([colours, np.full((len(colours), 1), 255, dtype=np.uint8)])
    scene.add_geometry(lines, geom_name="cameras")
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, scene.export(file_type="glb"))
    return [dest]
