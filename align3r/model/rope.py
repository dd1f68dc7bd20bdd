"""2D rotary position embedding (RoPE2D) in plain torch, as CroCo's `RoPE2D` computes it."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RopeTables:
    """cos and sin of the rotation angles of every token, for one head dim.

    Attributes:
        cos: (L, d) float32; channels [0, d/2) rotate by the token's row, [d/2, d) by its column.
        sin: (L, d) float32, same layout.
    """

    cos: torch.Tensor
    sin: torch.Tensor


def token_grid_positions(h: int, w: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Positions (row, col) of an h x w token grid, row-major: (h*w, 2) int64 (CroCo PositionGetter)."""
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                indexing="ij")
    return torch.stack([rows.flatten(), cols.flatten()], dim=-1)


def rope_tables(positions: torch.Tensor, head_dim: int, base: float) -> RopeTables:
    """Angles for rotate-half RoPE on each spatial axis.

    Within one axis' half of size D = head_dim/2, channel pair (i, i + D/2) rotates by
    pos * base^(-2i/D) (`croco/models/pos_embed.py`, `RoPE2D`).

    Args:
        positions: (L, 2) int64 token (row, col).
        head_dim: d, divisible by 4.
        base: frequency base (100 for the released models).
    """
    half = head_dim // 2
    inv_freq = 1.0 / (base ** (torch.arange(0, half, 2, device=positions.device).float() / half))
    angles = positions.float()[:, :, None] * inv_freq  # (L, 2, D/2)
    angles = torch.cat([angles, angles], dim=-1).flatten(1)  # (L, d): [row | row | col | col]
    return RopeTables(cos=angles.cos(), sin=angles.sin())


def apply_rope(tokens: torch.Tensor, tables: RopeTables) -> torch.Tensor:
    """Rotate queries or keys.

    Args:
        tokens: (B, heads, L, d).
        tables: angles for the L tokens.

    Returns:
        (B, heads, L, d), each axis half rotated by rotate-half pairing (not interleaved).
    """
    quarters = tokens.unflatten(-1, (2, 2, -1))  # (B, heads, L, axis, part, d/4)
    rotated = torch.stack([-quarters[..., 1, :], quarters[..., 0, :]], dim=-2).flatten(-3)
    return tokens * tables.cos.to(tokens.dtype) + rotated * tables.sin.to(tokens.dtype)
