"""TrainConfig: one training run, defaults equal to the official recipe (`train.sh`, docs/training.md §0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from align3r.train.optim import OFFICIAL_TRAINABLE


@dataclass(frozen=True)
class DatasetMix:
    """One member of the per-epoch mix `N @ Dataset(...)` (docs/training.md §3.2)."""

    name: str
    """Reader name (`pointodyssey`, `tartanair`, `spring`, `sceneflow`, `vkitti2`, `synthetic`)."""
    root: str
    """The dataset's preprocessed folder."""
    pairs_per_epoch: int
    """N: pairs drawn from this dataset every epoch."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; a YAML file holds a subset of these fields (unknown keys are errors)."""

    output_dir: str = "output"
    """Checkpoints (`checkpoint-last.pth`, ...), `log.csv` and TensorBoard files go here."""
    model: str = "large"
    """Architecture preset (`align3r.model.config.PRESETS`)."""
    pretrained: str | None = None
    """Weights loaded before training (not when resuming): a DUSt3R or Align3R checkpoint, loaded
    as `align3r.load_model` does (a missing prior branch starts at zero)."""
    trainable: tuple[str, ...] = OFFICIAL_TRAINABLE
    """Top-level modules that are trained; the rest is frozen."""
    train_data: tuple[DatasetMix, ...] = field(default_factory=tuple)
    """The per-epoch training mix (official: 12,500 PointOdyssey + 6,250 TartanAir + 1,000 Spring
    + 5,000 SceneFlow + 3,000 VKITTI2)."""
    test_data: tuple[DatasetMix, ...] = field(default_factory=tuple)
    """Held-out sets evaluated after every epoch with the scale-shift-invariant criterion."""
    resolutions: tuple[tuple[int, int], ...] = ((512, 288), (512, 336), (512, 256))
    """Training (W, H), one drawn per micro-batch."""
    test_resolution: int = 224
    """Square side of the test sets' centre crop."""
    aug_crop: int = 16
    """Maximum size jitter in pixels."""
    aug_zoom: bool = True
    """Random centre zoom crop by 0.8, 0.9 or 1.0 (official `aug_f`)."""
    nearest: Literal["centred", "official"] = "centred"
    """Depth/prior resampling: centre-aligned, or the official half-pixel shift (docs/training.md §11 item 13)."""
    max_gap: int = 10
    """Largest frame-index gap of a training pair."""
    prior: Literal["depthpro", "depthanything"] = "depthpro"
    """Which stored prior conditions the network."""
    skip_unreadable: bool = False
    """Skip (and count) pairs with a missing or corrupt file instead of stopping."""
    num_workers: int = 0
    """DataLoader worker processes per training process."""
    sampler_layout: Literal["official", "interleaved"] = "official"
    """Rank layout of the batch sampler; "interleaved" makes N ranks see what one process with
    the global batch sees."""
    epochs: int = 50
    warmup_epochs: float = 5.0
    lr: float = 5e-5
    min_lr: float = 1e-6
    branch_lr_scale: float = 1.0
    """Multiplier of the lr of the prior branch (patch_embed_point_cloud, dec_blocks_pc, zero_convs);
    1 is the official recipe, where every parameter has the same lr."""
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    batch_size: int = 2
    """Sampled pairs per micro-batch and process (twice as many ordered pairs)."""
    accum_iter: int = 4
    """Micro-batches per optimiser step."""
    alpha: float = 0.2
    """Weight of the -log(conf) term of the confidence loss."""
    precision: Literal["float32", "bfloat16"] = "float32"
    """bfloat16 autocast for the network body (the heads and the loss stay float32)."""
    seed: int = 0
    """Model init and data sampling; data seeds are offset by nothing per rank (the sampler splits)."""
    save_every: int = 5
    """Keep `checkpoint-<epoch>.pth` every this many epochs (`checkpoint-last.pth` always)."""
    log_every: int = 10
    """A `log.csv` row every this many optimiser steps."""
    checkpoint_steps: int = 0
    """Also write `checkpoint-last.pth` every this many optimiser steps (0: at epoch ends only)."""
    threads: int | None = None
    """torch threads per process (None: torch's default)."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "accum_iter", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.checkpoint_steps < 0:
            raise ValueError(f"checkpoint_steps must not be negative, got {self.checkpoint_steps}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs], got {self.warmup_epochs}")
