"""Full-resolution outputs: depth, confidence and motion masks on the input frames' own pixel grid.

The network sees a resize and centre crop of each frame (`FrameTransform`). Here the
reconstruction is mapped back through that transform onto the original (H0, W0) grid:
- depth: Prompt Depth Anything (transformers `PromptDepthAnythingForDepthEstimation`) run on the
  original RGB frame, prompted with our depth, then re-fitted to our depth per frame with a
  scale and a shift (least squares on the pixels the network saw; scale only when the affine
  fit would not keep every depth positive), so the video's scale and consistency stay ours;
  bilinear (half-pixel centres) when no such model is available;
- confidence bilinear, motion masks nearest pixel;
- intrinsics: K of the network grid mapped back through the transform's pixel affine.
Original pixels outside the crop (the border the network never saw) get the same interpolation
at coordinates clamped to the network grid: each copies the value at the nearest point of the
crop's edge (constant extension, `restore_map(..., outside="edge")`). On the Prompt Depth
Anything path the prompt is extended so, and the border's depth is the model's (re-fitted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from align3r.errors import Align3rError, InputError, first_line
from align3r.hub import fetch_snapshot
from align3r.infer.preprocess import FrameTransform, restore_map, transform_intrinsics
from align3r.prior.network import SNAPSHOT_FILES, HubNetwork, frame_batches, import_transformers
from align3r.reconstruction import Reconstruction

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "depth-anything/prompt-depth-anything-vits-hf"
"""The Prompt Depth Anything checkpoint `--full-res` uses unless told otherwise."""


@dataclass(frozen=True)
class FullResOptions:
    """How the full-resolution outputs are made."""

    model: str = DEFAULT_MODEL
    """Prompt Depth Anything checkpoint: a folder or a hub id; bilinear when it cannot be loaded."""
    batch_size: int = 4
    """Frames per Prompt Depth Anything forward pass."""


def full_res_options(enabled: bool, model: str | None) -> FullResOptions | None:
    """The options of the `--full-res` and `--full-res-model` flags (None: no full-res output)."""
    if model is not None and not enabled:
        raise InputError("--full-res-model only applies with --full-res")
    return FullResOptions(model=model or DEFAULT_MODEL) if enabled else None


class PromptDepthRefiner(HubNetwork):
    """Prompt Depth Anything: an RGB frame and a coarse depth prompt -> depth at the frame's resolution.

    Args (`HubNetwork`):
        model: a `PromptDepthAnythingForDepthEstimation`.
        processor: its image processor (resize to multiples of 14, normalise).
        name: the checkpoint's name, for the output's meta.
        device: where the network runs (None: CUDA if available); float32 everywhere.
        batch_size: frames per forward pass.
    """

    @classmethod
    def from_pretrained(cls, name: str, *, device: torch.device | str | None = None,
                        batch_size: int = 4) -> PromptDepthRefiner:
        """The checkpoint in folder `name`, or of hub id `name` (cached or downloaded).

        Raises:
            Align3rError: transformers missing, or `name` neither a folder nor reachable.
            OSError, ValueError: the checkpoint is not a Prompt Depth Anything one or is broken.
        """
        transformers = import_transformers()
        folder = Path(name)
        if not folder.is_dir():
            fetched, reason = fetch_snapshot(name, SNAPSHOT_FILES)
            if fetched is None:
                raise Align3rError(f"{name!r} is neither a folder nor in the Hugging Face cache ({reason})")
            folder = fetched
        kind = transformers.AutoConfig.from_pretrained(folder).model_type
        if kind != "prompt_depth_anything":
            raise ValueError(f"{folder} holds a {kind!r} model, not Prompt Depth Anything")
        model = transformers.PromptDepthAnythingForDepthEstimation.from_pretrained(folder)
        processor = transformers.AutoImageProcessor.from_pretrained(folder)
        return cls(model, processor, name=name, device=device, batch_size=batch_size)

    def _refine(self, frames: np.ndarray, prompt: np.ndarray) -> np.ndarray:
        """(B, H0, W0, 3) uint8 and (B, h, w) prompt -> (B, H0, W0) float32 depth in the prompt's units."""
        pixel_values = self.processor(images=[Image.fromarray(f) for f in frames], return_tensors="pt")["pixel_values"]
        prompt_t = torch.from_numpy(np.ascontiguousarray(prompt, dtype=np.float32))[:, None]  # (B, 1, h, w)
        with torch.inference_mode():
            output = self.model(pixel_values=pixel_values.to(self.device, self.dtype),
                                prompt_depth=prompt_t.to(self.device, self.dtype))
        depth = output.predicted_depth.float()[:, None]  # (B, 1, h', w') at the processor's resolution
        full = F.interpolate(depth, size=frames.shape[1:3], mode="bilinear", align_corners=False)
        return full[:, 0].cpu().numpy()

    def __call__(self, frames: np.ndarray, prompt: np.ndarray) -> np.ndarray:
        """Depth of (N, H0, W0, 3) uint8 frames prompted with (N, h, w) depth: (N, H0, W0) float32."""
        out, done = [], 0
        for batch in frame_batches(frames, self.batch_size, desc="full-res depth"):
            out.append(self._refine(batch, prompt[done:done + len(batch)]))
            done += len(batch)
        return np.concatenate(out)


