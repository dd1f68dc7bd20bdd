"""Export a trained checkpoint as the shipped `tiny` model (config.json + model.safetensors).

    python training/tiny/export_tiny.py runs/tiny/stage2/checkpoint-final.pth align3r/weights/tiny
"""

from __future__ import annotations

import argparse

from align3r.model.checkpoint import load_model, save_pretrained
from align3r.model.config import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    if model.config != PRESETS["tiny"]:
        raise SystemExit(f"{args.checkpoint} is not a tiny-preset model")
    save_pretrained(model, args.out)
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
