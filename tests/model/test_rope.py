"""RoPE2D against its closed form and its defining property."""

import math

import torch

from align3r.model.rope import apply_rope, rope_tables, token_grid_positions


def test_token_grid_positions_row_major():
    pos = token_grid_positions(2, 3)
    assert pos.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_rope_matches_closed_form_rotate_half():
    torch.manual_seed(0)
    d, base = 8, 100.0
    positions = torch.tensor([[0, 0], [2, 5], [7, 1]])
    t = torch.randn(1, 1, 3, d, dtype=torch.float64)
    out = apply_rope(t.float(), rope_tables(positions, d, base)).double()
    half, quarter = d // 2, d // 4
    for n, (row, col) in enumerate(positions.tolist()):
        for axis, p in ((0, row), (1, col)):  # first half rotates by the row, second by the column
            u = t[0, 0, n, axis * half:(axis + 1) * half]
            for i in range(quarter):
                theta = p * base ** (-i / quarter)
                expected = (u[i] * math.cos(theta) - u[i + quarter] * math.sin(theta),
                            u[i + quarter] * math.cos(theta) + u[i] * math.sin(theta))
                got = out[0, 0, n, axis * half + i], out[0, 0, n, axis * half + i + quarter]
                assert torch.allclose(torch.stack(got), torch.tensor(expected, dtype=torch.float64), atol=1e-5)


def test_rope_scores_depend_on_relative_position_only():
    torch.manual_seed(1)
    q, k = torch.randn(2, 1, 1, 1, 16).unbind(0)
    pos_a = torch.tensor([[1, 2], [4, 7]])
    pos_b = pos_a + torch.tensor([3, 5])
    scores = []
    for pos in (pos_a, pos_b):
        tables = rope_tables(pos, 16, 100.0)
        rq = apply_rope(q.expand(1, 1, 2, 16), tables)[..., 0, :]
        rk = apply_rope(k.expand(1, 1, 2, 16), tables)[..., 1, :]
        scores.append((rq * rk).sum())
    assert torch.allclose(scores[0], scores[1], atol=1e-5)
