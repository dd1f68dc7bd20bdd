"""Load and save SEA-RAFT weights: the official `.pth`, safetensors files and folders, the hub copy."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, fields
from pathlib import Path

import torch

from align3r.atomic import atomic_write
from align3r.errors import CheckpointError, ModelNotFoundError, first_line
from align3r.hub import fetch_snapshot, hub_cache
from align3r.infer.flow.sea_raft import STAGE_DEPTHS, SeaRaft, SeaRaftConfig
from align3r.model.checkpoint import torch_load_safely

HUB_MODELS: dict[str, str] = {"sea-raft-m": "MemorySlices/Tartan-C-T432x960-M"}
"""Names -> Hugging Face repositories holding the official `Tartan-C-T432x960-M` weights as
`model.safetensors`, written by SEA-RAFT's `PyTorchModelHubMixin` (its `args` Namespace is not
JSON, so no architecture config is expected beside it: the shapes give it)."""

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
_TWINS = (".bn3.", ".downsample.1.")
"""One BatchNorm registered under two names (official core/layer.py `BasicBlock`)."""


def _retie_twins(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add the missing name of each shared BatchNorm tensor; safetensors files keep only one."""
    state_dict = dict(state_dict)
    for key in list(state_dict):
        for name, twin in (_TWINS, _TWINS[::-1]):
            if name in key and key.replace(name, twin) not in state_dict:
                state_dict[key.replace(name, twin)] = state_dict[key]
    return state_dict


def config_from_state_dict(state_dict: dict[str, torch.Tensor], *, source: str) -> SeaRaftConfig:
    """The architecture a SEA-RAFT state dict (keys without `module.`) describes, from its shapes."""
    def count(prefix: str) -> int:
        return len({k.removeprefix(prefix).split(".")[0] for k in state_dict if k.startswith(prefix)})

    try:
        corr_channels = state_dict["update_block.encoder.convc1.weight"].shape[1]
        block_dims = tuple(state_dict[f"fnet.layer{stage}.0.conv1.weight"].shape[0] for stage in (1, 2, 3))
        dim, initial_dim = state_dict["init_conv.weight"].shape[0] // 2, state_dict["fnet.conv1.weight"].shape[0]
    except KeyError as err:
        raise CheckpointError(f"{source}: not a SEA-RAFT checkpoint (no {err}); pass the official "
                              "Tartan-C-T432x960-M.pth or a folder written by save_sea_raft") from None
    depths = tuple(count(f"fnet.layer{stage}.") for stage in (1, 2, 3))
    pretrain = next((name for name, stages in STAGE_DEPTHS.items() if stages == depths), None)
    if pretrain is None:
        raise CheckpointError(f"{source}: encoder stages of {depths} blocks match no SEA-RAFT "
                              f"variant ({STAGE_DEPTHS})")
    return SeaRaftConfig(dim=dim, radius=(round((corr_channels / 4) ** 0.5) - 1) // 2,
                         num_blocks=count("update_block.refine."), initial_dim=initial_dim,
                         block_dims=block_dims, pretrain=pretrain)


def _check_config_file(path: Path, config: SeaRaftConfig) -> None:
    """A config.json beside the weights must agree with them where it names an architecture field.

    Other keys (the official JSON's training settings) are ignored.
    """
    try:
        written = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable config ({first_line(err)})") from None
    for field in fields(SeaRaftConfig):
        ours = getattr(config, field.name)
        if field.name in written and written[field.name] != (list(ours) if isinstance(ours, tuple) else ours):
            raise CheckpointError(f"{path}: {field.name}={written[field.name]!r} but the weights have "
                                  f"{ours!r}; the folder mixes two models")


