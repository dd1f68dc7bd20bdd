"""Command-line entry point: one subcommand per job, a thin layer over the Python API.

Each subcommand is a pair (add_arguments, run) registered in `SUBCOMMANDS`; `run` returns the
exit code. User mistakes (`Align3rError`) print one line on stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from align3r.errors import Align3rError


def _add_convert(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="official .pth, HF folder, hub id or model name")
    parser.add_argument("out_dir", help="folder to write config.json + model.safetensors into")


def _run_convert(args: argparse.Namespace) -> int:
    from align3r.model.checkpoint import load_model, save_pretrained

    save_pretrained(load_model(args.checkpoint, device="cpu"), args.out_dir)
    print(f"wrote {args.out_dir}/config.json and {args.out_dir}/model.safetensors")
    return 0


def _add_synth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder to write the sequence into (must not exist or be empty)")
    parser.add_argument("--frames", type=int, default=24, help="number of frames N (default 24)")
    parser.add_argument("--seed", type=int, default=0, help="seed; same seed, same bytes (default 0)")
    parser.add_argument("--size", default="512x288", help="WxH in pixels (default 512x288)")
    parser.add_argument("--setting", default="any", help="indoor, outdoor or any (default any)")
    parser.add_argument("--camera", default="any", help="orbit, walk, rotation, static or any (default any)")
    parser.add_argument("--objects", type=int, default=None, help="moving objects 1-4 (default: drawn)")
    parser.add_argument("--prior", default="realistic",
                        help="simulated priors: realistic (mild), calibrated (errors of real priors, "
                             "benchmarks/prior_calibration.md) or exact (default realistic)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _run_synth(args: argparse.Namespace) -> int:
    from pathlib import Path

    from align3r.data.synthetic import PRIOR_PRESETS, SynthConfig, generate_sequence, write_sequence
    from align3r.data.synthetic.writer import check_output
    from align3r.errors import InputError

    width, _, height = args.size.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise InputError(f"--size must be WxH in pixels, e.g. 512x288 (got {args.size!r})")
    if args.prior not in PRIOR_PRESETS:
        raise InputError(f"--prior must be {' or '.join(PRIOR_PRESETS)} (got {args.prior!r})")
    config = SynthConfig(frames=args.frames, width=int(width), height=int(height), seed=args.seed,
                         setting=args.setting, camera_motion=args.camera, dynamic_objects=args.objects,
                         priors=PRIOR_PRESETS[args.prior])
    check_output(Path(args.out), overwrite=args.overwrite)
    out = write_sequence(generate_sequence(config), args.out, overwrite=args.overwrite)
    print(f"wrote {config.frames} frames {config.width}x{config.height} (seed {config.seed}) to {out}")
    return 0


def _add_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML file of TrainConfig fields (unknown keys are errors)")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint-last.pth")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting (YAML value syntax), e.g. --set epochs=2")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")


def _run_train(args: argparse.Namespace) -> int:
    import yaml

    from align3r.errors import InputError
    from align3r.settings import load_yaml
    from align3r.train.config import TrainConfig
    from align3r.train.run import train

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    progress = train(load_yaml(TrainConfig, args.config, overrides), resume=args.resume, device=args.device)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained to epoch {progress.epoch} ({progress.step} optimiser steps); best test median "
              f"{progress.best_so_far:.4g}")
    return 0


def _add_run(parser: argparse.ArgumentParser) -> None:
    from align3r.infer.flow import FLOW_NAMES
    from align3r.io.export.options import FORMATS
    from align3r.io.video import FrameSelection
    from align3r.pipeline.reconstruct import ReconstructConfig

    defaults, pick = ReconstructConfig(), FrameSelection()
    parser.add_argument("input", nargs="?", help="video file, folder of images, or a glob of images")
    parser.add_argument("-o", "--out", required=True, help="output folder (with --videos: one subfolder per video)")
    parser.add_argument("--videos", type=Path,
                        help="instead of INPUT: a text file listing videos (one per line), shared out over "
                             "torchrun's ranks: torchrun --nproc-per-node G -m align3r run --videos LIST -o OUT")
    parser.add_argument("--model", default="align3r-depthanything",
                        help="model name, .pth, folder or hub id (default align3r-depthanything)")
    parser.add_argument("--prior", default="depth-anything-v2-large",
                        help="depth-anything-v2-{small,base,large}, depth-pro, files:DIR, simulated:SEQ_DIR")
    parser.add_argument("--prior-kind", choices=["depth", "disparity"],
                        help="what files:/simulated: maps hold: metric depth (Depth Pro style, default) or affine "
                             "disparity (Depth Anything style)")
    parser.add_argument("--allow-prior-mismatch", action="store_true",
                        help="run a model with a prior of another kind than it was trained with")
    parser.add_argument("--mode", default=defaults.mode, choices=["auto", "global", "hierarchical"])
    parser.add_argument("--align-memory", type=float, default=defaults.align_memory_gb, metavar="GB",
                        help="--mode auto aligns globally while that needs at most GB (and half the free memory), "
                             f"hierarchically beyond (default {defaults.align_memory_gb:g})")
    parser.add_argument("--graph", default=defaults.graph, help=f"global-mode scene graph (default {defaults.graph})")
    parser.add_argument("--preset", default=defaults.preset, help="alignment preset: align3r, demo, pose_test, depth_test")
    parser.add_argument("--niter", type=int, default=defaults.niter, help=f"iterations per scene (default {defaults.niter})")
    parser.add_argument("--size", type=int, default=defaults.size,
                        help="long side of the network input (default: the model's training size, 512 for the "
                             "official models, 128 for tiny)")
    parser.add_argument("--force-size", action="store_true",
                        help="allow a --size above twice the model's training size or the frames' long side")
    parser.add_argument("--no-crop", action="store_true", help="resize to multiples of 16 instead of centre-cropping")
    parser.add_argument("--flow", default=defaults.flow, choices=[*FLOW_NAMES, "none"],
                        help="flow term and motion masks: sea-raft (official; DIS when its weights cannot be had), "
                             "raft (torchvision), dis (OpenCV) or none")
    parser.add_argument("--flow-weights", metavar="PATH_OR_HUB_ID",
                        help="SEA-RAFT weights: the official Tartan-C-T432x960-M.pth, a safetensors file or folder, "
                             "or a hub id (default: the hub copy, cache first)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--precision", default=defaults.precision, choices=["fp32", "bf16", "fp16"],
                        help="network precision: fp32 as the official (default); bf16/fp16 autocast for speed")
    parser.add_argument("--stride", type=int, default=pick.stride, help="keep every K-th frame")
    parser.add_argument("--max-frames", type=int, default=pick.max_frames)
    parser.add_argument("--start-time", type=float, default=pick.start_time, help="seconds into a video")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:K")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    parser.add_argument("--keep-cache", action="store_true",
                        help="keep OUT/.cache (priors, pair predictions) after success; by default it is removed")
    parser.add_argument("--metric", action="store_true",
                        help="rescale depths and poses to a metric prior's metres (depth-pro, files: of metric depth)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results in OUT (an earlier run's exports/ go with them)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (on a terminal) or progress lines (otherwise, about every 30 s)")
    parser.add_argument("--full-res", action="store_true",
                        help="also write depth, confidence and masks at the input frames' resolution to OUT/full_res/")
    parser.add_argument("--full-res-model", metavar="NAME_OR_PATH",
                        help="Prompt Depth Anything for --full-res depth (default "
                             "depth-anything/prompt-depth-anything-vits-hf; bilinear when it cannot be loaded)")
    parser.add_argument("--aligned-prior", action="store_true",
                        help="also write the prior fitted per frame (robust scale and shift) to our depth to "
                             "OUT/aligned_prior/ (an output folder: align3r view OUT/aligned_prior)")
    parser.add_argument("--export", nargs="+", default=[], choices=FORMATS, metavar="FORMAT",
                        help=f"then export OUT to OUT/exports/ in these formats ({', '.join(FORMATS)}), "
                             "with `align3r export`'s default options")
    known = parser.add_argument_group("known cameras and masks (held fixed unless said otherwise)")
    known.add_argument("--focal", type=float, help="focal length in pixels of the input frames (centred principal point)")
    known.add_argument("--intrinsics", type=Path,
                       help="text file: one 3x3 K, rows of 9 (K per frame, like pred_intrinsics.txt) or of 4 (fx fy cx cy)")
    known.add_argument("--poses", type=Path, help="trajectory file, one camera-to-world pose per frame read")
    known.add_argument("--poses-format", choices=["tum", "official"],
                       help="tum: t x y z qx qy qz qw (trajectory_tum.txt, default); official: qw first (pred_traj.txt)")
    known.add_argument("--poses-mode", choices=["fixed", "init"],
                       help="fixed: returned unchanged, the scene in their scale (default); init: optimised from them")
    known.add_argument("--masks", type=Path,
                       help="folder of one dynamic-mask image per frame (same stem; nonzero = moving), replacing ours")


def _run_run(args: argparse.Namespace) -> int:
    from align3r.errors import InputError
    from align3r.io.known_inputs import KnownFiles
    from align3r.io.video import FrameSelection
    from align3r.pipeline.batch import read_video_list
    from align3r.pipeline.full_res import full_res_options
    from align3r.pipeline.job import JobOptions, check_output_folder, run_video
    from align3r.pipeline.reconstruct import ReconstructConfig
    from align3r.pipeline.resources import ResourceSpec, load_resources

    config = ReconstructConfig(size=args.size, force_size=args.force_size, crop=not args.no_crop, mode=args.mode,
                               align_memory_gb=args.align_memory, graph=args.graph, preset=args.preset, niter=args.niter, flow=args.flow,
                               batch_size=args.batch_size, metric=args.metric, precision=args.precision)
    selection = FrameSelection(stride=args.stride, max_frames=args.max_frames, start_time=args.start_time)
    options = JobOptions(resume=args.resume, overwrite=args.overwrite, keep_cache=args.keep_cache,
                         aligned_prior=args.aligned_prior)
    if args.flow_weights is not None and args.flow != "sea-raft":
        raise InputError("--flow-weights applies to --flow sea-raft only")
    kind = {None: None, "depth": "depth_metric", "disparity": "disparity_affine"}[args.prior_kind]
    spec = ResourceSpec(model=args.model, prior=args.prior, prior_kind=kind,
                        allow_prior_mismatch=args.allow_prior_mismatch, flow=args.flow, flow_weights=args.flow_weights,
                        device=args.device, full_res=full_res_options(args.full_res, args.full_res_model))
    known = KnownFiles(focal=args.focal, intrinsics=args.intrinsics, poses=args.poses, poses_format=args.poses_format,
                       poses_mode=args.poses_mode, masks=args.masks)
    if (args.input is None) == (args.videos is None):
        raise InputError("give either INPUT or --videos LIST")
    # the cheap checks before minutes of loading
    jobs = read_video_list(args.videos) if args.videos is not None else None
    if jobs is None:
        check_output_folder(Path(args.out), options)
    resources = load_resources(spec if jobs is None else _rank_device(spec))

    def run_one(video, folder):
        rec = run_video(video, folder, resources, config=config, selection=selection, options=options, known=known)
        for fmt in args.export:
            _export_and_report(folder, fmt, None, overwrite=True)  # this run's own exports: a rerun replaces them
        return rec

    if jobs is not None:
        return _run_videos(args, jobs, run_one)
    rec = run_one(args.input, args.out)
    height, width = rec.depths.shape[1:]
    print(f"reconstructed {rec.num_frames} frames ({width}x{height}, {rec.meta['mode']} alignment) in "
          f"{rec.meta['total_s']:.1f} s -> {args.out}")
    cache = rec.meta["cache"]
    kept = "kept in .cache/" if cache["kept"] else "removed (--keep-cache keeps it)"
    print(f"cache {cache['bytes'] / 2**20:.1f} MB {kept}")
    if "metric" in rec.meta:
        metric = rec.meta["metric"]
        print(f"metric scale: x{metric['factor']:.4g} from the prior ({metric['pixels']} pixels)")
    flagged = rec.meta["quality"]["flagged"]
    if flagged:
        listed = "; ".join(f"{name}: {', '.join(why)}" for name, why in list(flagged.items())[:5])
        print(f"{len(flagged)} frame(s) flagged by the quality report ({listed}); see {args.out}/reconstruction.json")
    return 0


def _rank_device(spec):
    """Under torchrun with CUDA, `--device auto` means this rank's GPU (`LOCAL_RANK`)."""
    from dataclasses import replace

    import torch

    from align3r.pipeline.batch import Shard

    shard = Shard.from_env()
    if spec.device == "auto" and shard.world_size > 1 and torch.cuda.is_available():
        return replace(spec, device=f"cuda:{shard.local_rank}")
    return spec


