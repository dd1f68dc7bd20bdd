"""Export a trained checkpoint as a shipped tiny model (config.json + model.safetensors).

    python training/tiny/export_tiny.py runs/tiny/stage2/checkpoint-final.pth align3r/weights/tiny [--float16]

`--float16` stores the weights in half precision (half the size); loading casts them back to the
model's float32. The recipe measures both on the ablation before it ships the smaller one.
"""

from __future__ import annotations

import argparse

import torch

from align3r.model.checkpoint import load_model, save_pretrained
from align3r.model.config import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--float16", action="store_true", help="store the weights in float16")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    if model.config != PRESETS["tiny"]:
        raise SystemExit(f"{args.checkpoint} is not a tiny-preset model")
    save_pretrained(model.to(torch.float16) if args.float16 else model, args.out)
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters()):,} parameters"
          f"{' in float16' if args.float16 else ''}")


if __name__ == "__main__":
    main()
