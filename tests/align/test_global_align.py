"""Scene-level pieces of the global alignment: the flow targets."""

from dataclasses import replace

import numpy as np
import torch
from helpers.align_goldens import ALIGN_DATA, load_pairs

from align3r.align.global_align import flow_targets
from align3r.align.objective import ego_flow_loss, ego_warp, flow_target


def _flow_loss(target, c2w, k, disparity):
    warp = ego_warp(c2w[target.src], c2w[target.dst], k[target.src], k[target.dst])
    return ego_flow_loss(*warp, disparity, target, 50.0)


def test_flow_targets_keep_one_half_twice_when_reverse_flows_repeat_and_both_halves_otherwise():
    pairs = load_pairs("global8")
    static = ~torch.from_numpy(np.load(ALIGN_DATA / "global8_demo_flow.npz")["dynamic_masks"])
    edges = pairs.edges
    both_halves = flow_target([edges, edges.flip(1)], [pairs.flow_ij, pairs.flow_ji],
                              [static[edges[:, 0]], static[edges[:, 1]]])
    gt = np.load(ALIGN_DATA / "global8_gt.npz")
    c2w = torch.from_numpy(gt["poses_c2w"]).float()
    k = torch.from_numpy(gt["K"]).float().expand(len(c2w), 3, 3)
    depths = torch.from_numpy(gt["depths"]).flatten(1) * 1.2  # off the truth: residuals of pixels
    disparity = (1 / (depths + 1e-6)).requires_grad_()
    merged = flow_targets(pairs, static)
    assert len(merged.src) == len(edges) and merged.group_weights.tolist() == [2.0]
    losses = [_flow_loss(t, c2w, k, disparity) for t in (merged, both_halves)]
    torch.testing.assert_close(losses[0], losses[1])
    assert float(losses[0].detach()) > 0.1
    torch.testing.assert_close(*(torch.autograd.grad(loss, disparity)[0] for loss in losses))
    other = replace(pairs, flow_ji=pairs.flow_ji + 0.5)
    assert len(flow_targets(other, static).src) == 2 * len(edges)
