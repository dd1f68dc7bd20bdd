"""Training and fine-tuning: config, the confidence-weighted 3D regression loss, optimiser, checkpoints
and the (torchrun DDP) loop."""
