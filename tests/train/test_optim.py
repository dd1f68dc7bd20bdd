"""Trainable set, AdamW groups and lr schedule against the official numbers (docs/training.md §5.3, §7)."""

import pytest
import torch

from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.train.optim import (
    ALL_BUT_PRIOR_BRANCH,
    OFFICIAL_TRAINABLE,
    apply_trainable,
    learning_rate,
    param_groups,
    set_learning_rate,
)


@pytest.fixture(scope="module")
def large_model() -> Align3RNet:
    with torch.device("meta"):
        return Align3RNet(PRESETS["large"])


def test_official_trainable_set_and_groups_at_released_size(large_model):
    trainable = apply_trainable(large_model, OFFICIAL_TRAINABLE)
    # The official set also holds the never-used skip unit of refinenet4 (8 tensors, no gradient).
    unused = [p for n, p in large_model.named_parameters() if "refinenet4.resConfUnit1." in n]
    assert len(trainable) + len(unused) == 766
    assert sum(p.numel() for _, p in trainable) + sum(p.numel() for p in unused) == 299_179_400
    frozen = [p for p in large_model.parameters() if not p.requires_grad]
    assert sum(p.numel() for p in frozen) - sum(p.numel() for p in unused) == 303_886_848
    assert not large_model.decoder_embed.weight.requires_grad and not large_model.mask_token.requires_grad
    decay, no_decay = param_groups(trainable + [(f"x.{k}", p) for k, p in enumerate(unused)], 0.05)
    assert (len(decay["params"]), sum(p.numel() for p in decay["params"])) == (282, 298_730_496)
    assert (len(no_decay["params"]), sum(p.numel() for p in no_decay["params"])) == (484, 448_904)
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.05, 0.0)


def test_branch_lr_scale_moves_only_the_prior_branch(large_model):
    """Official: two groups, one lr. With a branch scale the branch's tensors (and only they) get the
    scaled lr, with the same decay split."""
    trainable = apply_trainable(large_model, OFFICIAL_TRAINABLE)
    optimizer = torch.optim.SGD(param_groups(trainable, 0.05, branch_lr_scale=3.0), lr=1.0)
    set_learning_rate(optimizer, 2e-4)
    is_branch = {id(p): n.startswith(("patch_embed_point_cloud.", "dec_blocks_pc.", "zero_convs.")) for n, p in trainable}
    assert len(optimizer.param_groups) == 4 and sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)
    for group in optimizer.param_groups:
        assert {is_branch[id(p)] for p in group["params"]} == {group["lr"] == pytest.approx(6e-4)}
        assert group["lr"] == pytest.approx(6e-4 if "lr_scale" in group else 2e-4)
    official = param_groups(trainable, 0.05)
    assert len(official) == 2 and all("lr_scale" not in g for g in official)
    assert sum(len(g["params"]) for g in optimizer.param_groups if g["weight_decay"] == 0.05) == len(official[0]["params"])


def test_stage_one_policy_leaves_the_branch_and_mask_token_frozen(large_model):
    trainable = dict(apply_trainable(large_model, ALL_BUT_PRIOR_BRANCH))
    assert not any(n.startswith(("zero_convs", "dec_blocks_pc", "patch_embed_point_cloud", "mask_token"))
                   for n in trainable)
    assert "patch_embed.proj.weight" in trainable and "decoder_embed.weight" in trainable


def test_unknown_module_is_rejected(large_model):
    with pytest.raises(ValueError, match="not parts of the model"):
        apply_trainable(large_model, ("decoder",))


@pytest.mark.parametrize("epoch,expected", [(0, 0.0), (1, 1.0e-5), (2.5, 2.5e-5), (5, 5.0e-5), (10, 4.85e-5),
                                            (20, 3.78e-5), (27.5, 2.55e-5), (40, 6.73e-6), (49, 1.06e-6)])
def test_schedule_matches_the_official_table(epoch, expected):
    value = learning_rate(epoch, lr=5e-5, min_lr=1e-6, warmup_epochs=5, epochs=50)
    assert value == pytest.approx(expected, rel=6e-3, abs=1e-12)
