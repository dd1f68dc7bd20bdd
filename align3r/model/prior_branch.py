"""The Align3R depth-prior branch's own layer: the zero-initialised 1x1 convolution.

The branch itself (`patch_embed_point_cloud`, `dec_blocks_pc`, `zero_convs`) is wired in
`network.py` under its official state-dict names; see docs/method.md §6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ZeroConv(nn.Sequential):
    """`nn.Sequential(Conv1d(D, D, 1))` applied per token, zeroed by
    `Align3RNet.reset_prior_branch` (ControlNet).

    Kept as a Conv1d so the weight has the official (D, D, 1) layout (`zero_convs.k.0.weight`).
    """

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__(nn.Conv1d(dim, dim, 1, device=device, dtype=dtype))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, L, D) -> (B, L, D), t @ W[:, :, 0].T + b."""
        conv = self[0]
        return F.linear(tokens, conv.weight[:, :, 0], conv.bias)
