"""Load and save Align3R/DUSt3R weights in the official formats, without running pickled code.

Formats read:
- an official training checkpoint `.pth` (`{'model': state_dict, 'args': Namespace, ...}`),
  unpickled with `weights_only=True` and `argparse.Namespace` allow-listed; the architecture
  comes from parsing `args.model` (never `eval`), or else from the weight shapes;
- a Hugging Face folder (`config.json` as `PyTorchModelHubMixin` writes it, `Infinity` included,
  and `model.safetensors` without the 8 DPT alias keys), or a hub id / model name;
- DUSt3R checkpoints of either format: no prior branch, which then starts as fine-tuning
  starts it (zero convs at zero), so the output equals DUSt3R's.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Literal

import torch

from align3r.atomic import atomic_write
from align3r.errors import CheckpointError, ModelNotFoundError, first_line
from align3r.hub import fetch_snapshot, hub_cache
from align3r.model.config import ModelConfig
from align3r.model.network import PRIOR_BRANCH_PREFIXES, Align3RNet

logger = logging.getLogger(__name__)

HUB_MODELS: dict[str, str] = {
    "align3r-depthanything": "cyun9286/Align3R_DepthAnythingV2_ViTLarge_BaseDecoder_512_dpt",
    "align3r-depthpro": "cyun9286/Align3R_DepthPro_ViTLarge_BaseDecoder_512_dpt",
    "dust3r": "naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt",
}
"""Model names (the README's model table) -> Hugging Face repositories in the mixin format."""

PACKAGED_MODELS: dict[str, Path] = {name: Path(__file__).parents[1] / "weights" / name
                                    for name in ("tiny", "tiny-depthanything", "tiny-dust3r")}
"""Models shipped inside the package: name -> folder with config.json + model.safetensors ("tiny" and
"tiny-depthanything": Align3R-tiny trained with each style of simulated prior; "tiny-dust3r": their
ablation's control, the same network trained without the prior branch, whose zero convolutions
stay 0; weights/tiny/README.md)."""

TRAINED_PRIOR_KIND: dict[str, Literal["depth_metric", "disparity_affine"]] = {
    "align3r-depthanything": "disparity_affine", HUB_MODELS["align3r-depthanything"]: "disparity_affine",
    "align3r-depthpro": "depth_metric", HUB_MODELS["align3r-depthpro"]: "depth_metric",
    "tiny": "depth_metric",  # the Depth-Pro-style simulated prior (weights/tiny/README.md)
    "tiny-depthanything": "disparity_affine",  # the Depth-Anything-style one
}
"""Model name or hub id -> the prior kind it was trained with (`align3r.prior.PriorKind`); other
models (dust3r, files, folders) are not known to want one."""

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
_ALIAS = re.compile(r"^(.*\.dpt\.scratch\.)layer_rn\.(\d)\.weight$")


def _aliased(key: str) -> str | None:
    """The key a DPT alias shares its tensor with (`layer_rn.N` -> `layerN+1_rn`), or None."""
    alias = _ALIAS.match(key)
    return f"{alias[1]}layer{int(alias[2]) + 1}_rn.weight" if alias else None


_OFFICIAL_MODES = {"output_mode": "pts3d", "depth_mode": ("exp", -math.inf, math.inf),
                   "conf_mode": ("exp", 1, math.inf)}
_PATCH_EMBEDS = ("PatchEmbedDust3R", "ManyAR_PatchEmbed")
_OURS_ONLY = ("dpt_feature_dim", "dpt_last_dim", "dpt_layer_dims")


# ---------------------------------------------------------------- configs

def config_from_kwargs(kwargs: dict, *, source: str) -> ModelConfig:
    """ModelConfig from the official constructor's keyword arguments (config.json or `args.model`)."""
    for key, expected in _OFFICIAL_MODES.items():
        value = kwargs.get(key, expected)
        if (tuple(value) if isinstance(value, list) else value) != expected:
            raise CheckpointError(f"{source}: unsupported {key}={value!r} (Align3R uses {expected!r})")
    if kwargs.get("patch_embed_cls", _PATCH_EMBEDS[0]) not in _PATCH_EMBEDS:
        raise CheckpointError(f"{source}: unsupported patch_embed_cls={kwargs['patch_embed_cls']!r}")
    pos_embed = str(kwargs.get("pos_embed", ""))
    if not pos_embed.startswith("RoPE"):
        raise CheckpointError(f"{source}: pos_embed={pos_embed!r} is not RoPE; only RoPE models are supported")
    fields = {f: kwargs[f] for f in ("enc_embed_dim", "enc_depth", "enc_num_heads", "dec_embed_dim",
                                     "dec_depth", "dec_num_heads", "head_type", "patch_size",
                                     "mlp_ratio", *_OURS_ONLY) if f in kwargs}
    for f in ("img_size", "dpt_layer_dims"):
        if f in kwargs:
            fields[f] = tuple(kwargs[f])
    try:
        return ModelConfig(**fields, rope_freq=float(pos_embed[4:]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: invalid architecture ({err})") from None


def config_to_hub_json(config: ModelConfig) -> str:
    """config.json text exactly as the official `PyTorchModelHubMixin` writes it.

    Our own options (DPT widths) are added only when they differ from the official values.
    """
    official = ModelConfig()
    kwargs = {"conf_mode": list(_OFFICIAL_MODES["conf_mode"]), "dec_depth": config.dec_depth,
              "dec_embed_dim": config.dec_embed_dim, "dec_num_heads": config.dec_num_heads,
              "depth_mode": list(_OFFICIAL_MODES["depth_mode"]), "enc_depth": config.enc_depth,
              "enc_embed_dim": config.enc_embed_dim, "enc_num_heads": config.enc_num_heads,
              "freeze": "none", "head_type": config.head_type, "img_size": list(config.img_size),
              "landscape_only": False, "output_mode": "pts3d", "patch_embed_cls": _PATCH_EMBEDS[0],
              "pos_embed": f"RoPE{config.rope_freq:g}"}
    for field in ("patch_size", "mlp_ratio", *_OURS_ONLY):
        value = getattr(config, field)
        if value != getattr(official, field):
            kwargs[field] = list(value) if isinstance(value, tuple) else value
    return json.dumps(kwargs, sort_keys=True, indent=2)


def config_to_constructor(config: ModelConfig) -> str:
    """The official training model string (`train.sh`), which the official loader `eval`s.

    Our own options are appended only when they differ from the official values (the official
    class cannot build such a model).
    """
    official = ModelConfig()
    extras = "".join(f", {f}={getattr(config, f)!r}" for f in ("patch_size", "mlp_ratio", *_OURS_ONLY)
                     if getattr(config, f) != getattr(official, f))
    return (f"AsymmetricCroCo3DStereo(pos_embed='RoPE{config.rope_freq:g}', patch_embed_cls='{_PATCH_EMBEDS[1]}', "
            f"img_size={config.img_size!r}, head_type={config.head_type!r}, output_mode='pts3d', "
            "depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), "
            f"enc_embed_dim={config.enc_embed_dim}, enc_depth={config.enc_depth}, "
            f"enc_num_heads={config.enc_num_heads}, dec_embed_dim={config.dec_embed_dim}, "
            f"dec_depth={config.dec_depth}, dec_num_heads={config.dec_num_heads}{extras})")


def _literal(node: ast.AST) -> object:
    """ast.literal_eval that also knows `inf` (the official strings contain `-inf`)."""
    if isinstance(node, ast.Name) and node.id == "inf":
        return math.inf
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    return ast.literal_eval(node)


def config_from_constructor(text: str, *, source: str) -> ModelConfig:
    """Parse `AsymmetricCroCo3DStereo(k=v, ...)` (training `args.model`) without evaluating it."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError("not a keyword-only constructor call")
        kwargs = {kw.arg: _literal(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError) as err:
        raise CheckpointError(f"{source}: cannot parse the model string {text[:80]!r} ({err})") from None
    return config_from_kwargs(kwargs, source=source)


def config_from_state_dict(state_dict: dict[str, torch.Tensor], *, source: str) -> ModelConfig:
    """Architecture from weight shapes, for a checkpoint without a model string.

    Head counts are not in the shapes: the official head dim 64 is assumed.
    """
    def count(prefix: str) -> int:
        return len({k.split(".")[1] for k in state_dict if k.startswith(prefix + ".")})

    try:
        enc, dec = state_dict["patch_embed.proj.weight"].shape[0], state_dict["decoder_embed.weight"].shape[0]
        config = ModelConfig(enc_embed_dim=enc, enc_depth=count("enc_blocks"), enc_num_heads=enc // 64,
                             dec_embed_dim=dec, dec_depth=count("dec_blocks"), dec_num_heads=dec // 64,
                             head_type="linear" if "downstream_head1.proj.weight" in state_dict else "dpt",
                             patch_size=state_dict["patch_embed.proj.weight"].shape[-1])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{source}: not an Align3R/DUSt3R state dict ({err})") from None
    logger.warning("%s has no model string; architecture derived from weight shapes (head dim 64)", source)
    return config


# ---------------------------------------------------------------- weights

def load_weights(model: Align3RNet, state_dict: dict[str, torch.Tensor], *, source: str) -> None:
    """Copy a state dict into `model`, strictly but for a missing prior branch (DUSt3R).

    DDP `module.` prefixes are removed and absent DPT aliases re-tied. A DUSt3R checkpoint (no
    branch keys) loads with one warning and leaves the branch at its fresh init, zero convs at
    zero. Anything else that does not match raises `CheckpointError` naming the keys.
    """
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    expected = model.state_dict()
    for key in expected:
        kept = _aliased(key)
        if kept in state_dict and key not in state_dict:
            state_dict[key] = state_dict[kept]
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    branch_missing = [k for k in missing if k.startswith(PRIOR_BRANCH_PREFIXES)]
    if unexpected or len(branch_missing) != len(missing):
        others = [k for k in missing if k not in branch_missing]
        raise CheckpointError(
            f"{source}: weights of another architecture ({len(others)} missing keys, e.g. "
            f"{others[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})")
    for key, value in state_dict.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, the architecture "
                                  f"needs {tuple(expected[key].shape)}")
    if branch_missing:
        if len(branch_missing) != sum(k.startswith(PRIOR_BRANCH_PREFIXES) for k in expected):
            raise CheckpointError(f"{source}: the depth-prior branch is only partly present "
                                  f"(missing e.g. {branch_missing[:2]})")
        model.reset_prior_branch()
        logger.warning("%s is a DUSt3R checkpoint without the depth-prior branch: the branch "
                       "starts at zero (outputs equal DUSt3R's until fine-tuned)", source)
    model.load_state_dict(state_dict, strict=False)


def torch_load_safely(path: str | os.PathLike) -> object:
    """`torch.load(weights_only=True)` with only `argparse.Namespace` allow-listed.

    Raises:
        CheckpointError: a pickle that would import anything else, or an unreadable file.
    """
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = re.search(r"GLOBAL (\S+)", str(err))
        what = f"it would import {unsafe[1]}" if unsafe else first_line(err)
        raise CheckpointError(f"{path}: refusing to unpickle ({what}); only tensors and plain "
                              "containers are loaded") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({first_line(err)}); "
                              "download or save it again") from None


def read_training_checkpoint(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Architecture and weights of an official `.pth`, unpickled with `weights_only=True`."""
    ckpt = torch_load_safely(path)
    state_dict = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{path}: no state dict under 'model'")
    args = ckpt.get("args")
    model_string = getattr(args, "model", None) if args is not None else None
    if isinstance(model_string, str):
        return config_from_constructor(model_string, source=str(path)), state_dict
    return config_from_state_dict(state_dict, source=str(path)), state_dict


def read_hub_folder(folder: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Architecture and weights of a `config.json` + `model.safetensors` folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        kwargs = json.loads((folder / CONFIG_FILE).read_text())  # Python json accepts Infinity
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{folder / CONFIG_FILE}: unreadable config ({first_line(err)})") from None
    config = config_from_kwargs(kwargs, source=str(folder / CONFIG_FILE))
    try:
        state_dict = load_file(folder / WEIGHTS_FILE)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{folder / WEIGHTS_FILE}: unreadable or truncated weights "
                              f"({first_line(err)})") from None
    return config, state_dict


def save_pretrained(model: Align3RNet, folder: str | os.PathLike) -> None:
    """Write `config.json` + `model.safetensors` in the official hub format, atomically.

    As the official files (written by `safetensors.torch.save_model`), the weights leave out the
    8 DPT aliases and the metadata maps each to the key it shares (`layer_rn.N` -> `layerN+1_rn`).
    Tensors are written contiguous whatever their layout in memory (the DPT heads are channels-last).
    """
    from safetensors.torch import save_file

    state_dict = model.state_dict()
    aliases = {key: kept for key in state_dict if (kept := _aliased(key))}
    tensors = {key: value.contiguous() for key, value in state_dict.items() if key not in aliases}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / CONFIG_FILE, lambda tmp: tmp.write_text(config_to_hub_json(model.config)))
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=aliases or None))


