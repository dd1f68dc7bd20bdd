"""What is trained and how fast: the trainable-module policy, AdamW groups, the lr schedule.

docs/training.md §5.3 and §7: the official code freezes by substring match on parameter names,
re-applied every epoch after the DDP wrap (§11 item 2); here one explicit list of top-level
modules is applied once, before the optimiser and any DDP wrap exist.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from align3r.model.network import PRIOR_BRANCH_PREFIXES

OFFICIAL_TRAINABLE: tuple[str, ...] = (
    "dec_blocks", "dec_blocks2", "dec_norm", "downstream_head1", "downstream_head2",
    "patch_embed_point_cloud", "dec_blocks_pc", "zero_convs")
"""The released models' trainable set. `decoder_embed` is frozen, a side effect of the official
substring list (docs/training.md §11 item 3) that the released weights depend on; add it to train it."""

ALL_BUT_PRIOR_BRANCH: tuple[str, ...] = (
    "patch_embed", "enc_blocks", "enc_norm", "decoder_embed", "dec_blocks", "dec_blocks2", "dec_norm",
    "downstream_head1", "downstream_head2")
"""Stage 1 of the miniature recipe (docs/training.md §13.4): a DUSt3R that ignores the prior."""


NEVER_USED = ("dpt.scratch.refinenet4.resConfUnit1.",)
"""Parameters no forward pass uses: the skip unit of the first fusion block, which has no skip
input (official DPT too). Official training hands them to AdamW, which skips tensors without a
gradient, so leaving them frozen changes no update and lets DDP run without
`find_unused_parameters`."""


def apply_trainable(model: nn.Module, trainable: tuple[str, ...]) -> list[tuple[str, nn.Parameter]]:
    """Set `requires_grad` from a list of top-level module names; return the trainable parameters.

    Parameters of `NEVER_USED` stay frozen whatever the list says.

    Raises:
        ValueError: a name that is not a top-level module of `model`.
    """
    children = dict(model.named_children())
    unknown = sorted(set(trainable) - set(children))
    if unknown:
        raise ValueError(f"trainable modules {unknown} are not parts of the model ({', '.join(children)})")
    model.requires_grad_(False)
    for name in trainable:
        children[name].requires_grad_(True)
    for name, param in model.named_parameters():
        if any(part in name for part in NEVER_USED):
            param.requires_grad_(False)
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def param_groups(named_params: list[tuple[str, nn.Parameter]], weight_decay: float, *,
                 branch_lr_scale: float = 1.0) -> list[dict]:
    """AdamW groups of `croco/utils/misc.py`: decay on >= 2-D non-bias tensors, none on the rest.

    With `branch_lr_scale` != 1 (not in the official recipe) the prior branch's parameters get
    groups of their own whose `lr_scale` multiplies the scheduled lr (`set_learning_rate`).
    """
    def groups(params: list[tuple[str, nn.Parameter]], **extra) -> list[dict]:
        decay = [p for n, p in params if p.ndim >= 2 and not n.endswith(".bias")]
        no_decay = [p for n, p in params if p.ndim < 2 or n.endswith(".bias")]
        return [{"params": decay, "weight_decay": weight_decay, **extra},
                {"params": no_decay, "weight_decay": 0.0, **extra}]

    if branch_lr_scale == 1.0:
        return groups(named_params)
    branch = [(n, p) for n, p in named_params if n.startswith(PRIOR_BRANCH_PREFIXES)]
    rest = [(n, p) for n, p in named_params if not n.startswith(PRIOR_BRANCH_PREFIXES)]
    return groups(rest) + groups(branch, lr_scale=branch_lr_scale)


def learning_rate(epoch: float, *, lr: float, min_lr: float, warmup_epochs: float, epochs: float) -> float:
    """Linear warm-up from 0, then half-cosine to `min_lr` at `epochs` (`misc.py:456-471`).

    Args:
        epoch: fractional epoch of the optimiser step's first micro-batch.
    """
    if epoch < warmup_epochs:
        return lr * epoch / warmup_epochs
    progress = (epoch - warmup_epochs) / (epochs - warmup_epochs)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Every group gets the same lr (no layer-wise decay), times its `lr_scale` where it has one."""
    for group in optimizer.param_groups:
        group["lr"] = value * group.get("lr_scale", 1.0)