def _run_videos(args: argparse.Namespace, jobs: list, run_one: Callable) -> int:
    """`run --videos`: this rank's share of the list (align3r.pipeline.batch), one output subfolder per video,
    each made by `run_one(video, folder)` with resources loaded once."""
    from align3r.pipeline.batch import Shard, run_videos

    shard = Shard.from_env()
    done, skipped, failed = run_videos(jobs, Path(args.out), shard, overwrite=args.overwrite, run_one=run_one)
    print(f"rank {shard.rank} of {shard.world_size}: {done} video(s) reconstructed, {skipped} already done, "
          f"{failed} failed -> {args.out}")
    return 2 if failed else 0


def _add_eval(parser: argparse.ArgumentParser) -> None:
    from align3r.eval.datasets import DATASETS
    from align3r.eval.protocol import PROTOCOLS

    parser.add_argument("task", choices=["depth", "pose"], help="video depth or camera pose")
    parser.add_argument("--dataset", required=True, choices=list(DATASETS), help="benchmark")
    parser.add_argument("--root", required=True, type=Path, help="the dataset's top folder, e.g. data/sintel")
    parser.add_argument("--out", required=True, type=Path, help="folder for metrics.json and metrics.md")
    parser.add_argument("--pred", type=Path, help="saved predictions: one folder per sequence, named as the sequence")
    parser.add_argument("--model", help="run our pipeline per sequence with this model (with --prior)")
    parser.add_argument("--prior", help="the pipeline's depth prior (`simulated`: each synthetic sequence's own)")
    parser.add_argument("--protocol", choices=list(PROTOCOLS),
                        help="depth: scale-shift (official LAD, default), scale-shift-lstsq or scale; pose: sim3")
    pipeline = parser.add_argument_group("pipeline settings (default: the benchmark's official ones)")
    pipeline.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:K")
    pipeline.add_argument("--size", type=int, help="long side of the network input (official 512)")
    pipeline.add_argument("--niter", type=int, help="alignment iterations (official 300)")
    pipeline.add_argument("--flow", choices=["sea-raft", "raft", "dis", "none"],
                          help="flow term (official: pose sea-raft, depth none)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace metrics already in --out (pipeline: also reconstruct every sequence afresh)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_eval(args: argparse.Namespace) -> int:
    from align3r.errors import InputError
    from align3r.eval.benchmark import BenchmarkJob, run_benchmark
    from align3r.eval.pipeline import PipelineOptions
    from align3r.eval.protocol import PROTOCOLS
    from align3r.eval.report import missing_line

    pipeline = None
    if args.model is not None or args.prior is not None:
        if args.model is None or args.prior is None:
            raise InputError("--model and --prior go together (or give --pred DIR alone)")
        pipeline = PipelineOptions(model=args.model, prior=args.prior, device=args.device, size=args.size,
                                   niter=args.niter, flow=args.flow)
    result = run_benchmark(BenchmarkJob(task=args.task, dataset=args.dataset, root=args.root, out=args.out,
                                        pred=args.pred, pipeline=pipeline, protocol=args.protocol,
                                        overwrite=args.overwrite))
    first = next(iter(result.average))
    print(f"{args.task} {args.dataset} ({PROTOCOLS[result.protocol]}): {len(result.sequences)} sequences, "
          f"{first} {result.average[first]:.4f} -> {args.out}/metrics.json, metrics.md")
    if not result.complete:
        print(f"incomplete: {missing_line(result)}")
    return 0


def _add_view(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output folder of `align3r run` (read lazily, frame by frame)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; the next free one if taken)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 shares it on the network)")