# ---------------------------------------------------------------- names and the hub

def download_from_hub(repo_id: str, *, name: str) -> Path:
    """Local folder with config.json + model.safetensors of `repo_id`, cached by huggingface_hub."""
    folder, reason = fetch_snapshot(repo_id, (CONFIG_FILE, WEIGHTS_FILE))
    if folder is not None:
        return folder
    raise ModelNotFoundError(
        f"model {name!r} ({repo_id}) is not in the Hugging Face cache {hub_cache()} and "
        f"cannot be downloaded ({reason}); pass a local .pth or a folder with config.json + "
        f"model.safetensors instead, or the offline model 'tiny' (known names: {', '.join(HUB_MODELS)})")


def load_model(name_or_path: str | os.PathLike, device: torch.device | str | None = None) -> Align3RNet:
    """An Align3R network in eval mode from a model name, hub id, `.pth` file or hub folder.

    Args:
        name_or_path: one of `PACKAGED_MODELS` (`tiny`, `tiny-depthanything`, `tiny-dust3r`, shipped in
            the package) or `HUB_MODELS`, a hub id `owner/name`, an official training `.pth`, or a folder with `config.json` +
            `model.safetensors`.
        device: where to put the weights (default CPU).

    Raises:
        CheckpointError: unreadable, truncated, unsafe or mismatched checkpoint.
        ModelNotFoundError: unknown name, or a hub model that is not cached while offline.
    """
    path = PACKAGED_MODELS.get(str(name_or_path), Path(name_or_path))
    if str(name_or_path) in PACKAGED_MODELS and not path.is_dir():
        raise ModelNotFoundError(f"model {name_or_path!r} is not part of this installation ({path} is missing)")
    if path.is_dir():
        config, state_dict = read_hub_folder(path)
    elif path.is_file():
        config, state_dict = read_training_checkpoint(path)
    elif path.suffix in (".pth", ".pt", ".ckpt", ".safetensors") or path.is_absolute():
        raise ModelNotFoundError(f"{path}: no such checkpoint file")
    elif str(name_or_path) in HUB_MODELS or re.fullmatch(r"[\w.-]+/[\w.-]+", str(name_or_path)):
        repo_id = HUB_MODELS.get(str(name_or_path), str(name_or_path))
        config, state_dict = read_hub_folder(download_from_hub(repo_id, name=str(name_or_path)))
    else:
        raise ModelNotFoundError(f"no model named {str(name_or_path)!r} and no such file or folder "
                                 f"(known names: {', '.join([*PACKAGED_MODELS, *HUB_MODELS])})")
    with torch.device("meta"):
        model = Align3RNet(config)
    model = model.to_empty(device="cpu")  # every tensor is then loaded or reset by load_weights
    load_weights(model, state_dict, source=str(name_or_path))
    return model.to(device or "cpu").eval()
