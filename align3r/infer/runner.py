"""Pair inference over a scene graph: each frame encoded once, decoders and heads per batch of edges.

Edges are visited in the order of their later frame, and a frame's encoding is dropped after its
last edge, so only the frames of the graph's current window are resident (about 2K+1 frames
for `swinstride-K`), whatever the video's length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import torch

from align3r.infer.pairs import PairPredictions
from align3r.model.network import Align3RNet, FrameEncoding, PairPrediction

logger = logging.getLogger(__name__)

FrameLoader = Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]
"""frame indices -> (imgs (n, 3, H, W) in [-1, 1], prior_pts (n, H, W, 3) in [0, 1]), on any device."""


@dataclass(frozen=True)
class PairBatch:
    """Predictions for some edges of the graph.

    Attributes:
        edge_ids: (B,) int64 positions of these edges in the caller's edge list.
        pairs: their points and confidences in camera i's frame, float32 on the CPU, no flows.
    """

    edge_ids: torch.Tensor
    pairs: PairPredictions


def visiting_order(edges: torch.Tensor) -> torch.Tensor:
    """Edge positions sorted by (later frame, earlier frame, position): (E, 2) -> (E,)."""
    later, earlier = edges.max(dim=1).values, edges.min(dim=1).values
    key = (later * (edges.max() + 1) + earlier) * edges.shape[0] + torch.arange(edges.shape[0])
    return key.argsort()


Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[Precision, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Network precision -> autocast dtype (None: plain float32, as the official inference runs)."""


def _autocast(device: torch.device, precision: Precision):
    """Autocast to `precision` on the device's type (the heads stay float32 inside the network)."""
    dtype = PRECISIONS[precision]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _encode_missing(model: Align3RNet, load: FrameLoader, needed: list[int],
                    cache: dict[int, FrameEncoding], batch_size: int, device: torch.device,
                    precision: Precision) -> None:
    missing = [n for n in needed if n not in cache]
    for start in range(0, len(missing), batch_size):
        chunk = missing[start:start + batch_size]
        imgs, prior_pts = load(chunk)
        with _autocast(device, precision):
            encoded = model.encode_frames(imgs.to(device), prior_pts.to(device))
        for k, n in enumerate(chunk):
            cache[n] = encoded.select(slice(k, k + 1))


def _stack(encodings: list[FrameEncoding]) -> FrameEncoding:
    first = encodings[0]
    return FrameEncoding(torch.cat([e.enc_tokens for e in encodings]), torch.cat([e.dec_tokens for e in encodings]),
                         torch.cat([e.injections for e in encodings]), first.image_size)


def _decode(model: Align3RNet, frames_i: FrameEncoding, frames_j: FrameEncoding,
            device: torch.device, precision: Precision) -> PairPrediction:
    """decode_pairs, splitting the batch in halves while the accelerator runs out of memory."""
    try:
        with _autocast(device, precision):
            return model.decode_pairs(frames_i, frames_j)
    except torch.cuda.OutOfMemoryError:
        count = frames_i.dec_tokens.shape[0]
        if count == 1:
            raise
        logger.warning("out of memory decoding %d pairs at once; splitting the batch", count)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        halves = (slice(0, count // 2), slice(count // 2, count))
        parts = [_decode(model, frames_i.select(h), frames_j.select(h), device, precision) for h in halves]
        return PairPrediction.cat(parts)


@torch.inference_mode()
def infer_pairs(model: Align3RNet, load: FrameLoader, edges: torch.Tensor, *, batch_size: int = 8,
                device: torch.device | str | None = None, precision: Precision = "fp32") -> Iterator[PairBatch]:
    """Run the network on every edge (i, j) of a graph.

    Args:
        model: the network, already on `device` and in eval mode.
        load: gives the inputs of a list of frames (called once per frame).
        edges: (E, 2) int64 ordered pairs (i = view 1, j = view 2).
        batch_size: edges per decoder call (and frames per encoder call).
        device: where the network runs (default: the model's device).
        precision: `fp32` (official), or autocast to `bf16` / `fp16` for speed.

    Yields:
        Predictions for consecutive batches of edges, in visiting order (not the input order).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    order = visiting_order(edges)
    last_use = {int(n): position for position, e in enumerate(order.tolist()) for n in edges[e].tolist()}
    cache: dict[int, FrameEncoding] = {}
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        pairs = edges[batch].tolist()
        _encode_missing(model, load, sorted({n for pair in pairs for n in pair}), cache, batch_size, device, precision)
        pred = _decode(model, _stack([cache[i] for i, _ in pairs]), _stack([cache[j] for _, j in pairs]), device,
                       precision)
        yield PairBatch(batch, PairPredictions(edges=edges[batch], pts3d_i_in_i=pred.pts3d_i_in_i,
                                               pts3d_j_in_i=pred.pts3d_j_in_i, conf_i=pred.conf_i,
                                               conf_j=pred.conf_j).to("cpu"))
        done = start + len(batch) - 1
        for n in [n for n in cache if last_use[n] <= done]:
            del cache[n]
