#!/usr/bin/env bash
# Train and export the shipped `tiny` model (TRAINING.md §13) on this machine's CPU cores:
# render the synthetic pool, stage 1 (mini-DUSt3R), stage 2 (Align3R fine-tuning), export.
# Run from an empty working folder outside the repository:  bash /path/to/training/tiny/train_tiny.sh
# Each stage resumes from its checkpoint-last.pth when re-run after an interruption.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python "$here/render_pool.py" data/tiny
# Two single-threaded DDP processes use both cores and stay fast when other work shares them;
# one pair per process keeps the recipe's 2 pairs per micro-batch.
run() { torchrun --standalone --nproc-per-node 2 -m align3r train "$here/$1" --resume \
        --set threads=1 --set batch_size=1 --set sampler_layout=interleaved; }
run stage1.yaml
run stage2.yaml
python "$here/export_tiny.py" runs/tiny/stage2/checkpoint-final.pth "$here/../../align3r/weights/tiny"
