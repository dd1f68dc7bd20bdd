"""Side-by-side video RGB | colourised depth | colourised confidence, encoded with PyAV (H.264)."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np

from align3r.atomic import atomic_write
from align3r.errors import require
from align3r.io.export.frames import FrameSource, colourise, sampled_range
from align3r.io.export.options import ExportOptions, check_destination


def panel(source: FrameSource, i: int, *, depth_range: tuple[float, float],
          log_conf_range: tuple[float, float]) -> np.ndarray:
    """Frame i side by side: (H, 3W, 3) uint8 RGB | depth (turbo, near = blue) | log-confidence (turbo).

    Pixels without a valid depth are black in the depth panel.
    """
    depth = source.depth(i)
    valid = np.isfinite(depth) & (depth > 0)
    depth_rgb = colourise(np.where(valid, depth, 0), *depth_range)
    depth_rgb[~valid] = 0
    conf_rgb = colourise(np.log(source.conf(i)), *log_conf_range)
    return np.concatenate([source.image(i), depth_rgb, conf_rgb], axis=1)


def even_size(frame: np.ndarray) -> np.ndarray:
    """Pad (H, W, 3) with black to even H and W (yuv420p needs them)."""
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))


def encode(path: Path, source: FrameSource, fps: float) -> None:
    """Write every frame's panel to `path` as H.264 in MP4 (yuv420p, constant rate `fps`)."""
    av = require("av", "video", feature="mp4 export")
    depth_range, log_conf_range = sampled_range(source, "depth"), sampled_range(source, "log_conf")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        panels = (even_size(panel(source, i, depth_range=depth_range, log_conf_range=log_conf_range))
                  for i in range(source.num_frames))
        first = next(panels)
        stream.height, stream.width = first.shape[:2]
        for image in itertools.chain([first], panels):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def export_mp4(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """Write the side-by-side video to `dest` (atomically)."""
    check_destination(dest, overwrite=options.overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dest, lambda tmp: encode(tmp, source, options.fps))
    return [dest]
