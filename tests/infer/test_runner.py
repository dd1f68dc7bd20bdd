"""Pair inference with per-frame encodings equals per-pair forward, with bounded resident frames."""

import copy

import torch

from align3r.infer import runner
from align3r.infer.runner import infer_pairs, visiting_order
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet


def tiny_setup(num_frames: int):
    torch.manual_seed(0)
    model = Align3RNet(PRESETS["tiny"]).eval()
    for zero_conv in model.zero_convs:
        torch.nn.init.normal_(zero_conv[0].weight, std=0.05)
    imgs = torch.rand(num_frames, 3, 32, 48) * 2 - 1
    prior = torch.rand(num_frames, 32, 48, 3)
    loads: list[list[int]] = []

    def load(indices):
        loads.append(indices)
        return imgs[indices], prior[indices]

    return model, imgs, prior, load, loads


def window_edges(num_frames: int, width: int) -> torch.Tensor:
    pairs = [(i, j) for i in range(num_frames) for j in range(i + 1, min(num_frames, i + width + 1))]
    return torch.tensor(pairs + [(j, i) for i, j in pairs])


def test_results_equal_forward_and_each_frame_is_encoded_once(device):
    model, imgs, prior, load, loads = tiny_setup(7)
    edges = window_edges(7, 3)
    got = {}
    for batch in infer_pairs(copy.deepcopy(model).to(device), load, edges, batch_size=4):
        for k, e in enumerate(batch.edge_ids.tolist()):
            got[e] = (batch.pairs.pts3d_i_in_i[k], batch.pairs.conf_j[k])
    assert sorted(got) == list(range(len(edges)))
    assert sorted(n for chunk in loads for n in chunk) == list(range(7))
    with torch.no_grad():
        for e, (i, j) in enumerate(edges.tolist()):
            pred1, pred2 = model({"img": imgs[[i]], "pred_depth": prior[[i]]}, {"img": imgs[[j]], "pred_depth": prior[[j]]})
            torch.testing.assert_close(got[e][0], pred1["pts3d"][0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(got[e][1], pred2["conf"][0], rtol=1e-5, atol=1e-5)


def test_resident_encodings_stay_within_the_window(monkeypatch):
    model, _, _, load, _ = tiny_setup(30)
    edges = window_edges(30, 2)
    resident = []
    real_encode = runner._encode_missing

    def track(model_, load_, needed, cache, *args):
        real_encode(model_, load_, needed, cache, *args)
        resident.append(len(cache))

    monkeypatch.setattr(runner, "_encode_missing", track)
    for _ in infer_pairs(model, load, edges, batch_size=2):
        pass
    assert max(resident) <= 2 * 2 + 2  # window of 2 on both sides, plus a batch straddling frames


def test_visiting_order_sorts_by_later_frame():
    edges = torch.tensor([[5, 0], [1, 2], [0, 1], [2, 1]])
    assert visiting_order(edges).tolist() == [2, 1, 3, 0]


def test_out_of_memory_splits_the_batch(monkeypatch):
    model, _, _, load, _ = tiny_setup(4)
    edges = window_edges(4, 3)
    decode = model.decode_pairs
    sizes = []

    def limited(frames_i, frames_j):
        sizes.append(frames_i.dec_tokens.shape[0])
        if frames_i.dec_tokens.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("simulated")
        return decode(frames_i, frames_j)

    monkeypatch.setattr(model, "decode_pairs", limited)
    total = sum(len(b.edge_ids) for b in infer_pairs(model, load, edges, batch_size=8))
    assert total == len(edges) and max(s for s in sizes if s <= 2) == 2


def test_precision_fp32_is_plain_and_bf16_autocasts_close(device):
    model, imgs, prior, load, _ = tiny_setup(3)
    edges = window_edges(3, 1)
    fp32 = [b.pairs for b in infer_pairs(model, load, edges, batch_size=4)]
    plain = [b.pairs for b in infer_pairs(model, load, edges, batch_size=4, precision="fp32")]
    bf16 = [b.pairs for b in infer_pairs(model, load, edges, batch_size=4, precision="bf16")]
    torch.testing.assert_close(plain[0].pts3d_j_in_i, fp32[0].pts3d_j_in_i, rtol=0, atol=0)
    difference = (bf16[0].pts3d_j_in_i - fp32[0].pts3d_j_in_i).abs().max()
    assert 0 < difference < 0.1 * fp32[0].pts3d_j_in_i.abs().max()  # bf16 really ran, and stays close