def _run_view(args: argparse.Namespace) -> int:
    from align3r.io.view import Viewer

    viewer = Viewer(args.out, host=args.host, port=args.port)
    print(f"viewer of {args.out} at {viewer.url} (Ctrl+C to stop)", flush=True)
    try:
        viewer.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _add_export(parser: argparse.ArgumentParser) -> None:
    from align3r.io.export.options import FORMATS, ExportOptions

    defaults = ExportOptions()
    parser.add_argument("out", help="output folder of `align3r run`")
    parser.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    parser.add_argument("-o", "--output", default=None, help="destination file or folder (default: OUT/exports/...)")
    option = parser.add_argument_group("options (each format reads those that apply)")
    option.add_argument("--min-conf", type=float, default=defaults.min_conf,
                        help=f"raw-confidence threshold for points (default {defaults.min_conf}: every pixel)")
    option.add_argument("--static-only", action="store_true", help="ply, glb: drop points on moving objects")
    option.add_argument("--per-frame", action="store_true", help="ply: one file per frame instead of one fused cloud")
    option.add_argument("--max-points", type=int, default=defaults.max_points,
                        help=f"most points per file (default {defaults.max_points})")
    option.add_argument("--images", choices=("copy", "link"), default=defaults.images,
                        help="colmap, nerfstudio: copy images or link to them (default copy)")
    option.add_argument("--depth-format", choices=("png16", "npy"), default=defaults.depth_format,
                        help="depth: 16-bit PNG with a scale in depth_scale.json, or float32 npy (default png16)")
    option.add_argument("--depth-scale", type=float, default=defaults.depth_scale,
                        help="depth, nerfstudio: depth units per PNG count (default: fit the video)")
    option.add_argument("--fps", type=float, default=defaults.fps, help=f"mp4: frame rate (default {defaults.fps:g})")
    option.add_argument("--seed", type=int, default=defaults.seed, help="seed of the point subsampling (default 0)")
    option.add_argument("--overwrite", action="store_true", help="replace an existing destination")


