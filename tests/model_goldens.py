"""The official network goldens: the weights recipe, the inputs and the outputs (tests/data/model)."""

import json
import zlib
from pathlib import Path

import numpy as np
import torch

MODEL_DATA = Path(__file__).parent / "data" / "model"
GOLDEN_CASES = {"small_linear": "manifest_small.json", "small_dpt": "manifest_small_dpt.json"}


def golden_state_dict(manifest_file: str) -> dict[str, torch.Tensor]:
    """The weights of shared/golden/README.md: per key, PCG64 seeded with crc32(key)."""
    manifest = json.loads((MODEL_DATA / manifest_file).read_text())
    state_dict = {}
    for key, shape in manifest:
        if ".dpt.scratch.layer_rn." in key:
            continue
        x = np.random.Generator(np.random.PCG64(zlib.crc32(key.encode()))).standard_normal(shape)
        last_parts = key.split(".")[-2:]
        if key.endswith(".weight") and len(shape) == 1 and any("norm" in p for p in last_parts):
            value = 1 + 0.02 * x
        elif key.endswith(".bias") or len(shape) <= 1:
            value = 0.02 * x
        else:
            value = x / np.sqrt(np.prod(shape[1:]))
        state_dict[key] = torch.from_numpy(value.astype(np.float32))
    for key, _ in manifest:
        if ".dpt.scratch.layer_rn." in key:
            level = int(key.split(".")[-2])
            state_dict[key] = state_dict[key.replace(f"layer_rn.{level}", f"layer{level + 1}_rn")]
    return state_dict


def golden_views(case: str) -> tuple[dict, dict]:
    """The official view dicts of `in_<case>.npz`."""
    data = np.load(MODEL_DATA / f"in_{case}.npz")
    return tuple({"img": torch.from_numpy(data[f"img{v}"]),
                  "pred_depth": torch.from_numpy(data[f"pred_depth{v}"]),
                  "true_shape": torch.from_numpy(data[f"true_shape{v}"])} for v in (1, 2))


def golden_outputs(case: str) -> dict[str, np.ndarray]:
    return dict(np.load(MODEL_DATA / f"out_{case}.npz"))
