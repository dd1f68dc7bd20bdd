"""Transformer building blocks of CroCo/DUSt3R (`croco/models/blocks.py`) with torch SDPA.

Official state-dict names are kept: `norm1`, `attn.qkv`, `attn.proj`, `cross_attn.projq`, ...
Dropout and drop-path are 0 in every released model, so they are not modelled.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from align3r.model.rope import RopeTables, apply_rope

LAYER_NORM_EPS = 1e-6


class Mlp(nn.Module):
    """fc2(GELU(fc1(x))), exact erf GELU."""

    def __init__(self, dim: int, hidden_dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden_dim, dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, D) -> (B, heads, L, D/heads), head h on channels [h*d, (h+1)*d)."""
    return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, L, d) -> (B, L, heads*d)."""
    return x.transpose(1, 2).flatten(2)


class Attention(nn.Module):
    """Self-attention with RoPE2D on queries and keys; qkv channels laid out [q | k | v]."""

    def __init__(self, dim: int, num_heads: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, device=device, dtype=dtype)
        self.proj = nn.Linear(dim, dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        """x: (B, L, D) -> (B, L, D)."""
        q, k, v = (_split_heads(t, self.num_heads) for t in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(apply_rope(q, rope), apply_rope(k, rope), v)
        return self.proj(_merge_heads(out))


class CrossAttention(nn.Module):
    """Attention of queries x onto keys/values y; RoPE with each side's own positions."""

    def __init__(self, dim: int, num_heads: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.projq = nn.Linear(dim, dim, device=device, dtype=dtype)
        self.projk = nn.Linear(dim, dim, device=device, dtype=dtype)
        self.projv = nn.Linear(dim, dim, device=device, dtype=dtype)
        self.proj = nn.Linear(dim, dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_rope: RopeTables,
                y_rope: RopeTables) -> torch.Tensor:
        """x: (B, Lx, D) queries, y: (B, Ly, D) keys and values -> (B, Lx, D)."""
        q = apply_rope(_split_heads(self.projq(x), self.num_heads), x_rope)
        k = apply_rope(_split_heads(self.projk(y), self.num_heads), y_rope)
        v = _split_heads(self.projv(y), self.num_heads)
        return self.proj(_merge_heads(F.scaled_dot_product_attention(q, k, v)))


class Block(nn.Module):
    """Pre-norm ViT block: x += attn(norm1(x)); x += mlp(norm2(x)). Encoder and prior branch."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)
        self.attn = Attention(dim, num_heads, **kw)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), **kw)

    def forward(self, x: torch.Tensor, rope: RopeTables) -> torch.Tensor:
        """x: (B, L, D) -> (B, L, D)."""
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """Self-attention, then cross-attention to the other view's (normalised) tokens, then MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)
        self.attn = Attention(dim, num_heads, **kw)
        self.cross_attn = CrossAttention(dim, num_heads, **kw)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)
        self.norm3 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), **kw)
        self.norm_y = nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kw)

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_rope: RopeTables,
                y_rope: RopeTables) -> torch.Tensor:
        """x: (B, Lx, D) this view, y: (B, Ly, D) the other view -> updated x (B, Lx, D)."""
        x = x + self.attn(self.norm1(x), x_rope)
        y_normed = self.norm_y(y)
        x = x + self.cross_attn(self.norm2(x), y_normed, x_rope, y_rope)
        return x + self.mlp(self.norm3(x))


class PatchEmbed(nn.Module):
    """Conv patchify (B, 3, H, W) -> tokens (B, h*w, D), row-major (`PatchEmbedDust3R`)."""

    def __init__(self, dim: int, patch_size: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, dim, patch_size, stride=patch_size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(f"image size {height}x{width} is not a multiple of the patch size "
                             f"{self.patch_size}")
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, D, h, w) -> (B, h*w, D)
