"""Depth Pro through transformers: metric depth and a focal from its field-of-view head (docs/method.md §10.1)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from align3r.errors import CheckpointError
from align3r.prior.base import PriorMap, check_frames
from align3r.prior.network import frame_batches, import_transformers, inference_device, snapshot


@dataclass(frozen=True)
class DepthProInput:
    """The network input of Depth Pro; defaults are those of `DepthProImageProcessor` and Apple's
    `depth_pro.create_model_and_transforms`."""

    size: int = 1536
    """Square side the normalised frame is resized to (bilinear, no antialias)."""
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel mean subtracted from RGB in [0, 1] before the resize."""
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Per-channel std the RGB is divided by."""

    @classmethod
    def from_folder(cls, folder: Path) -> DepthProInput:
        """The settings of `preprocessor_config.json` in a checkpoint folder, defaults if absent."""
        path = folder / "preprocessor_config.json"
        if not path.is_file():
            return cls()
        config = json.loads(path.read_text())
        size = config.get("size", {}).get("height", cls.size)
        return cls(size, tuple(config.get("image_mean", cls.mean)), tuple(config.get("image_std", cls.std)))


class DepthProPrior:
    """Depth Pro metric depth (metres) and focal length, at each frame's (H0, W0).

    transformers' `DepthProForDepthEstimation` returns the *canonical inverse depth* at the
    network's resolution and the field of view in degrees. As Apple's `DepthPro.infer` and
    transformers' `post_process_depth_estimation` do: f = 0.5 W0 / tan(0.5 fov), inverse depth
    = canonical * W0 / f, bilinear resize to (H0, W0), depth = 1 / clamp(inverse, 1e-4, 1e4).
    The input is normalised here rather than by `DepthProImageProcessor`, which needs
    torchvision; the operations are the same (normalise, then bilinear resize).
    EXIF focal lengths (which the official prior script prefers when present) are not used.

    Args:
        model: `DepthProForDepthEstimation` with its field-of-view head.
        name: the prior's name, part of the cache key.
        network_input: input size and normalisation.
        device: where the network runs (None: CUDA if available); float32 everywhere.
        batch_size: frames per forward pass.
    """

    def __init__(self, model: torch.nn.Module, *, name: str = "depth-pro",
                 network_input: DepthProInput = DepthProInput(), device: torch.device | str | None = None,
                 batch_size: int = 1) -> None:
        if not getattr(model, "use_fov_model", False):
            raise CheckpointError(f"{name}: the Depth Pro model has no field-of-view head (use_fov_model), "
                                  "so its depth is not metric")
        self.name = name
        self.network_input = network_input
        self.device = inference_device(device)
        self.dtype = torch.float32  # on every device, as the official priors run
        self.model = model.to(self.device, self.dtype).eval()
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, name: str = "depth-pro", *, device: torch.device | str | None = None,
                        batch_size: int = 1) -> DepthProPrior:
        """The hub checkpoint of `name`, from the cache or downloaded."""
        transformers = import_transformers()
        folder = snapshot(name)
        model = transformers.DepthProForDepthEstimation.from_pretrained(folder)
        return cls(model, name=name, network_input=DepthProInput.from_folder(folder), device=device,
                   batch_size=batch_size)

    @property
    def cache_key(self) -> str:
        return f"{self.name}|depth_metric|{self.network_input}|{self.dtype}"

    def _pixel_values(self, batch: np.ndarray) -> torch.Tensor:
        """(B, H0, W0, 3) uint8 -> (B, 3, S, S) normalised network input."""
        rgb = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 255
        mean = torch.tensor(self.network_input.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.network_input.std).view(1, 3, 1, 1)
        size = (self.network_input.size, self.network_input.size)
        return F.interpolate((rgb - mean) / std, size=size, mode="bilinear", align_corners=False)

    def _depth_and_focal(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, H0, W0, 3) uint8 -> depth (B, H0, W0) float32 metres, focal (B,) float64 pixels."""
        height, width = batch.shape[1:3]
        with torch.inference_mode():
            output = self.model(pixel_values=self._pixel_values(batch).to(self.device, self.dtype))
        canonical = output.predicted_depth.float().reshape(len(batch), *output.predicted_depth.shape[-2:])
        fov_deg = output.field_of_view.float().reshape(len(batch))
        focal = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov_deg))  # (B,)
        inverse = canonical * (width / focal)[:, None, None]
        inverse = F.interpolate(inverse[:, None], size=(height, width), mode="bilinear", align_corners=False)
        depth = 1.0 / inverse[:, 0].clamp(min=1e-4, max=1e4)
        return depth.cpu().numpy(), focal.double().cpu().numpy()

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """Depth of (N, H0, W0, 3) uint8 frames: PriorMap `depth_metric`, (N, H0, W0), focal (N,)."""
        check_frames(frames, names)
        parts = [self._depth_and_focal(batch) for batch in frame_batches(frames, self.batch_size, desc=self.name)]
        return PriorMap("depth_metric", np.concatenate([d for d, _ in parts]), np.concatenate([f for _, f in parts]))

