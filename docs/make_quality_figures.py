"""Regenerate docs/quality.png and docs/aligned_prior.png (needs matplotlib and PyAV; about 15 minutes
on 2 busy CPU cores): python docs/make_quality_figures.py [WORK_FOLDER]; and docs/aligned_prior_real.png
from a real video's run: python docs/make_quality_figures.py --real OUT PRIOR_DIR FRAME

- quality.png: the quality report that `align3r demo` writes with its output folder.
- aligned_prior_real.png: one frame of a real video's output folder `OUT`, written by `align3r run
  VIDEO -o OUT --prior files:PRIOR_DIR --aligned-prior`: the prior file, align3r's depth (upsampled)
  and the aligned prior at the frame's own resolution.
- aligned_prior.png: a rendered clip (24 frames of 340x192, held-out seed) encoded as an mp4 with
  PyAV, its calibrated Depth-Pro-style simulated prior written as `files:` maps named like the
  video's frames, run through `align3r run CLIP --model tiny --flow dis --prior files:DIR
  --aligned-prior`; one frame of the prior alone, align3r's depth (upsampled bilinearly) and the
  aligned prior (`aligned_prior/full_res/`), all on the frame's own 340x192 grid. Prints each
  depth's errors against the renderer's exact depth: Abs Rel after one scale and shift per video
  (official protocol) and the temporal alignment error under the exact cameras.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from align3r.cli import main
from align3r.data.synthetic import PRIOR_PRESETS, SynthConfig, generate_sequence
from align3r.eval.demo import HELD_OUT_SEED
from align3r.eval.metrics import fit_sequence_alignment, video_depth_metrics
from align3r.eval.temporal import aligned_temporal_alignment_error
from align3r.infer.preprocess import frame_transform
from align3r.io.results import load_reconstruction
from align3r.pipeline.full_res import full_resolution

DOCS = Path(__file__).parent
CLIP = SynthConfig(frames=24, width=340, height=192, seed=HELD_OUT_SEED + 3, priors=PRIOR_PRESETS["calibrated"])
SHOWN_FRAME = 6
"""A frame whose fit is not a fallback (frames 11 and 12 are: the tiny model's depth there is flat)."""


def small_png(source: Path, dest: Path, colours: int = 128) -> None:
    """Copy a PNG with an adaptive palette of `colours` (a few times smaller, the same look)."""
    Image.open(source).convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)


def write_clip(frames: np.ndarray, path: Path, fps: int = 10) -> None:
    """(N, H, W, 3) uint8 frames -> an H.264 mp4."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def side_by_side(rgb: np.ndarray, depths: dict[str, np.ndarray], dest: Path) -> None:
    """The frame and its depth maps in a row (inverse depth, each map on its own 2-98 % range)."""
    figure = Figure(figsize=(11.2, 1.9), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 1 + len(depths))
    axes[0].imshow(rgb)
    axes[0].set_title("frame", fontsize="small")
    for ax, (title, depth) in zip(axes[1:], depths.items()):
        disparity = 1 / depth
        low, high = np.percentile(disparity, [2, 98])
        ax.imshow(disparity, cmap="turbo", vmin=low, vmax=high)
        ax.set_title(title, fontsize="small")
    for ax in axes:
        ax.set_axis_off()
    figure.savefig(dest.with_suffix(".full.png"), dpi=80)
    small_png(dest.with_suffix(".full.png"), dest)
    dest.with_suffix(".full.png").unlink()


def scores(name: str, pred: np.ndarray, gt: np.ndarray, sequence) -> str:
    """A markdown row: Abs Rel, delta < 1.25 and TAE (exact cameras) of `pred` against `gt`."""
    depth = video_depth_metrics(pred, gt)
    tae = aligned_temporal_alignment_error(pred, sequence.poses_c2w, sequence.intrinsics,
                                           fit_sequence_alignment(pred, gt))
    return f"| {name} | {depth.abs_rel:.4f} | {depth.delta1:.4f} | {100 * tae.tae:.2f} |"


def aligned_prior_figure(work: Path) -> None:
    sequence = generate_sequence(CLIP)
    write_clip(sequence.images, work / "clip.mp4")
    (work / "prior").mkdir()
    prior = sequence.priors["depth-pro"].depth_metric
    for i, values in enumerate(prior):
        np.save(work / "prior" / f"frame_{i:06d}.npy", values)
    assert main(["run", str(work / "clip.mp4"), "-o", str(work / "out"), "--model", "tiny", "--flow", "dis",
                 "--prior", f"files:{work / 'prior'}", "--aligned-prior", "--overwrite"]) == 0
    ours = load_reconstruction(work / "out")
    aligned = load_reconstruction(work / "out" / "aligned_prior" / "full_res")
    frames = aligned.images  # the decoded mp4 frames
    upsampled = full_resolution(ours, frames, frame_transform(*frames.shape[1:3], size=ours.meta["config"]["size"]))
    gt = np.where(sequence.valid_masks, sequence.depths, 0)
    depths = {"prior alone": prior, "align3r (tiny)": upsampled.depths, "aligned prior": aligned.depths}
    print("| 340x192, 24 frames | Abs Rel | δ<1.25 | TAE (%) |\n|---|---:|---:|---:|")
    for name, pred in depths.items():
        print(scores(name, pred, gt, sequence))
    fit, quality = ours.meta["aligned_prior"], ours.meta["quality"]
    residual = [r for r in fit["residual"] if r is not None]
    print(f"fit: median residual {np.median(residual):.4f}, fallback {fit['fallback']}, "
          f"pixels {min(fit['pixels'])}-{max(fit['pixels'])}; quality: prior scale spread "
          f"{quality['prior_scale_spread']}, depth vs neighbours median "
          f"{np.median([c for c in quality['frame_consistency'] if c is not None]):.4f} "
          f"({quality['consistency_pairs']}), flagged {quality['flagged']}")
    assert ours.names[SHOWN_FRAME] not in fit["fallback"], "show a frame whose prior was aligned"
    side_by_side(frames[SHOWN_FRAME], {name: depth[SHOWN_FRAME] for name, depth in depths.items()},
                 DOCS / "aligned_prior.png")


def real_video_figure(out: Path, prior_dir: Path, frame: int) -> None:
    ours = load_reconstruction(out)
    aligned = load_reconstruction(out / "aligned_prior" / "full_res")
    frames = aligned.images
    upsampled = full_resolution(ours, frames, frame_transform(*frames.shape[1:3], size=ours.meta["config"]["size"]))
    prior = np.load(prior_dir / f"{ours.names[frame]}.npy")
    assert ours.names[frame] not in ours.meta["aligned_prior"]["fallback"], "show a frame whose prior was aligned"
    side_by_side(frames[frame], {"prior file": prior, "align3r (tiny)": upsampled.depths[frame],
                                 "aligned prior": aligned.depths[frame]}, DOCS / "aligned_prior_real.png")


def main_figures(work: Path) -> None:
    assert main(["demo", "-o", str(work / "demo"), "--overwrite"]) == 0
    small_png(work / "demo" / "quality.png", DOCS / "quality.png")
    aligned_prior_figure(work)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--real"]:
        real_video_figure(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1:
        main_figures(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main_figures(Path(folder))
