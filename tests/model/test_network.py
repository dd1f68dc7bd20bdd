"""Align3RNet reproduces the official network (golden vectors) and its per-frame split is exact."""

import json

import pytest
import torch
from helpers.model_goldens import (
    GOLDEN_CASES,
    MODEL_DATA,
    assert_golden,
    assert_matches_golden_outputs,
    golden_model,
    golden_outputs,
    golden_views,
)

from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_forward_reproduces_official_outputs(case, device):
    assert_matches_golden_outputs(golden_model(case), case, device)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_intermediates_reproduce_official(case):
    """Every hooked module output of the official run (`int.<module>.<call>`)."""
    model = golden_model(case)
    captured: dict[str, list[torch.Tensor]] = {}
    for name, module in model.named_modules():
        if name.count(".") <= 1 and not name.startswith("downstream"):
            module.register_forward_hook(lambda m, i, o, name=name: captured.setdefault(name, []).append(o))
    with torch.no_grad():
        model(*golden_views(case))
    ref = golden_outputs(case)
    batch = 2
    for key in (k for k in ref if k.startswith("int.")):
        module, call = key[4:].rsplit(".", 1)
        outputs = captured[module]
        if module == "decoder_embed" or module.startswith("zero_convs"):
            # The official code calls these once per view; we call them once per frame batch.
            (both,) = outputs
            ours = both[int(call) * batch:(int(call) + 1) * batch]
            if module.startswith("zero_convs"):
                ours = ours.transpose(1, 2)  # official Conv1d layout (B, D, L)
        else:
            ours = outputs[int(call)]
        assert_golden(key, ours, ref[key])


def test_large_state_dict_matches_official_manifest():
    manifest = json.loads((MODEL_DATA / "manifest_large.json").read_text())
    with torch.device("meta"):
        model = Align3RNet(PRESETS["large"])
    state = model.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [(k, s) for k, s in manifest]
    assert sum(p.numel() for p in model.parameters()) == 603_066_248


@pytest.mark.parametrize("case,manifest", [("small_linear", "manifest_small.json"),
                                           ("small_dpt", "manifest_small_dpt.json")])
def test_small_state_dicts_match_official_manifests(case, manifest):
    expected = json.loads((MODEL_DATA / manifest).read_text())
    state = Align3RNet(PRESETS[case]).state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [(k, s) for k, s in expected]


def test_forward_is_encode_then_decode_and_pairs_are_independent():
    """Per-frame encodings gathered per edge give what `forward` gives on the same pairs."""
    torch.manual_seed(0)
    model = Align3RNet(PRESETS["tiny"]).eval()
    for zero_conv in model.zero_convs:  # a trained-looking branch, so the prior matters
        torch.nn.init.normal_(zero_conv[0].weight, std=0.05)
    imgs = torch.rand(4, 3, 32, 48) * 2 - 1
    prior = torch.rand(4, 32, 48, 3)
    edges = torch.tensor([[0, 1], [1, 2], [3, 0], [2, 3], [1, 0]])
    with torch.no_grad():
        frames = model.encode_frames(imgs, prior)
        pred = model.decode_pairs(frames.select(edges[:, 0]), frames.select(edges[:, 1]))
        for e, (i, j) in enumerate(edges.tolist()):
            pred1, pred2 = model({"img": imgs[[i]], "pred_depth": prior[[i]]},
                                 {"img": imgs[[j]], "pred_depth": prior[[j]]})
            torch.testing.assert_close(pred.pts3d_i_in_i[e], pred1["pts3d"][0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(pred.conf_j[e], pred2["conf"][0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(pred.pts3d_j_in_i[e], pred2["pts3d_in_other_view"][0], rtol=1e-5, atol=1e-5)


def test_zero_branch_ignores_the_prior():
    """At initialisation the zero convs are 0: the output is DUSt3R's whatever the prior."""
    torch.manual_seed(0)
    model = Align3RNet(PRESETS["small_dpt"]).eval()
    imgs = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        a = model.encode_frames(imgs, torch.rand(2, 32, 32, 3))
        b = model.encode_frames(imgs, torch.zeros(2, 32, 32, 3))
        pa = model.decode_pairs(a.select(slice(0, 1)), a.select(slice(1, 2)))
        pb = model.decode_pairs(b.select(slice(0, 1)), b.select(slice(1, 2)))
    assert torch.equal(pa.pts3d_j_in_i, pb.pts3d_j_in_i) and torch.equal(pa.conf_i, pb.conf_i)


def test_every_parameter_gets_a_gradient_but_the_officially_unused():
    """Unused in the official network too: `mask_token` (CroCo pretraining) and the skip unit of
    `refinenet4`, the only fusion block called without a skip input."""
    torch.manual_seed(0)
    model = Align3RNet(PRESETS["tiny"])
    for zero_conv in model.zero_convs:  # with exact zeros the branch behind them has no gradient
        torch.nn.init.normal_(zero_conv[0].weight, std=0.01)
    pred1, pred2 = model({"img": torch.rand(2, 3, 32, 48), "pred_depth": torch.rand(2, 32, 48, 3)},
                         {"img": torch.rand(2, 3, 32, 48), "pred_depth": torch.rand(2, 32, 48, 3)})
    (pred1["pts3d"].sum() + pred2["pts3d_in_other_view"].sum() + pred1["conf"].sum() + pred2["conf"].sum()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    unused = ["mask_token"] + [f"downstream_head{h}.dpt.scratch.refinenet4.resConfUnit1.conv{c}.{p}"
                               for h in (1, 2) for c in (1, 2) for p in ("weight", "bias")]
    assert sorted(no_grad) == sorted(unused)


def test_portrait_and_odd_token_grids_run():
    model = Align3RNet(PRESETS["small_dpt"]).eval()
    with torch.no_grad():
        frames = model.encode_frames(torch.rand(2, 3, 80, 48), torch.rand(2, 80, 48, 3))
        pred = model.decode_pairs(frames.select([0]), frames.select([1]))
    assert pred.pts3d_i_in_i.shape == (1, 80, 48, 3) and pred.conf_j.shape == (1, 80, 48)
    assert bool((pred.conf_i >= 1).all()) and bool(torch.isfinite(pred.pts3d_j_in_i).all())


def test_bad_shapes_are_rejected():
    model = Align3RNet(PRESETS["small_linear"])
    with pytest.raises(ValueError, match="prior_pts"):
        model.encode_frames(torch.rand(1, 3, 32, 32), torch.rand(1, 32, 16, 3))
    with pytest.raises(ValueError, match="multiple of the patch size"):
        model.encode_frames(torch.rand(1, 3, 30, 32), torch.rand(1, 30, 32, 3))
    with pytest.raises(ValueError, match="true_shape"):
        model({"img": torch.rand(1, 3, 32, 32), "pred_depth": torch.rand(1, 32, 32, 3),
               "true_shape": torch.tensor([[32, 48]])},
              {"img": torch.rand(1, 3, 32, 32), "pred_depth": torch.rand(1, 32, 32, 3)})
