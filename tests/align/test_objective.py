"""Loss terms and parameter encodings: known answers, invariances, gradients."""

import math

import pytest
import roma
import torch
import torch.nn.functional as F

from align3r.align import objective
from align3r.align.objective import (
    alignment_loss,
    ego_flow,
    ego_flow_loss,
    ego_warp,
    flow_target,
    homogeneous_pixels,
    temporal_loss,
)
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


def test_translation_slope_at_zero():
    """Official slope 0 at exactly 0 (root camera held), slope exp|x| everywhere with the fix."""
    x = torch.tensor([-1.5, 0.0, 0.7], dtype=torch.float64, requires_grad=True)
    official = torch.autograd.grad(signed_expm1(x).sum(), x)[0]
    y = signed_expm1(x, unit_slope_at_zero=True)
    fixed = torch.autograd.grad(y.sum(), x)[0]
    torch.testing.assert_close(y, signed_expm1(x))
    torch.testing.assert_close(official, torch.tensor([math.exp(1.5), 0.0, math.exp(0.7)], dtype=torch.float64))
    torch.testing.assert_close(fixed, torch.exp(x.detach().abs()))


@pytest.mark.parametrize("unit_slope_at_zero", [False, True])
def test_decode_rigid_gradient_is_the_composed_one(unit_slope_at_zero):
    """The one-node decoding: values bit-equal to roma's composition, its closed-form gradient
    equal to autograd's through that composition (unnormalised quaternions, a zero translation)."""
    torch.manual_seed(0)
    pose7 = torch.randn(6, 7, dtype=torch.float64)
    pose7[:, :4] *= torch.linspace(0.3, 4.0, 6, dtype=torch.float64)[:, None]
    pose7[0, 4] = 0.0
    pose7.requires_grad_(True)
    rot = roma.unitquat_to_rotmat(roma.quat_normalize(pose7[:, :4]))
    trans = signed_expm1(pose7[:, 4:], unit_slope_at_zero=unit_slope_at_zero)
    composed = torch.cat([torch.cat([rot, trans[..., None]], -1),
                          torch.tensor([0.0, 0, 0, 1], dtype=torch.float64).expand(6, 1, 4)], -2)
    fused = decode_rigid(pose7, unit_slope_at_zero=unit_slope_at_zero)
    assert torch.equal(fused, composed)
    weights = torch.randn(6, 4, 4, dtype=torch.float64)
    expected = torch.autograd.grad(composed, pose7, weights)[0]
    torch.testing.assert_close(torch.autograd.grad(fused, pose7, weights)[0], expected, rtol=1e-12, atol=1e-12)
    assert (expected[0, 4] == 0) != unit_slope_at_zero  # the official zero slope at exactly 0
    # finite differences: the true slope, which the official decoding lacks at exactly 0
    assert torch.autograd.gradcheck(lambda p: decode_rigid(p, unit_slope_at_zero=True), pose7)


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


def test_alignment_loss_gradient_is_zero_at_a_zero_residual_even_with_large_weights():
    world = torch.zeros(2, 3, 4, requires_grad=True)
    edge2w = torch.eye(4).expand(1, 4, 4).clone().requires_grad_()
    loss = alignment_loss(world, edge2w, torch.tensor([[0, 1]]), torch.zeros(1, 2, 3, 4),
                          torch.full((1, 2, 4), 50.0))
    loss.backward()
    assert float(loss.detach()) == 0 and not world.grad.any() and not edge2w.grad.any()


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


def _still_camera_warp(rows):
    """Warp of a camera that does not move: ego flow (u, v) / (1 + 1e-6) - (u, v), ~1e-5 px."""
    return torch.eye(3).expand(rows, 3, 3), torch.zeros(rows, 3, 1)


def test_ego_flow_loss_ignores_dynamic_and_capped_pixels_and_sums_group_means():
    flow = torch.tensor([[[[0.5, 100.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 9.0]]]])
    static = torch.tensor([[[True, True], [True, False]]])
    edges = torch.tensor([[0, 1]])
    target = flow_target([edges, edges.flip(1)], [flow, torch.full_like(flow, 0.2)],
                         [static, torch.ones_like(static)])
    # group 0 kept: (0.5 -> 0.125), 0, (3 -> 2.5), and the three zeros of channel 1; 100 capped
    # group 1: smooth-L1 of 0.2 on all 8 elements
    loss = ego_flow_loss(*_still_camera_warp(2), torch.ones(2, 4), target, 50.0)
    assert float(loss) == pytest.approx((0.125 + 2.5) / 5 + 0.5 * 0.2 ** 2, abs=1e-4)


