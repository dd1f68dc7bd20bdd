#!/usr/bin/env bash
# Train and export the shipped `tiny` model (docs/training.md §13) on this machine's 2 CPU cores:
# render the synthetic pool, stage 1 (a: mini-DUSt3R), then in parallel stage 2 (b: Align3R
# fine-tuning) and the control (c: stage 1 continued without the branch), export (b), check it.
# Run from an empty working folder outside the repository:  bash /path/to/training/tiny/train_tiny.sh [WEIGHTS_DIR]
# The exported weights go to WEIGHTS_DIR, default weights/tiny in the working folder, never to the
# shipped align3r/weights/tiny unless that folder is given explicitly, so that a re-run cannot
# silently replace the model a clone ships with.
# The control (c) ends in runs/tiny/control/checkpoint-final.pth, the input of benchmarks/ablation.py.
# Every run resumes from its checkpoint-last.pth when the script is re-run after an interruption.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
weights="${1:-weights/tiny}"
python "$here/render_pool.py" data/tiny
# Stage 1: two single-threaded DDP processes use both cores and stay fast when other work shares
# them; one pair per process keeps the recipe's 2 pairs per micro-batch.
torchrun --standalone --nproc-per-node 2 -m align3r train "$here/stage1.yaml" --resume \
    --set threads=1 --set batch_size=1 --set sampler_layout=interleaved
# Stage 2 and the control: one single-threaded process each, side by side.
python -m align3r train "$here/stage2.yaml" --resume --set threads=1 &
python -m align3r train "$here/control.yaml" --resume --set threads=1 &
wait
python "$here/export_tiny.py" runs/tiny/stage2/checkpoint-final.pth "$weights"
python "$here/check_tiny.py" runs/tiny "$here/stage2.yaml" --weights "$weights"
