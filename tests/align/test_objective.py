"""Loss terms and parameter encodings: known answers, invariances, gradients."""

import math

import pytest
import roma
import torch

from align3r.align.objective import alignment_loss, ego_flow, masked_flow_loss, temporal_loss
from align3r.align.scene import decode_rigid, encode_rigid, signed_expm1, signed_log1p


def _pose(rotvec, trans, dtype=torch.float64):
    c2w = torch.eye(4, dtype=dtype)
    c2w[:3, :3] = roma.rotvec_to_rotmat(torch.tensor(rotvec, dtype=dtype))
    c2w[:3, 3] = torch.tensor(trans, dtype=dtype)
    return c2w


def test_rigid_encoding_round_trip():
    c2w = torch.stack([_pose([0.1, -0.4, 0.3], [2.0, -0.5, 0.0]), _pose([0, 0, 0], [0, 0, -7.0])])
    torch.testing.assert_close(decode_rigid(encode_rigid(c2w[:, :3, :3], c2w[:, :3, 3])), c2w)
    x = torch.tensor([-3.0, -1e-3, 0.0, 2.5], dtype=torch.float64)
    torch.testing.assert_close(signed_expm1(signed_log1p(x)), x)


def _channel_first_pairs(pts_world, edge2w, edges):
    """Exact predictions (E, 2, 3, P) of both views of each edge, in camera i."""
    w2edge = torch.linalg.inv(edge2w)[:, None]  # (E, 1, 4, 4)
    both = pts_world[edges]  # (E, 2, P, 3)
    return (both @ w2edge[..., :3, :3].transpose(-1, -2) + w2edge[..., None, :3, 3]).transpose(2, 3)


def test_alignment_loss_zero_when_pairs_agree_and_weighted_mean_otherwise():
    gen = torch.Generator().manual_seed(0)
    pts_world = torch.randn(3, 6, 3, generator=gen, dtype=torch.float64)
    edges = torch.tensor([[0, 1], [2, 0]])
    edge2w = torch.stack([_pose([0.2, 0, 0], [1, 2, 3]), _pose([0, 0.3, 0.1], [0, -1, 0])])
    edge2w[:, :3] *= 2.0  # similarity: s (R x + T)
    pairs = _channel_first_pairs(pts_world, edge2w, edges)
    conf = torch.rand(2, 2, 6, generator=gen, dtype=torch.float64) + 1
    world_cf = pts_world.transpose(1, 2)
    assert float(alignment_loss(world_cf, edge2w, edges, pairs, conf)) < 1e-12
    shifted = world_cf.clone()
    shifted[2, 2] += 0.5  # frame 2 is edge 1's view i: its 6 points move 0.5 along z
    loss = alignment_loss(shifted, edge2w, edges, pairs, conf)
    assert float(loss) == pytest.approx(0.5 * float(conf[1, 0].sum()) / 12)


def test_temporal_loss_known_answer():
    c2w = torch.stack([_pose([0, 0, 0], [0, 0, 0]), _pose([0, 0, 0.3], [1.0, 2.0, 2.0])])
    expected = math.sqrt(2 * ((1 - math.cos(0.3)) ** 2 + math.sin(0.3) ** 2)) + 0.5 * 3.0
    assert float(temporal_loss(c2w, 0.5)) == pytest.approx(expected)


def test_ego_flow_of_a_sideways_translation_is_focal_baseline_over_depth():
    k = torch.tensor([[50.0, 0, 8], [0, 50, 6], [0, 0, 1]], dtype=torch.float64)[None]
    c2w_i, c2w_j = _pose([0, 0, 0], [0, 0, 0])[None], _pose([0, 0, 0], [0.2, 0, 0])[None]
    depth = torch.full((1, 12, 16), 4.0, dtype=torch.float64)
    flow = ego_flow(c2w_i, c2w_j, k, k, depth)
    v, u = torch.meshgrid(torch.arange(12.0, dtype=torch.float64), torch.arange(16.0, dtype=torch.float64),
                          indexing="ij")
    disparity = 1 / (4 + 1e-6)  # the official guards: 1e-6 on depth and on the projected z
    expected_u = (u - 50 * 0.2 * disparity) / (1 + 1e-6) - u
    torch.testing.assert_close(flow[0, 0], expected_u)
    torch.testing.assert_close(flow[0, 1], v / (1 + 1e-6) - v)
    assert float((flow[0, 0] + 2.5).abs().max()) < 1e-4  # f b / D


def test_masked_flow_loss_ignores_dynamic_and_capped_pixels():
    ego = torch.zeros(1, 2, 2, 2)
    flow = torch.tensor([[[[0.5, 100.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 9.0]]]])
    static = torch.tensor([[[True, True], [True, False]]])
    # kept elements: (0.5 -> 0.125), 0, (3 -> 2.5), and the three zeros of channel 1; 100 capped
    assert float(masked_flow_loss(ego, flow, static, 50.0)) == pytest.approx((0.125 + 2.5) / 5)


def test_alignment_loss_gradcheck():
    """The hand-written backward against finite differences, in both inputs."""
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(3, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    edge2w = torch.stack([_pose([0.1, 0.2, 0.3], [0.5, 0, 0]), _pose([0, -0.2, 0], [0, 1, 0])])
    edge2w = (edge2w * 1.3).requires_grad_()
    pairs = torch.randn(2, 2, 3, 4, generator=gen, dtype=torch.float64)
    conf = torch.rand(2, 2, 4, generator=gen, dtype=torch.float64)
    edges = torch.tensor([[0, 1], [2, 0]])
    assert torch.autograd.gradcheck(lambda p, s: alignment_loss(p, s, edges, pairs, conf), (pts, edge2w))