def _flow_case(dtype=torch.float64):
    """Three frames, both directions of two edges, a moving patch and a capped outlier."""
    gen = torch.Generator().manual_seed(3)
    c2w = torch.stack([_pose([0, 0, 0], [0, 0, 0], dtype), _pose([0.02, -0.03, 0.01], [0.2, 0.05, 0], dtype),
                       _pose([-0.01, 0.04, 0], [0.1, -0.1, 0.05], dtype)])
    k = torch.tensor([[20.0, 0, 4], [0, 20, 3], [0, 0, 1]], dtype=dtype).expand(3, 3, 3)
    depth = 2 + torch.rand(3, 6, 8, generator=gen, dtype=dtype)
    edges = torch.tensor([[0, 1], [2, 1]])
    flow = 3 * torch.randn(2, 2, 6, 8, generator=gen, dtype=dtype)
    flow[0, 0, 0, 0] = 200.0  # capped by pxl_thre
    static = torch.ones(2, 6, 8, dtype=torch.bool)
    static[1, 2:4, 3:6] = False
    target = flow_target([edges, edges.flip(1)], [flow, flow.flip(0)], [static, static.flip(0)])
    return c2w, k, depth, target


def _reference_flow_loss(c2w, k, depth, target, pxl_thre):
    """The official composition: ego flow, masked smooth-L1, per-direction mean, summed."""
    height, width = depth.shape[1:]
    src, dst = target.src, target.dst
    ego = ego_flow(c2w[src], c2w[dst], k[src], k[dst], depth[src]).flatten(2)
    mask = target.static[:, None]
    rho = F.smooth_l1_loss(ego * mask, target.flow_static, reduction="none", beta=1.0)
    keep = (rho < pxl_thre) * mask
    return sum((rho * keep)[target.group == g].sum() / keep[target.group == g].sum() for g in (0, 1))


@pytest.mark.parametrize("block_elements", [48, 1 << 20])  # one row per block, one block
def test_ego_flow_loss_matches_the_official_composition_with_its_gradient(monkeypatch, block_elements):
    monkeypatch.setattr(objective, "_BLOCK_ELEMENTS", block_elements)
    c2w, k, depth, target = _flow_case()
    c2w.requires_grad_()
    depth.requires_grad_()
    expected = _reference_flow_loss(c2w, k, depth, target, 50.0)
    grads_expected = torch.autograd.grad(expected, (c2w, depth))
    disparity = 1 / (depth.flatten(1) + 1e-6)
    loss = ego_flow_loss(*ego_warp(c2w[target.src], c2w[target.dst], k[target.src], k[target.dst]),
                         disparity, target, 50.0)
    torch.testing.assert_close(loss, expected)
    for ours, theirs in zip(torch.autograd.grad(loss, (c2w, depth)), grads_expected):
        torch.testing.assert_close(ours, theirs)


def test_ego_flow_loss_gradcheck(monkeypatch):
    """The hand-written backward against finite differences, in all three inputs."""
    monkeypatch.setattr(objective, "_BLOCK_ELEMENTS", 288)  # two rows per block
    c2w, k, depth, target = _flow_case()
    proj, offset = (x.detach().requires_grad_() for x in
                    ego_warp(c2w[target.src], c2w[target.dst], k[target.src], k[target.dst]))
    disparity = (1 / (depth.flatten(1) + 1e-6)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, o, d: ego_flow_loss(p, o, d, target, 50.0),
                                    (proj, offset, disparity))


def test_homogeneous_pixels_row_major():
    pix = homogeneous_pixels(2, 3, torch.zeros(()))
    torch.testing.assert_close(pix, torch.tensor([[0.0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 1], [1] * 6]))


@pytest.mark.parametrize("block_elements", [12, 1 << 20])  # one edge per block, one block
def test_alignment_loss_gradcheck(monkeypatch, block_elements):
    """The hand-written gradient against finite differences, in both inputs."""
    monkeypatch.setattr(objective, "_BLOCK_ELEMENTS", block_elements)
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(3, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    edge2w = torch.stack([_pose([0.1, 0.2, 0.3], [0.5, 0, 0]), _pose([0, -0.2, 0], [0, 1, 0]),
                          _pose([0.3, 0, -0.1], [0, 0, 2])])
    edge2w = (edge2w * 1.3).requires_grad_()
    pairs = torch.randn(3, 2, 3, 4, generator=gen, dtype=torch.float64)
    conf = torch.rand(3, 2, 4, generator=gen, dtype=torch.float64)
    edges = torch.tensor([[0, 1], [2, 0], [1, 2]])
    assert torch.autograd.gradcheck(lambda p, s: alignment_loss(p, s, edges, pairs, conf), (pts, edge2w))


def test_alignment_loss_blocks_sum_like_one_block(monkeypatch):
    gen = torch.Generator().manual_seed(2)
    world = torch.randn(4, 3, 10, generator=gen, requires_grad=True)
    edge2w = (torch.eye(4) + 0.1 * torch.randn(5, 4, 4, generator=gen)).requires_grad_()
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0], [1, 3]])
    pairs, conf = torch.randn(5, 2, 3, 10, generator=gen), torch.rand(5, 2, 10, generator=gen)
    results = []
    for block_elements in (120, 1 << 20):  # two edges per block (the last one alone), one block
        monkeypatch.setattr(objective, "_BLOCK_ELEMENTS", block_elements)
        loss = alignment_loss(world, edge2w, edges, pairs, conf)
        results.append((loss, *torch.autograd.grad(loss, (world, edge2w))))
    for blocked, single in zip(*results):
        torch.testing.assert_close(blocked, single)
