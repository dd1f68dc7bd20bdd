"""Command-line entry point: one subcommand per job, a thin layer over the Python API.

Each subcommand is a pair (add_arguments, run) registered in `SUBCOMMANDS`; `run` returns the
exit code. User mistakes (`Align3rError`) print one line on stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from align3r.errors import Align3rError


def _add_convert(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="official .pth, HF folder, hub id or model name")
    parser.add_argument("out_dir", help="folder to write config.json + model.safetensors into")


def _run_convert(args: argparse.Namespace) -> int:
    from align3r.model.checkpoint import load_model

    model = load_model(args.checkpoint, device="cpu")
    model.save_pretrained(args.out_dir)
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
    parser.add_argument("--prior", default="realistic", help="simulated priors: realistic or exact (default realistic)")
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


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "convert": ("official .pth -> config.json + model.safetensors", _add_convert, _run_convert),
    "synth": ("synthetic dynamic sequence with exact depth, poses, intrinsics, masks and priors",
              _add_synth, _run_synth),
    "train": ("train or fine-tune (torchrun --nproc-per-node G -m align3r train ... for DDP)",
              _add_train, _run_train),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="align3r", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return SUBCOMMANDS[args.command][2](args)
    except Align3rError as err:
        print(f"align3r {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
