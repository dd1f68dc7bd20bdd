"""The official network goldens: the weights recipe, the inputs and the outputs (tests/goldens/model)."""

import json
import zlib
from pathlib import Path

import numpy as np
import torch

from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet

MODEL_DATA = Path(__file__).parents[1] / "goldens" / "model"
GOLDEN_CASES = {"small_linear": "manifest_small.json", "small_dpt": "manifest_small_dpt.json"}


def recipe_draw(key: str, shape: list[int]) -> np.ndarray:
    """The float64 standard normal draw of `key` (PCG64 seeded with crc32(key))."""
    return np.random.Generator(np.random.PCG64(zlib.crc32(key.encode()))).standard_normal(shape)


def recipe_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """The float32 recipe tensor of `key`: LayerNorm-like weights 1 + 0.02 x, biases and 1-D 0.02 x,
    the rest x / sqrt(fan_in)."""
    x = recipe_draw(key, shape)
    if key.endswith(".weight") and len(shape) == 1 and any("norm" in p for p in key.split(".")[-2:]):
        value = 1 + 0.02 * x
    elif key.endswith(".bias") or len(shape) <= 1:
        value = 0.02 * x
    else:
        value = x / np.sqrt(np.prod(shape[1:]))
    return torch.from_numpy(value.astype(np.float32))


def golden_state_dict(manifest_file: str) -> dict[str, torch.Tensor]:
    """The weights of tests/goldens/README.md: per key, PCG64 seeded with crc32(key)."""
    manifest = json.loads((MODEL_DATA / manifest_file).read_text())
    state_dict = {}
    for key, shape in manifest:
        if ".dpt.scratch.layer_rn." not in key:
            state_dict[key] = recipe_tensor(key, shape)
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


TOL = 1e-4  # tests/goldens/README.md: |ours - ref| <= 1e-4 * max(1, |ref|)


def assert_golden(name: str, ours: torch.Tensor, ref: np.ndarray, *, points: bool = False) -> None:
    """Element-wise golden tolerance; for 3D points the scale is the point's norm.

    The `exp` depth mode amplifies float32 noise of the head's direction: on a point of norm
    12,600 the official float32 x-coordinate is 4.5e-3 away from a float64 evaluation of the
    same network, so per coordinate only the point's magnitude is a meaningful scale.
    """
    ours = ours.detach().double().cpu().numpy()
    assert ours.shape == ref.shape, name
    scale = np.linalg.norm(ref, axis=-1, keepdims=True) if points else np.abs(ref)
    excess = np.abs(ours - ref) / np.maximum(1.0, scale)
    assert excess.max() <= TOL, f"{name}: max relative error {excess.max():.3g}"


def golden_model(case: str) -> Align3RNet:
    model = Align3RNet(PRESETS[case]).eval()
    model.load_state_dict(golden_state_dict(GOLDEN_CASES[case]))
    return model


def assert_matches_golden_outputs(model: Align3RNet, case: str, device: torch.device = torch.device("cpu")) -> None:
    """The official outputs of `case`, the network run on `device`."""
    view1, view2 = ({key: value.to(device) for key, value in view.items()} for view in golden_views(case))
    ref = golden_outputs(case)
    with torch.no_grad():
        pred1, pred2 = model.to(device)(view1, view2)
    assert_golden("pts3d", pred1["pts3d"], ref["pred1_pts3d"], points=True)
    assert_golden("conf1", pred1["conf"], ref["pred1_conf"])
    assert_golden("pts3d_in_other_view", pred2["pts3d_in_other_view"], ref["pred2_pts3d_in_other_view"], points=True)
    assert_golden("conf2", pred2["conf"], ref["pred2_conf"])
