"""Loading and saving the official checkpoint formats, and their failure modes."""

import argparse
import json
import logging
import os
import pickle
import time

import pytest
import torch
from helpers.model_goldens import GOLDEN_CASES, MODEL_DATA, assert_matches_golden_outputs, golden_state_dict

from align3r import load_model
from align3r.cli import main
from align3r.errors import CheckpointError, ModelNotFoundError
from align3r.model.checkpoint import config_from_constructor, config_to_constructor, config_to_hub_json, save_pretrained
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet

CONFIGS = json.loads((MODEL_DATA / "configs.json").read_text())


def training_constructor(case: str) -> str:
    """The training-time string (`train.sh`): ManyAR patch embed, no landscape_only."""
    return (CONFIGS[case]["ctor"].replace("PatchEmbedDust3R", "ManyAR_PatchEmbed")
            .replace(", landscape_only=False", ""))


def write_official_pth(path, state_dict, model_string: str | None) -> None:
    ckpt = {"model": state_dict, "epoch": 49, "optimizer": {"state": {}, "param_groups": []}}
    if model_string is not None:
        ckpt["args"] = argparse.Namespace(model=model_string, lr=5e-5, pretrained="ckpt/dust3r.pth")
    torch.save(ckpt, path)


def write_hub_folder(folder, case: str) -> None:
    """The official HF layout: mixin config.json, safetensors without the 8 DPT aliases."""
    from safetensors.torch import save_file

    folder.mkdir()
    (folder / "config.json").write_text(CONFIGS[case]["hub_mixin_config_json"])
    state = {k: v for k, v in golden_state_dict(GOLDEN_CASES[case]).items() if ".layer_rn." not in k}
    save_file(state, folder / "model.safetensors")


@pytest.mark.parametrize("case", ["large", "small_linear", "small_dpt"])
def test_config_json_is_byte_identical_to_the_official_mixin(case):
    assert config_to_hub_json(PRESETS[case]) == CONFIGS[case]["hub_mixin_config_json"]


@pytest.mark.parametrize("case", ["large", "small_linear", "small_dpt"])
def test_constructor_strings_parse_to_presets(case):
    assert config_from_constructor(CONFIGS[case]["ctor"], source="t") == PRESETS[case]
    assert config_from_constructor(training_constructor(case), source="t") == PRESETS[case]
    assert config_to_constructor(PRESETS[case]) == training_constructor(case)


def test_constructor_of_our_tiny_preset_round_trips():
    assert config_from_constructor(config_to_constructor(PRESETS["tiny"]), source="t") == PRESETS["tiny"]


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_official_pth_reproduces_goldens(tmp_path, case):
    write_official_pth(tmp_path / "ckpt.pth", golden_state_dict(GOLDEN_CASES[case]), training_constructor(case))
    model = load_model(tmp_path / "ckpt.pth")
    assert model.config == PRESETS[case] and not model.training
    assert_matches_golden_outputs(model, case)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_official_hub_folder_reproduces_goldens(tmp_path, case):
    write_hub_folder(tmp_path / "hub", case)
    model = load_model(tmp_path / "hub")
    head = model.downstream_head1
    if case == "small_dpt":  # the aliases are re-tied: one tensor under both names
        assert head.dpt.scratch.layer_rn[2].weight is head.dpt.scratch.layer3_rn.weight
    assert_matches_golden_outputs(model, case)


def test_pth_without_model_string_derives_the_architecture(tmp_path, caplog):
    config = PRESETS["large"].__class__(enc_embed_dim=128, enc_depth=2, enc_num_heads=2,
                                        dec_embed_dim=128, dec_depth=4, dec_num_heads=2, head_type="linear")
    write_official_pth(tmp_path / "c.pth", Align3RNet(config).state_dict(), None)
    with caplog.at_level(logging.WARNING):
        assert load_model(tmp_path / "c.pth").config == config
    assert "derived from weight shapes" in caplog.text


