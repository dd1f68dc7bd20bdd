"""Command-line entry point: one subcommand per job, a thin layer over the Python API.

Each subcommand is a pair (add_arguments, run) registered in `SUBCOMMANDS`; `run` returns the
exit code. User mistakes (`Align3rError`) print one line on stderr and exit with 2.
"""

from __future__ import annotations

import argparse
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


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "convert": ("official .pth -> config.json + model.safetensors", _add_convert, _run_convert),
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