def load_refiner(options: FullResOptions, *, device: torch.device | str | None = None) -> PromptDepthRefiner | None:
    """The Prompt Depth Anything model of `options`, or None (bilinear) with one warning when it
    cannot be loaded (transformers missing, not cached offline, not such a model, broken)."""
    try:
        return PromptDepthRefiner.from_pretrained(options.model, device=device, batch_size=options.batch_size)
    except (Align3rError, OSError, ValueError, KeyError) as err:
        logger.warning("--full-res: cannot load Prompt Depth Anything %r (%s); upsampling depth bilinearly",
                       options.model, first_line(err))
        return None


def restore_intrinsics(intrinsics: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """(N, 3, 3) float64 K of the original frames from K of the network grid (inverse of
    `transform_intrinsics`)."""
    k = torch.from_numpy(np.asarray(intrinsics, dtype=np.float64))
    affine = transform_intrinsics(torch.eye(3, dtype=torch.float64), transform)  # original -> network pixels
    return torch.linalg.solve(affine, k).numpy()


def fit_scale_shift(depth: np.ndarray, target: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """(scale, shift) with scale * depth + shift closest to `target` on `valid` (least squares).

    The shift is dropped (scale-only least squares) when `depth` has no spread on `valid` (relative
    standard deviation under 1e-6), or when the affine fit has no positive slope or would make some
    depth of the frame non-positive.

    Args:
        depth: (H0, W0) positive model depth.
        target: (H0, W0) our depth (upsampled).
        valid: (H0, W0) bool, the pixels that take part.
    """
    d, t = depth[valid].astype(np.float64), target[valid].astype(np.float64)
    if d.size == 0:
        return 1.0, 0.0
    if d.std() > 1e-6 * abs(d.mean()):
        (scale, shift), *_ = np.linalg.lstsq(np.stack([d, np.ones_like(d)], axis=1), t, rcond=None)
        if scale > 0 and scale * float(depth.min()) + shift > 0:
            return float(scale), float(shift)
    return float(d @ t / max(d @ d, 1e-30)), 0.0


def _prompt(depth_full: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """(N, H0, W0) extended depth -> (N, h, w) over the whole frame at the network's pixel density."""
    scale, _ = transform.pixel_affine()  # (u, v) network pixels per original pixel
    size = (max(1, round(depth_full.shape[1] * scale[1])), max(1, round(depth_full.shape[2] * scale[0])))
    return F.interpolate(torch.from_numpy(depth_full)[:, None], size=size, mode="area")[:, 0].numpy()


def full_resolution(rec: Reconstruction, frames: np.ndarray, transform: FrameTransform, *,
                    refiner: PromptDepthRefiner | None = None) -> Reconstruction:
    """`rec` on the original frames' pixel grid (see the module docstring for how).

    Args:
        rec: the reconstruction at the network's (H, W).
        frames: (N, H0, W0, 3) uint8, the frames `rec` was made from.
        transform: the network input's `FrameTransform` of those frames.
        refiner: Prompt Depth Anything (None: bilinear depth).

    Returns:
        A Reconstruction with images `frames`, (N, H0, W0) depths (float32), conf and
        dynamic_masks, the same poses, intrinsics of the original frames, and `meta["full_res"]`:
        method, per-frame scale and shift of the re-fit (Prompt Depth Anything only), seconds and
        `observed_box` (top, left, height, width) of the original pixels the network saw.
    """
    if frames.shape[1:3] != transform.input_size or rec.depths.shape[1:] != transform.output_size:
        raise ValueError(f"frames {frames.shape} and depths {rec.depths.shape} do not match the transform "
                         f"{transform.input_size} -> {transform.output_size}")
    start = time.perf_counter()
    restored = [restore_map(d, transform, interpolation="linear", outside="edge") for d in rec.depths]
    depths = np.stack([r[0] for r in restored]).astype(np.float32)  # (N, H0, W0) bilinear, edges extended
    valid = restored[0][1]  # (H0, W0), the same for every frame
    info: dict = {"method": "bilinear"}
    if refiner is not None:
        refined = refiner(frames, _prompt(depths, transform))
        fits = [fit_scale_shift(r, d, valid & (d > 0)) for r, d in zip(refined, depths)]
        depths = np.stack([s * r + b for (s, b), r in zip(fits, refined)]).astype(np.float32)
        info = {"method": "prompt-depth-anything", "model": refiner.name,
                "scale": [s for s, _ in fits], "shift": [b for _, b in fits]}
    conf = np.stack([restore_map(c, transform, interpolation="linear", outside="edge")[0] for c in rec.conf])
    masks = np.stack([restore_map(m, transform, outside="edge")[0] for m in rec.dynamic_masks])
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    info.update(observed_box=[int(rows[0]), int(cols[0]), len(rows), len(cols)], seconds=time.perf_counter() - start)
    return replace(rec, images=frames, depths=depths, conf=conf.astype(np.float32), dynamic_masks=masks,
                   intrinsics=restore_intrinsics(rec.intrinsics, transform), meta={**rec.meta, "full_res": info})