def _read_pth(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of an official `.pth` (`torch_load_safely`), possibly wrapped."""
    loaded = torch_load_safely(path)
    for wrapper in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise CheckpointError(f"{path}: no state dict of tensors inside; pass the official Tartan-C-T432x960-M.pth")
    return loaded


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable or truncated weights ({first_line(err)}); "
                              "download or save them again") from None


def _resolve(name_or_path: str | os.PathLike) -> Path:
    """The weights file or folder `name_or_path` names: a path, a known name or a hub id."""
    path = Path(name_or_path)
    if path.exists():
        return path
    name = str(name_or_path)
    looks_like_file = path.suffix in (".pth", ".pt", ".safetensors") or path.is_absolute()
    if name not in HUB_MODELS and (looks_like_file or not re.fullmatch(r"[\w.-]+/[\w.-]+", name)):
        raise ModelNotFoundError(f"{name}: no such SEA-RAFT checkpoint, folder or model name "
                                 f"(known names: {', '.join(HUB_MODELS)})")
    repo_id = HUB_MODELS.get(name, name)
    folder, reason = fetch_snapshot(repo_id, (WEIGHTS_FILE, CONFIG_FILE))
    if folder is None or not (folder / WEIGHTS_FILE).is_file():
        raise ModelNotFoundError(
            f"SEA-RAFT weights {name!r} ({repo_id}) are not in the Hugging Face cache {hub_cache()} and cannot "
            f"be downloaded ({reason or f'no {WEIGHTS_FILE} there'}); pass the official "
            "Tartan-C-T432x960-M.pth or a folder with model.safetensors instead")
    return folder


def load_sea_raft(name_or_path: str | os.PathLike = "sea-raft-m", *,
                  device: torch.device | str = "cpu") -> SeaRaft:
    """A SEA-RAFT network in eval mode, its architecture read from the weight shapes.

    Args:
        name_or_path: an official `.pth` (a state dict, maybe under 'model' or 'state_dict',
            `module.` prefixes stripped as the official loader does), a `.safetensors` file, a
            folder with `model.safetensors` (+ optional `config.json`), a name of `HUB_MODELS`
            or a hub id `owner/name` (cache first, downloaded only when online).
        device: where the weights go.

    Raises:
        CheckpointError: a truncated, unsafe or foreign (wrong keys or shapes) checkpoint.
        ModelNotFoundError: no such file, or hub weights that are not cached while offline.
    """
    path = _resolve(name_or_path)
    weights = path / WEIGHTS_FILE if path.is_dir() else path
    if path.is_dir() and not weights.is_file():
        raise ModelNotFoundError(f"{path}: no {WEIGHTS_FILE} in this folder; pass a folder written by "
                                 "save_sea_raft or the official .pth")
    raw = _read_safetensors(weights) if weights.suffix == ".safetensors" else _read_pth(weights)
    state_dict = _retie_twins({key.removeprefix("module."): value for key, value in raw.items()})
    config = config_from_state_dict(state_dict, source=str(weights))
    if path.is_dir() and (path / CONFIG_FILE).is_file():
        _check_config_file(path / CONFIG_FILE, config)
    model = SeaRaft(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state_dict)), sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{weights}: not the SEA-RAFT architecture ({len(missing)} missing keys, e.g. "
                              f"{missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})")
    for key, value in state_dict.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(f"{weights}: {key} has shape {tuple(value.shape)}, the architecture "
                                  f"needs {tuple(expected[key].shape)}")
    model.load_state_dict(state_dict)
    return model.to(device).eval()


def save_sea_raft(model: SeaRaft, folder: str | os.PathLike) -> None:
    """Write `config.json` + `model.safetensors` into `folder`, atomically.

    As `safetensors.torch.save_model` (which wrote the hub copy) each shared BatchNorm is stored
    once, under its `bn3` name, the metadata mapping the dropped `downsample.1` name to it.
    """
    from safetensors.torch import save_file

    state_dict = model.state_dict()
    dropped = {key: key.replace(*_TWINS[::-1]) for key in state_dict if _TWINS[1] in key}
    tensors = {key: value.contiguous() for key, value in state_dict.items() if key not in dropped}
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(config, indent=2)))
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=dropped or None))