def test_save_load_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    model = Align3RNet(PRESETS["tiny"]).eval()
    for zero_conv in model.zero_convs:
        torch.nn.init.normal_(zero_conv[0].weight, std=0.05)
    save_pretrained(model, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "out")
    assert loaded.config == model.config
    views = [{"img": torch.rand(2, 3, 32, 64) * 2 - 1, "pred_depth": torch.rand(2, 32, 64, 3)} for _ in range(2)]
    with torch.no_grad():
        for a, b in zip(model(*views), loaded(*views)):
            assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_convert_writes_a_loadable_folder(tmp_path):
    write_official_pth(tmp_path / "c.pth", golden_state_dict("manifest_small.json"), training_constructor("small_linear"))
    assert main(["convert", str(tmp_path / "c.pth"), str(tmp_path / "hf")]) == 0
    assert (tmp_path / "hf" / "config.json").read_text() == CONFIGS["small_linear"]["hub_mixin_config_json"]
    assert_matches_golden_outputs(load_model(tmp_path / "hf"), "small_linear")


def test_dust3r_checkpoint_loads_with_a_zero_branch(tmp_path, caplog):
    reference = Align3RNet(PRESETS["small_dpt"]).eval()
    dust3r_state = {k: v for k, v in reference.state_dict().items()
                    if not k.startswith(("patch_embed_point_cloud", "dec_blocks_pc", "zero_convs"))}
    write_official_pth(tmp_path / "dust3r.pth", dust3r_state, training_constructor("small_dpt"))
    with caplog.at_level(logging.WARNING):
        model = load_model(tmp_path / "dust3r.pth")
    assert "DUSt3R checkpoint" in caplog.text
    assert all(not zc[0].weight.any() and not zc[0].bias.any() for zc in model.zero_convs)
    views = [{"img": torch.rand(1, 3, 32, 32), "pred_depth": torch.rand(1, 32, 32, 3)} for _ in range(2)]
    with torch.no_grad():
        ours, ref = model(*views), reference(*views)
    assert torch.equal(ours[1]["pts3d_in_other_view"], ref[1]["pts3d_in_other_view"])


def one_line_cli_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_truncated_checkpoints_give_one_line(tmp_path, capsys):
    write_official_pth(tmp_path / "c.pth", golden_state_dict("manifest_small.json"), training_constructor("small_linear"))
    data = (tmp_path / "c.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    assert "truncated" in one_line_cli_error(capsys, ["convert", str(tmp_path / "cut.pth"), str(tmp_path / "o")])
    write_hub_folder(tmp_path / "hub", "small_linear")
    weights = tmp_path / "hub" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    assert "truncated" in one_line_cli_error(capsys, ["convert", str(tmp_path / "hub"), str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_other_architecture_is_rejected(tmp_path):
    state = golden_state_dict("manifest_small.json")
    write_official_pth(tmp_path / "a.pth", state, training_constructor("small_dpt"))
    with pytest.raises(CheckpointError, match="another architecture"):
        load_model(tmp_path / "a.pth")
    state["decoder_embed.weight"] = torch.zeros(128, 96)
    write_official_pth(tmp_path / "b.pth", state, training_constructor("small_linear"))
    with pytest.raises(CheckpointError, match=r"decoder_embed.weight has shape \(128, 96\)"):
        load_model(tmp_path / "b.pth")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickle_that_would_run_code_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": {}, "args": RunsCode()}, tmp_path / "evil.pth")
    err = one_line_cli_error(capsys, ["convert", str(tmp_path / "evil.pth"), str(tmp_path / "o")])
    assert "refusing to unpickle" in err and "system" in err
    assert not (tmp_path / "pwned").exists()


def test_unknown_name_and_offline_hub_fail_at_once(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="known names: tiny, tiny-depthanything, tiny-dust3r, align3r-depthanything"):
        load_model("no-such-model")
    with pytest.raises(ModelNotFoundError, match="no such checkpoint file"):
        load_model("weights/missing.pth")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError) as info:
        load_model("align3r-depthpro")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "align3r-depthpro" in message and str(tmp_path / "cache") in message and "\n" not in message


def test_non_checkpoint_pickle_is_rejected(tmp_path):
    with open(tmp_path / "x.pth", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "x.pth")
