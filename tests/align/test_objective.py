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


def test_alignment_loss_zero_when_pairs_agree_and_weighted_mean_otherwise():
    gen = torch.Generator().manual_seed(0)
    pts_world = torch.randn(3, 6, 3, generator=gen, dtype=torch.float64)
    edges = torch.tensor([[0, 1], [2, 0]])
    edge2w = torch.stack([_pose([0.2, 0, 0], [1, 2, 3]), _pose([0, 0.3, 0.1], [0, -1, 0])])
    edge2w[:, :3] *= 2.0  # similarity: s (R x + T)
    w2edge = torch.linalg.inv(edge2w)
    pred_i = pts_world[edges[:, 0]] @ w2edge[:, None, :3, :3].transpose(-1, -2)[:, 0] + w2edge[:, None, :3, 3]
    pred_j = pts_world[edges[:, 1]] @ w2edge[:, None, :3, :3].transpose(-1, -2)[:, 0] + w2edge[:, None, :3, 3]
    conf = torch.rand(2, 2, 6, generator=gen, dtype=torch.float64) + 1
    assert float(alignment_loss(pts_world, edge2w, edges, pred_i, pred_j, conf[0], conf[1])) < 1e-12
    shifted = pts_world.clone()
    shifted[2] += torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)  # frame 2 is edge 1's i
    loss = alignment_loss(shifted, edge2w, edges, pred_i, pred_j, conf[0], conf[1])
    assert float(loss) == pytest.approx(0.5 * float(conf[0, 1].sum()) / 12)


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
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    edge2w = _pose([0.1, 0.2, 0.3], [0.5, 0, 0])[None]
    pred = torch.randn(2, 1, 4, 3, generator=gen, dtype=torch.float64)
    conf = torch.rand(1, 4, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda p: alignment_loss(p, edge2w, torch.tensor([[0, 1]]), pred[0], pred[1], conf, conf), pts)
