"""Acceptance checks of the shipped `tiny` model (docs/training.md §13.5); prints a markdown report.

    python training/tiny/check_tiny.py RUNS_DIR STAGE2_CONFIG [--weights align3r/weights/tiny]

1. train and held-out test losses fall over both stages (from each stage's log.csv);
2. stage 2 starts exactly where stage 1 ends (zero convs);
3. stage 2 uses the prior: held-out loss with the true prior map < with a constant map, and < stage 1's;
4. the encoder, decoder_embed and mask_token of stage 2 are bit-identical to stage 1's, and the
   exported weights load strictly into the `tiny` preset.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from align3r import load_model
from align3r.settings import load_yaml
from align3r.train.config import TrainConfig
from align3r.train.loop import Distributed, evaluate
from align3r.train.loss import regression_loss
from align3r.train.run import build_model, build_sources

FROZEN_IN_STAGE_2 = ("patch_embed.", "enc_blocks.", "enc_norm.", "decoder_embed.", "mask_token")


def losses(log: Path, kind: str, key: str) -> list[float]:
    with log.open() as f:
        return [float(row["value"]) for row in csv.DictReader(f) if row["kind"] == kind and row["key"] == key]


class ConstantPrior:
    """A test source whose prior point maps are replaced by a constant (no prior information)."""

    def __init__(self, source) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def micro_batches(self, epoch: int, start: int = 0):
        for view1, view2 in self.source.micro_batches(epoch, start):
            yield ({**view1, "pred_depth": torch.full_like(view1["pred_depth"], 0.5)},
                   {**view2, "pred_depth": torch.full_like(view2["pred_depth"], 0.5)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="folder holding stage1/ and stage2/")
    parser.add_argument("stage2_config", type=Path)
    parser.add_argument("--weights", default="align3r/weights/tiny")
    args = parser.parse_args()
    torch.set_num_threads(1)
    stage1 = load_model(args.runs / "stage1" / "checkpoint-final.pth")
    stage2 = load_model(args.runs / "stage2" / "checkpoint-final.pth")
    config = load_yaml(TrainConfig, args.stage2_config)
    env = Distributed(0, 1, torch.device("cpu"))
    _, tests = build_sources(config, env)
    (name, test), = tests.items()

    rows = []
    for stage in ("stage1", "stage2"):
        log = args.runs / stage / "log.csv"
        train, held_out = losses(log, "train", "loss"), losses(log, f"test_{name}", "loss_med")
        # One logged value is one micro-batch's loss (noisy): compare the first and last quarters.
        quarter = max(1, len(train) // 4)
        first, last = sum(train[:quarter]) / quarter, sum(train[-quarter:]) / quarter
        rows.append((f"{stage}: train loss, mean of the first -> last quarter logged", f"{first:.4f} -> {last:.4f}",
                     last < first))
        rows.append((f"{stage}: held-out loss median, epoch 0 -> last", f"{held_out[0]:.4f} -> {held_out[-1]:.4f}",
                     held_out[-1] < held_out[0]))
    start2 = build_model(config).eval()
    # The held-out Regr3D term (scale-normalised L21 summed over both views) measures what
    # docs/training.md §13.4 reports; the official test criterion is in GT units, which the far
    # outdoor backgrounds of the synthetic scenes dominate.
    score = {label: evaluate(model, source, 0, env, "float32", regression_loss)["loss_med"]
             for label, model, source in (("stage 1", stage1, test), ("stage 2 start", start2, test),
                                          ("stage 2", stage2, test), ("stage 2, constant prior", stage2, ConstantPrior(test)))}
    rows.append(("stage 2 starts at stage 1 (held-out Regr3D median)", f"{score['stage 2 start']:.4f} vs {score['stage 1']:.4f}",
                 score["stage 2 start"] == score["stage 1"]))
    rows.append(("stage 2 uses the prior: true vs constant prior map",
                 f"{score['stage 2']:.4f} vs {score['stage 2, constant prior']:.4f}",
                 score["stage 2"] < score["stage 2, constant prior"]))
    rows.append(("stage 2 beats stage 1 (held-out Regr3D median)", f"{score['stage 2']:.4f} vs {score['stage 1']:.4f}",
                 score["stage 2"] < score["stage 1"]))
    s1, s2 = stage1.state_dict(), stage2.state_dict()
    frozen = [k for k in s1 if k.startswith(FROZEN_IN_STAGE_2)]
    rows.append(("encoder, decoder_embed, mask_token bit-identical", f"{len(frozen)} tensors",
                 all(torch.equal(s1[k], s2[k]) for k in frozen)))
    shipped = load_model(args.weights)
    rows.append(("shipped weights equal stage 2 (rounded to float16) and load strictly", "tiny preset",
                 all(torch.equal(a, b) or torch.equal(a, b.half().float())
                     for a, b in zip(shipped.state_dict().values(), s2.values()))))
    print("| check | measured | ok |\n|---|---|---|")
    for check, measured, ok in rows:
        print(f"| {check} | {measured} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
