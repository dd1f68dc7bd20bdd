"""Depth Anything V2 through transformers: relative disparity at the frames' own resolution (docs/method.md §10.1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from align3r.prior.base import PriorMap, check_frames
from align3r.prior.network import HubNetwork, frame_batches, import_transformers, snapshot


class DepthAnythingPrior(HubNetwork):
    """Depth Anything V2 relative inverse depth, used uninverted as the official code does.

    The network's output is resized to each frame's (H0, W0) with bicubic interpolation
    (align_corners=False), as the transformers depth-estimation pipeline has done since 4.46
    (`post_process_depth_estimation`); the official prior files come from that pipeline.

    Args (`HubNetwork`):
        model: a transformers depth-estimation model (`AutoModelForDepthEstimation`).
        processor: its image processor (resize to a multiple of 14 near 518, normalise).
        name: the prior's name, part of the cache key.
        device: where the network runs (None: CUDA if available); float32 everywhere.
        batch_size: frames per forward pass.
    """

    @classmethod
    def from_pretrained(cls, name: str, *, device: torch.device | str | None = None,
                        batch_size: int = 4) -> DepthAnythingPrior:
        """The hub checkpoint of `name` (a key of `PRIOR_REPOS`), from the cache or downloaded."""
        transformers = import_transformers()
        folder = snapshot(name)
        model = transformers.AutoModelForDepthEstimation.from_pretrained(folder)
        processor = transformers.AutoImageProcessor.from_pretrained(folder)
        return cls(model, processor, name=name, device=device, batch_size=batch_size)

    @property
    def cache_key(self) -> str:
        return f"{self.name}|disparity_affine|bicubic|{self.dtype}"

    def _disparity(self, batch: np.ndarray) -> np.ndarray:
        """(B, H0, W0, 3) uint8 -> (B, H0, W0) float32 disparity."""
        images = [Image.fromarray(frame) for frame in batch]  # as the official pipeline call receives them
        pixel_values = self.processor(images=images, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            output = self.model(pixel_values=pixel_values.to(self.device, self.dtype))
        disparity = output.predicted_depth.float()  # (B, h, w) at the processor's resolution
        full = F.interpolate(disparity[:, None], size=batch.shape[1:3], mode="bicubic", align_corners=False)
        return full[:, 0].cpu().numpy()

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """Disparity of (N, H0, W0, 3) uint8 frames: PriorMap `disparity_affine`, (N, H0, W0), no focal."""
        check_frames(frames, names)
        maps = [self._disparity(batch) for batch in frame_batches(frames, self.batch_size, desc=self.name)]
        return PriorMap("disparity_affine", np.concatenate(maps))