def _export_and_report(out, fmt: str, dest, **options) -> None:
    """Export an output folder (`align3r export`, `align3r run --export`); print the losses and what was written."""
    from align3r.io.export import export

    result = export(out, fmt, dest, **options)
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {', '.join(str(p) for p in result.paths[:3])}{' ...' if len(result.paths) > 3 else ''}")


def _run_export(args: argparse.Namespace) -> int:
    names = ("min_conf", "static_only", "per_frame", "max_points", "images", "depth_format", "depth_scale", "fps",
             "seed", "overwrite")
    _export_and_report(args.out, args.format, args.output, **{name: getattr(args, name) for name in names})
    return 0


def _add_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", default="align3r-demo", help="output folder (default align3r-demo)")
    parser.add_argument("--overwrite", action="store_true", help="replace the results in OUT")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from align3r.eval.demo import report, run_demo
    from align3r.pipeline.job import JobOptions, check_output_folder

    check_output_folder(Path(args.out), JobOptions(overwrite=args.overwrite))
    result = run_demo(args.out, overwrite=args.overwrite)
    rec = result.written
    print(f"reconstructed a held-out synthetic video of {rec.num_frames} frames with DUSt3R-tiny and Align3R-tiny "
          f"(written to {args.out})")
    print(report(result))
    print(f"look at it: align3r view {args.out}")
    return 0


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "convert": ("official .pth -> config.json + model.safetensors", _add_convert, _run_convert),
    "eval": ("official video-depth and camera-pose benchmarks, on saved predictions or our pipeline's",
             _add_eval, _run_eval),
    "synth": ("synthetic dynamic sequence with exact depth, poses, intrinsics, masks and priors",
              _add_synth, _run_synth),
    "demo": ("offline demo: synthetic video, prior alone vs DUSt3R-tiny vs Align3R-tiny against the exact ground truth",
             _add_demo, _run_demo),
    "run": ("video or image folder -> consistent depth, cameras and motion masks", _add_run, _run_run),
    "view": ("4D viewer of an output folder in the browser (viser)", _add_view, _run_view),
    "export": ("output folder -> PLY, GLB, COLMAP, nerfstudio, depth maps, MP4 or TUM", _add_export, _run_export),
    "train": ("train or fine-tune (torchrun --nproc-per-node G -m align3r train ... for DDP)",
              _add_train, _run_train),
}


def build_parser(with_arguments: Collection[str] = tuple(SUBCOMMANDS)) -> argparse.ArgumentParser:
    """The parser of every subcommand; only those in `with_arguments` get their options (adding
    them imports what their defaults come from, torch included)."""
    parser = argparse.ArgumentParser(prog="align3r", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name in with_arguments:
            add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(with_arguments=[command] if command in SUBCOMMANDS else []).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="align3r: %(message)s")
    quiet = getattr(args, "quiet", False)
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"
    # progress lines (align3r.io.progress) when stderr is not a terminal, e.g. a log file
    logging.getLogger("align3r.io.progress").setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        return SUBCOMMANDS[args.command][2](args)
    except Align3rError as err:
        print(f"align3r {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"align3r {args.command}: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
