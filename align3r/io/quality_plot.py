"""`quality.png`: the quality report of a reconstruction (`meta["quality"]`) drawn as one image.

Left, per frame: the median confidence; the pair residual and the depth consistency with the
neighbouring frames (relative, in %); the camera's step from the previous frame (translation
relative to the median depth, rotation in degrees); the prior's per-frame scale relative to the
reconstruction. Right: the camera path seen from above (world x right, z up the page: the world's
y axis points down in the OpenCV camera of its reference frame). Flagged frames are red.
Drawn with matplotlib's object API (no pyplot state); without matplotlib nothing is drawn.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np

from align3r.reconstruction import Reconstruction

logger = logging.getLogger(__name__)

QUALITY_PLOT = "quality.png"
"""File name of the plot in an output folder."""
PLOT_SIZE = (960, 560)
"""(width, height) of the plot in pixels."""
DPI = 80
FLAG_COLOUR = "#d62728"


def _values(quality: dict[str, Any], key: str, count: int) -> np.ndarray:
    """(count,) float64 of a per-frame list (None as NaN; all NaN when the key is absent or None)."""
    values = quality.get(key)
    return np.full(count, np.nan) if values is None else np.array(values, dtype=np.float64)


def _per_frame_panels(axes: list[Any], rec: Reconstruction, quality: dict[str, Any], flagged: np.ndarray) -> None:
    """Draw the four per-frame panels onto `axes` (sharing the frame axis)."""
    n = rec.num_frames
    frames = np.arange(n)
    conf, pairs, consistency, scale = (_values(quality, key, n) for key in (
        "frame_median_conf", "frame_median_residual", "frame_consistency", "frame_prior_scale"))
    steps = np.concatenate([[np.nan], _values(quality, "step_translation", n - 1)]) / float(np.median(rec.depths))
    turns = np.concatenate([[np.nan], _values(quality, "step_rotation_deg", n - 1)])
    axes[0].plot(frames, conf, ".-", color="#1f77b4")
    axes[0].set_ylabel("median conf")
    axes[1].plot(frames, 100 * pairs, ".-", color="#9467bd", label="pair residual")
    axes[1].plot(frames, 100 * consistency, ".-", color="#2ca02c", label="depth vs neighbours")
    axes[1].set_ylabel("residual (%)")
    axes[1].legend(loc="best", fontsize="small", frameon=False)
    axes[2].plot(frames, 100 * steps, ".-", color="#8c564b")
    axes[2].set_ylabel("move (% depth)", color="#8c564b")
    turn_axis = axes[2].twinx()
    turn_axis.plot(frames, turns, ".-", color="#e377c2")
    turn_axis.set_ylabel("turn (deg)", color="#e377c2")
    spread = quality.get("prior_scale_spread")
    axes[3].plot(frames, scale, ".-", color="#ff7f0e")
    axes[3].axhline(1.0, color="grey", linewidth=0.8)
    axes[3].set_ylabel("prior scale")
    axes[3].set_title("prior scale per frame (1 = median)" + ("" if spread is None else f", spread {spread:.3f}"),
                      fontsize="small", loc="left")
    axes[3].set_xlabel("frame")
    for ax in axes:
        for n_flagged in np.flatnonzero(flagged):
            ax.axvspan(n_flagged - 0.5, n_flagged + 0.5, color=FLAG_COLOUR, alpha=0.2, linewidth=0)
        ax.grid(alpha=0.3)


def _camera_path(ax: Any, rec: Reconstruction, flagged: np.ndarray) -> None:
    """Top view of the camera centres (x, z), coloured by frame, flagged frames ringed in red."""
    centres = rec.poses_c2w[:, :3, 3]
    ax.plot(centres[:, 0], centres[:, 2], color="grey", linewidth=0.8)
    points = ax.scatter(centres[:, 0], centres[:, 2], c=np.arange(rec.num_frames), cmap="viridis", s=14, zorder=3)
    ax.scatter(centres[flagged, 0], centres[flagged, 2], s=70, facecolors="none", edgecolors=FLAG_COLOUR,
               linewidths=1.5, zorder=4, label="flagged")
    ax.annotate("start", centres[0, [0, 2]], textcoords="offset points", xytext=(4, 4), fontsize="small")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x")
    ax.set_ylabel("z")
    ax.set_title("camera path, top view", fontsize="small")
    ax.grid(alpha=0.3)
    ax.figure.colorbar(points, ax=ax, label="frame", shrink=0.8)


def quality_png(rec: Reconstruction) -> bytes | None:
    """The PNG bytes of `rec`'s quality report (`PLOT_SIZE` pixels), or None without a report or
    without matplotlib (one warning naming the extra that installs it)."""
    quality = rec.meta.get("quality")
    if quality is None:
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("%s not drawn: it needs matplotlib (pip install 'align3r[report]')", QUALITY_PLOT)
        return None
    figure = Figure(figsize=(PLOT_SIZE[0] / DPI, PLOT_SIZE[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(4, 2, width_ratios=(1.6, 1))
    axes = [figure.add_subplot(grid[0, 0])]
    axes += [figure.add_subplot(grid[k, 0], sharex=axes[0]) for k in range(1, 4)]
    flagged = np.isin(np.array(rec.names), list(quality.get("flagged", {})))
    _per_frame_panels(axes, rec, quality, flagged)
    _camera_path(figure.add_subplot(grid[:, 1]), rec, flagged)
    figure.suptitle(f"quality report: {rec.num_frames} frames, {int(flagged.sum())} flagged", fontsize="medium")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
