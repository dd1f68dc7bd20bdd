#!/usr/bin/env bash
# Train and export the shipped tiny models (docs/training.md §13) on this machine's 2 CPU cores:
# render the synthetic pool with the calibrated priors, stage 1 (a: mini-DUSt3R), then side by side
# stage 2 (b: Align3R fine-tuning) with the Depth-Pro-style prior, stage 2 with the
# Depth-Anything-style prior and the control (c: stage 1 continued without the branch); export the
# three in float16 and check the Depth-Pro one.
# Run from an empty working folder outside the repository:  bash /path/to/training/tiny/train_tiny.sh [WEIGHTS_DIR]
# The exported weights go to WEIGHTS_DIR/{tiny,tiny-depthanything,tiny-dust3r}, default weights/ in
# the working folder, never to the shipped align3r/weights unless that folder is given explicitly,
# so that a re-run cannot silently replace the models a clone ships with; they are the inputs of
# benchmarks/ablation.py.
# Every run resumes from its checkpoint-last.pth when the script is re-run after an interruption.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
weights="${1:-weights}"
python "$here/render_pool.py" data/tiny
# Stage 1: two single-threaded DDP processes use both cores and stay fast when other work shares
# them; one pair per process keeps the recipe's 2 pairs per micro-batch.
torchrun --standalone --nproc-per-node 2 -m align3r train "$here/stage1.yaml" --resume \
    --set threads=1 --set batch_size=1 --set sampler_layout=interleaved
# Stage 2 for each prior style and the control: one single-threaded process each, side by side.
python -m align3r train "$here/stage2.yaml" --resume --set threads=1 &
python -m align3r train "$here/stage2.yaml" --resume --set threads=1 --set prior=depthanything \
    --set output_dir=runs/tiny/stage2-depthanything &
python -m align3r train "$here/control.yaml" --resume --set threads=1 &
wait
python "$here/export_tiny.py" --float16 runs/tiny/stage2/checkpoint-final.pth "$weights/tiny"
python "$here/export_tiny.py" --float16 runs/tiny/stage2-depthanything/checkpoint-final.pth "$weights/tiny-depthanything"
python "$here/export_tiny.py" --float16 runs/tiny/control/checkpoint-final.pth "$weights/tiny-dust3r"
python "$here/check_tiny.py" runs/tiny "$here/stage2.yaml" --weights "$weights/tiny"
