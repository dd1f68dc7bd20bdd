"""`align3r view`: a viser web viewer of a saved reconstruction, read lazily frame by frame.

The scene: the current frame's points (RGB, confidence or dynamic-mask colours), optionally all
frames fused under a point budget, every camera frustum plus the trajectory as one line set,
and the current camera with its image. The GUI: a timeline slider with play/pause and fps,
point controls, a follow-camera mode that looks through the current frame's camera, and the
quality report (`quality.png` and the flagged frames) when the folder has one.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from align3r.errors import require
from align3r.io.export.frames import ColourMode, FramePoints, frame_points, point_colours, sampled_range
from align3r.io.export.points import camera_segments, fused_points
from align3r.io.quality_plot import QUALITY_PLOT
from align3r.io.results import OutputFolder

logger = logging.getLogger(__name__)

COLOUR_MODES: tuple[ColourMode, ...] = ("rgb", "confidence", "dynamic")
FRAME_CACHE = 8
"""Frames kept decoded in memory (the timeline revisits neighbours)."""
THUMBNAIL_SIDE = 256
"""Longest side of the image shown in the current camera's frustum."""
FLAGGED_LISTED = 10
"""Flagged frames listed by name in the quality panel."""


def c2w_to_wxyz_position(c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(4, 4) OpenCV camera-to-world -> viser's (wxyz of R_c2w, camera centre); viser cameras are OpenCV too."""
    import torch

    from align3r.geometry import qxyzw_to_qwxyz, rotmat_to_qxyzw

    qwxyz = qxyzw_to_qwxyz(rotmat_to_qxyzw(torch.from_numpy(c2w[:3, :3])))
    return qwxyz.numpy(), c2w[:3, 3].copy()


def thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 image shrunk (by striding) so that its longest side is at most `side`."""
    step = max(1, int(np.ceil(max(image.shape[:2]) / side)))
    return np.ascontiguousarray(image[::step, ::step])


def quality_markdown(quality: dict[str, Any]) -> str:
    """Markdown of a quality report's flagged frames (the first `FLAGGED_LISTED` by name) and its
    consistency numbers, for the viewer's panel."""
    flagged = quality.get("flagged", {})
    lines = [f"**{len(flagged)} frame(s) flagged**"]
    lines += [f"- {name}: {', '.join(why)}" for name, why in list(flagged.items())[:FLAGGED_LISTED]]
    if len(flagged) > FLAGGED_LISTED:
        lines.append(f"- ... and {len(flagged) - FLAGGED_LISTED} more (reconstruction.json)")
    consistency = [v for v in quality.get("frame_consistency") or [] if v is not None]
    if consistency:
        lines.append(f"\nDepth vs neighbours: median {100 * float(np.median(consistency)):.2f} %")
    if quality.get("prior_scale_spread") is not None:
        lines.append(f"\nPrior scale spread: {100 * quality['prior_scale_spread']:.1f} %")
    return "\n".join(lines)


def frustum_scale(depth: float, fov: float, aspect: float) -> float:
    """viser's frustum `scale` that puts the image plane at z-depth `depth`.

    viser divides the frustum (x, y, z) = (tan(fov/2) aspect, tan(fov/2), 1) by the cube root of
    x y z / 3 before multiplying by `scale` (client CameraFrustumVariants.tsx), so
    scale = depth * cbrt(tan(fov/2)^2 aspect / 3).
    """
    return depth * float(np.cbrt(np.tan(fov / 2) ** 2 * aspect / 3))


@dataclass(frozen=True)
class SceneScale:
    """Sizes derived from the first frame so that points and frustums look right at any scale."""

    median_depth: float
    """Median valid depth of the first frame."""
    point_size: float
    """World size of one point: 1.5 pixel footprints at that depth."""
    frustum_depth: float
    """Depth of the drawn frustums: 15% of that depth."""


def scene_scale(source: OutputFolder) -> SceneScale:
    """Point and frustum sizes from frame 0's median valid depth and focal length."""
    depth = source.depth(0)
    valid = depth[np.isfinite(depth) & (depth > 0)]
    median = float(np.median(valid)) if valid.size else 1.0
    return SceneScale(median_depth=median, point_size=1.5 * median / float(source.intrinsics[0, 0, 0]),
                      frustum_depth=0.15 * median)


class Viewer:
    """A viser server showing one output folder; GUI callbacks update the scene in place."""

    def __init__(self, folder: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8080,
                 frame_points_max: int = 150_000, all_points_budget: int = 1_000_000) -> None:
        """Open `folder` (lazily) and start serving; nothing blocks, see `serve_forever`.

        Args:
            folder: an output folder written by `save_reconstruction`.
            host: interface to listen on (loopback by default).
            port: TCP port (viser moves to the next free one when taken).
            frame_points_max: most points drawn for the current frame.
            all_points_budget: initial point budget of "show all frames".
        """
        viser = require("viser", "viewer", feature="the viewer")
        self.source = OutputFolder(folder)
        self.scale = scene_scale(self.source)
        self.log_conf_range = sampled_range(self.source, "log_conf")
        self.frame_points_max = frame_points_max
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.server.scene.set_up_direction("-y")  # OpenCV world of the first camera: y points down
        self.all_cloud: Any = None
        self._frame_cache = functools.lru_cache(maxsize=FRAME_CACHE)(self._load_frame)
        self._all_cache = functools.lru_cache(maxsize=1)(self._load_all_frames)
        self._add_gui(all_points_budget)
        self._add_static_scene()
        self.show_frame(0)
        self._player = threading.Thread(target=self._play_loop, name="align3r-view-player", daemon=True)
        self._player.start()

    @property
    def url(self) -> str:
        """Address to open in a browser."""
        return f"http://{self.server.get_host()}:{self.server.get_port()}"

    def _add_gui(self, all_points_budget: int) -> None:
        gui, n = self.server.gui, self.source.num_frames
        conf_max = float(np.exp(self.log_conf_range[1]))
        with gui.add_folder("Timeline"):
            self.frame = gui.add_slider("Frame", min=0, max=max(n - 1, 1), step=1, initial_value=0, disabled=n == 1)
            self.playing = gui.add_checkbox("Play", initial_value=False)
            self.fps = gui.add_slider("FPS", min=1, max=60, step=1, initial_value=10)
        with gui.add_folder("Points"):
            self.colour_by = gui.add_dropdown("Colour by", COLOUR_MODES, initial_value="rgb")
            self.point_size = gui.add_slider("Point size", min=0.0, max=round(8 * self.scale.point_size, 6),
                                             step=round(self.scale.point_size / 10, 8),
                                             initial_value=round(self.scale.point_size, 8))
            self.min_conf = gui.add_slider("Min confidence", min=1.0, max=round(max(conf_max, 1.01), 3), step=0.01,
                                           initial_value=1.0)
            self.show_all = gui.add_checkbox("Show all frames", initial_value=False)
            self.budget = gui.add_number("Point budget", initial_value=all_points_budget, min=1000, step=1000)
        with gui.add_folder("Cameras"):
            self.show_cameras = gui.add_checkbox("Show cameras", initial_value=True)
            self.follow = gui.add_checkbox("Follow camera", initial_value=False)
        plot = self.source.folder / QUALITY_PLOT
        self.quality_image: Any = None
        if plot.is_file():
            with gui.add_folder("Quality report", expand_by_default=False):
                gui.add_markdown(quality_markdown(self.source.meta.get("quality", {})))
                self.quality_image = gui.add_image(np.asarray(Image.open(plot).convert("RGB")), format="png")
        self.frame.on_update(lambda _: self.show_frame(int(self.frame.value)))
        for control in (self.colour_by, self.point_size, self.min_conf):
            control.on_update(lambda _: self._refresh())
        for control in (self.show_all, self.budget):
            control.on_update(lambda _: self._update_all_frames())
        self.show_cameras.on_update(lambda _: self._update_camera_visibility())
        self.follow.on_update(lambda _: self._follow_current())

    def _add_static_scene(self) -> None:
        segments, colours = camera_segments(self.source, self.scale.frustum_depth)
        self.camera_lines = self.server.scene.add_line_segments(
            "/cameras/all", points=segments.astype(np.float32), colors=np.repeat(colours[:, None], 2, axis=1),
            thickness=2.0, thickness_units="screen")
        centre, forward, down = (self.source.poses_c2w[0, :3, k] for k in (3, 2, 1))
        distance = self.scale.median_depth
        self.server.initial_camera.position = centre - 0.1 * distance * forward - 0.05 * distance * down
        self.server.initial_camera.look_at = centre + distance * forward

    def _load_frame(self, i: int, min_conf: float) -> FramePoints:
        return frame_points(self.source, i, min_conf=min_conf, max_points=self.frame_points_max)

    def _load_all_frames(self, budget: int) -> FramePoints:
        """Every frame's points, an equal share of `budget` each, before any confidence threshold
        (so that moving the threshold reads nothing from disk)."""
        points = fused_points(self.source, min_conf=1.0, static_only=False, max_points=budget, seed=0)
        logger.info("show all frames: %d points from %d frames", len(points.conf), self.source.num_frames)
        return points

    def _draw_points(self, name: str, points: FramePoints) -> Any:
        """Add (or replace) the point cloud `name` with the chosen colours and size; returns its handle."""
        colours = point_colours(points, self.colour_by.value, log_conf_range=self.log_conf_range)
        return self.server.scene.add_point_cloud(name, points=points.pts_world, colors=colours, precision="float32",
                                                 point_size=float(self.point_size.value), point_shape="square")

    def show_frame(self, i: int) -> None:
        """Draw frame i: its points, its camera with the image, and move the view when following."""
        with self._lock:
            i = min(max(i, 0), self.source.num_frames - 1)
            self.frame_cloud = self._draw_points("/frame/points", self._frame_cache(i, float(self.min_conf.value)))
            wxyz, position = c2w_to_wxyz_position(self.source.poses_c2w[i])
            height, width = self.source.size
            fov = 2 * float(np.arctan2(height / 2, self.source.intrinsics[i, 1, 1]))
            self.current_camera = self.server.scene.add_camera_frustum(
                "/cameras/current", fov=fov, aspect=width / height,
                scale=frustum_scale(self.scale.frustum_depth, fov, width / height),
                image=thumbnail(self.source.image(i)), format="jpeg",
                wxyz=wxyz, position=position, color=(255, 60, 60), thickness=3.0, thickness_units="screen",
                visible=bool(self.show_cameras.value))
            self._follow_current()

    def _refresh(self) -> None:
        self.show_frame(int(self.frame.value))
        self._update_all_frames()

    def _update_all_frames(self) -> None:
        """Draw (or hide) every frame's points above the threshold, at most an equal share of the budget each."""
        with self._lock:
            if not self.show_all.value:
                self.server.scene.remove_by_name("/all/points")
                self.all_cloud = None
                return
            every = self._all_cache(int(self.budget.value))
            keep = every.conf >= float(self.min_conf.value)
            self.all_cloud = self._draw_points("/all/points", every.subset(keep))

    def _update_camera_visibility(self) -> None:
        self.camera_lines.visible = bool(self.show_cameras.value)
        self.current_camera.visible = bool(self.show_cameras.value)

    def _follow_current(self) -> None:
        """Put every connected browser's view at the current frame's camera (when following)."""
        if not self.follow.value:
            return
        i = int(self.frame.value)
        wxyz, position = c2w_to_wxyz_position(self.source.poses_c2w[i])
        fov = 2 * np.arctan2(self.source.size[0] / 2, float(self.source.intrinsics[i, 1, 1]))
        for client in self.server.get_clients().values():
            with client.atomic():
                client.camera.wxyz = wxyz
                client.camera.position = position
                client.camera.fov = float(fov)

    def _play_loop(self) -> None:
        while not self._stop.wait(1.0 / max(float(self.fps.value), 1.0)):
            if self.playing.value and self.source.num_frames > 1:
                self.frame.value = (int(self.frame.value) + 1) % self.source.num_frames

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl+C), then close."""
        try:
            self._stop.wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop playing and shut the server down."""
        self._stop.set()
        self.server.stop()
