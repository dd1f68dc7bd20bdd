"""`reconstruct`: frames + network + prior -> Reconstruction (priors, pair inference, alignment).

The data path: one pass over the frames that computes their priors and keeps only the network's
inputs (`pipeline.network_inputs`), pair predictions kept in a `PairStore` (on disk under
`cache_dir`, so an interrupted run resumes), then global or hierarchical alignment.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from align3r.align.config import PRESETS as ALIGN_PRESETS
from align3r.align.global_align import global_align
from align3r.align.hierarchical import hierarchical_align
from align3r.align.known_cameras import KnownCameras
from align3r.errors import InputError, ReconstructionError
from align3r.geometry import centred_intrinsics, nearest_rotation
from align3r.infer.flow import FlowEstimator, FlowName, load_flow
from align3r.infer.graph import pair_graph
from align3r.infer.pairs import PairPredictions
from align3r.infer.preprocess import frame_transform, normalize_rgb
from align3r.infer.runner import Precision, infer_pairs
from align3r.infer.store import PairStore
from align3r.io.known_inputs import KnownInputs
from align3r.io.progress import Progress
from align3r.io.video import VideoFrames
from align3r.model.network import Align3RNet
from align3r.pipeline.aligned_prior import confident_static
from align3r.pipeline.known_grid import known_cameras, network_intrinsics
from align3r.pipeline.metric_scale import metric_factor, rescale
from align3r.pipeline.network_inputs import GridInputs, read_grid_inputs
from align3r.pipeline.quality import quality_report
from align3r.prior.base import DepthPrior
from align3r.reconstruction import Reconstruction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconstructConfig:
    """How a video is reconstructed. Defaults: the official demo (tool/demo.py) with our
    scale-consistent stitching and the mode chosen by memory."""

    size: int | None = None
    """Long side of the network input; None: the model's training size (`max(img_size)`: 512 for
    the official models, 128 for `tiny`)."""
    force_size: bool = False
    """Run a `size` above twice the model's training size or twice the frames' long side (refused
    otherwise: the network sees only upsampled pixels it was not trained at)."""
    crop: bool = True
    """Centre-crop to multiples of 16 (demo); False resizes (official video-depth evaluation)."""
    mode: Literal["auto", "global", "hierarchical"] = "auto"
    """`auto`: global alignment when it fits in `align_memory_gb`, else hierarchical."""
    align_memory_gb: float = 1.0
    """`auto` aligns globally while that alignment's pairs and optimiser state (`GLOBAL_BYTES_PER_PIXEL_EDGE`)
    fit in this many GB and in half the free memory; hierarchically beyond, where the largest scene is
    bounded and the peak memory stays flat in the number of frames (the official demo's default mode)."""
    graph: str = "swinstride-5-noncyclic"
    """Scene graph of global mode (hierarchical mode uses its own keyframe and clip pairs)."""
    preset: str = "align3r"
    """Alignment settings (`align3r.align.config.PRESETS`): `align3r` = demo + similarity
    stitching; `demo`, `pose_test`, `depth_test` reproduce the official entry points."""
    niter: int = 300
    """Optimiser iterations per scene."""
    flow: FlowName | Literal["none"] = "sea-raft"
    """Optical flow of the flow term and the motion masks (official: SEA-RAFT; DIS when its weights
    cannot be had); `none` switches the term off."""
    batch_size: int = 8
    """Pairs per decoder call (halved automatically on out-of-memory)."""
    store_dtype: Literal["float16", "float32"] = "float16"
    """Storage type of the cached pair point maps."""
    precision: Precision = "fp32"
    """Network precision: `fp32` as the official inference; `bf16` / `fp16` autocast for speed."""
    metric: bool = False
    """Rescale depths and poses to a metric prior's units by one robust factor (`pipeline.metric_scale`)."""

    def __post_init__(self) -> None:
        if self.niter < 1:
            raise InputError(f"--niter must be at least 1, got {self.niter}")
        if not self.align_memory_gb > 0:
            raise InputError(f"--align-memory must be above 0 GB, got {self.align_memory_gb}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.preset not in ALIGN_PRESETS:
            raise InputError(f"unknown alignment preset {self.preset!r} (known: {', '.join(ALIGN_PRESETS)})")
        pair_graph(2, self.graph)  # validates the name


def network_size(config: ReconstructConfig, model: Align3RNet, frame_hw: tuple[int, int]) -> int:
    """The long side of the network input: `config.size`, or the model's training size when None.

    Args:
        config: the requested size and `force_size`.
        model: the network; `model.config.img_size` is its training size.
        frame_hw: (H0, W0) of the input frames.

    Raises:
        InputError: an explicit size above twice the training size or twice the frames' long side,
            unless `config.force_size`.
    """
    trained = max(model.config.img_size)
    if config.size is None:
        return trained
    if config.size < 16:
        raise InputError(f"--size must be at least 16 (one patch), got {config.size}")
    if config.size > 2 * min(trained, max(frame_hw)) and not config.force_size:
        raise InputError(f"--size {config.size} is above twice the model's training size ({trained}) or the frames' "
                         f"long side ({max(frame_hw)}); give --force-size to run it anyway")
    return config.size


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
    return digest.hexdigest()[:20]


def model_fingerprint(model: Align3RNet) -> str:
    """Cheap identity of a network's weights: its config and the first values of every tensor."""
    heads = [t.detach().flatten()[:64].float().cpu().numpy() for t in model.state_dict().values()]
    return _fingerprint(model.config, *heads)


GLOBAL_BYTES_PER_PIXEL_EDGE = 120
"""Resident memory of global alignment per pixel of each edge: the pairs (points, confidences,
flows), their channel-first copies and the flow target. Measured with benchmarks/bench_long.py
(tiny, 128x64): 1.29, 2.21 and 3.79 GB peak at 950, 1950 and 3950 edges, i.e. about 0.4 GB
plus 101-118 bytes per pixel per edge."""


def choose_mode(num_frames: int, height: int, width: int, config: ReconstructConfig,
                device: torch.device) -> Literal["global", "hierarchical"]:
    """Global alignment while its pairs and optimiser state fit in `config.align_memory_gb` and in
    half the free memory of `device`; hierarchical beyond (and `config.mode` when not `auto`)."""
    if config.mode != "auto":
        return config.mode
    if num_frames < 5:
        return "global"
    needed = len(pair_graph(num_frames, config.graph)) * height * width * GLOBAL_BYTES_PER_PIXEL_EDGE
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return "global" if needed <= min(config.align_memory_gb * 1e9, free / 2) else "hierarchical"


class _PairSource:
    """Pair predictions on demand: runs the network (and flow) on edges the store lacks."""

    def __init__(self, model: Align3RNet, grid: GridInputs, store: PairStore, config: ReconstructConfig,
                 flow: FlowEstimator | None) -> None:
        self.model, self.grid = model, grid
        self.store, self.config, self.flow = store, config, flow
        self.device = next(model.parameters()).device
        self.asked: list[np.ndarray] = []
        """Every edge list the alignment asked for, global frame indices."""

    def _inputs(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return normalize_rgb(self.grid.images[indices]), torch.from_numpy(self.grid.prior_pts[indices])

    def _flows(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """flow_ij, flow_ji (E, 2, H, W) of `edges` (E, 2), each directed flow computed once.

        The official pipeline computes both flows of every edge, so each flow of a symmetrised
        graph twice (edges (i, j) and (j, i)); here a flow held by the reverse edge in the store
        is read back, and the batch's other directed pairs go to the estimator in one call.
        """
        flows = {(a, b): self.store.stored_flow(a, b) for i, j in edges.tolist() for a, b in ((i, j), (j, i))}
        todo = [pair for pair, flow in flows.items() if flow is None]
        if todo:
            flows.update(zip(todo, self.flow(self.grid.images, np.array(todo))))
        return (np.stack([flows[(i, j)] for i, j in edges.tolist()]),
                np.stack([flows[(j, i)] for i, j in edges.tolist()]))

    def __call__(self, edges: np.ndarray) -> PairPredictions:
        self.asked.append(edges)
        missing = self.store.missing(edges)
        if len(missing):
            with Progress("pairs", len(missing), unit="pair") as progress:
                for batch in infer_pairs(self.model, self._inputs, torch.from_numpy(missing),
                                         batch_size=self.config.batch_size, device=self.device,
                                         precision=self.config.precision):
                    done = missing[batch.edge_ids.numpy()]
                    pairs = batch.pairs
                    if self.flow is not None:
                        flow_ij, flow_ji = self._flows(done)
                        pairs = replace(pairs, flow_ij=torch.from_numpy(flow_ij), flow_ji=torch.from_numpy(flow_ji))
                    self.store.write(pairs)
                    progress.update(len(done))
        return self.store.load(edges, with_flow=self.flow is not None, device=self.device)


def reconstruct(frames: np.ndarray | VideoFrames, model: Align3RNet, prior: DepthPrior, config: ReconstructConfig = ReconstructConfig(),
                *, names: Sequence[str] | None = None, cache_dir: str | os.PathLike | None = None,
                known: KnownInputs | None = None, flow: FlowEstimator | None = None) -> Reconstruction:
    """Consistent depth, cameras and motion masks of a video.

    Args:
        frames: (N, H0, W0, 3) uint8 RGB, N >= 2: an array, or a `VideoFrames` that a long video
            is read through in blocks (never whole at its own resolution).
        model: the network, on the device to use, in eval mode.
        prior: monocular depth prior (see `align3r.load_prior`).
        config: how to reconstruct; `meta["config"]["size"]` records the size used.
        names: N frame names (default `frame_NNNNNN`); file priors are matched by them.
        cache_dir: where pair predictions are kept between runs (default: a temporary folder).
        known: intrinsics, poses and motion masks the user knows (see `KnownInputs`); fixed
            poses and known intrinsics come back unchanged (intrinsics on the network grid).
        flow: the flow estimator, loaded once by the caller (`pipeline.resources`); None loads
            `config.flow` here (nothing when it is `none`).

    Returns:
        The reconstruction at the network's resolution (see `Reconstruction`).
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 2:
        raise InputError(f"frames: need (N >= 2, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    names = list(names) if names is not None else [f"frame_{i:06d}" for i in range(len(frames))]
    config = replace(config, size=network_size(config, model, frames.shape[1:3]))
    device = next(model.parameters()).device
    if flow is None and config.flow != "none":
        flow = load_flow(config.flow, device=device)
    transform = frame_transform(*frames.shape[1:3], size=config.size, crop=config.crop)
    start = time.perf_counter()
    grid = read_grid_inputs(frames, names, prior, transform)
    timings = {"prior_s": grid.prior_s, "inputs_s": time.perf_counter() - start}
    if config.metric and (grid.prior.kind != "depth_metric" or (known is not None and known.poses_c2w is not None)):
        raise InputError(f"--metric needs a metric depth prior (depth-pro, or files: of metric depth; {prior.name} "
                         f"gives {grid.prior.kind}) and no known poses (they set the scale)")
    cameras = KnownCameras() if known is None else known_cameras(known, transform, len(frames))
    height, width = transform.output_size
    mode = choose_mode(len(frames), height, width, config, device)
    align_config, hierarchy = ALIGN_PRESETS[config.preset]
    align_config = replace(align_config, niter=config.niter,
                           flow_weight=align_config.flow_weight if flow is not None else 0.0)
    key = _fingerprint(grid.frames_digest, model_fingerprint(model), prior.cache_key or (prior.name, grid.prior_digest),
                       config.size, config.crop, None if flow is None else flow.name, config.store_dtype,
                       config.precision)
    with tempfile.TemporaryDirectory(prefix="align3r-pairs-") as scratch:
        store = PairStore(Path(cache_dir or scratch) / f"pairs-{key}", height=height, width=width, key=key,
                          dtype=config.store_dtype)
        source = _PairSource(model, grid, store, config, flow)
        start = time.perf_counter()
        if mode == "global":
            result = global_align(source(pair_graph(len(frames), config.graph)), align_config, known=cameras)
        else:
            result = hierarchical_align(source, len(frames), align_config, hierarchy, known=cameras)
        timings["pairs_and_align_s"] = time.perf_counter() - start
        if not (torch.isfinite(result.c2w).all() and torch.isfinite(result.depths).all()):
            raise ReconstructionError("alignment produced non-finite cameras or depths: the network's pair "
                                      "predictions are unusable (wrong or untrained model for this prior?)")
        meta = {"mode": mode, "config": asdict(config), "prior": {"name": prior.name, "kind": grid.prior.kind},
                "flow": "none" if flow is None else flow.name, "flow_note": None if flow is None else flow.note,
                "model": model_fingerprint(model), "input_size": list(frames.shape[1:3]), "timings": timings,
                "known": None if known is None else known.summary()}
        fixed_c2w = None if known is None else known.fixed_c2w
        known_k = None if known is None else network_intrinsics(known, transform)
        rec = Reconstruction(images=grid.images, depths=result.depths.float().cpu().numpy(),
                             conf=result.conf.float().cpu().numpy(),
                             poses_c2w=_rigid(result.c2w.double().cpu()) if fixed_c2w is None else fixed_c2w.copy(),
                             intrinsics=(centred_intrinsics(result.focals.double().cpu(), height, width).numpy()
                                         if known_k is None else known_k),
                             dynamic_masks=result.dynamic_masks.cpu().numpy().astype(bool), names=names, meta=meta)
        edges = np.unique(np.concatenate(source.asked), axis=0)
        # on the alignment's own scale, as the pairs
        meta["quality"] = quality_report(rec, edges, store.load, conf_threshold=align_config.min_conf_thr,
                                         prior=grid.prior, flow_of=store.stored_flow)
        if config.metric:
            rec = _to_metric(rec, grid.prior.values, align_config.min_conf_thr)
    return rec


def _to_metric(rec: Reconstruction, prior_depths: np.ndarray, min_conf: float) -> Reconstruction:
    """`rec` in the units of the metric prior's depths (N, H, W) on its grid: one factor from the
    confident (> `min_conf`) static pixels."""
    factor, pixels = metric_factor(rec.depths, prior_depths, confident_static(rec.conf, rec.dynamic_masks, min_conf))
    rec.meta["metric"] = {"factor": factor, "pixels": pixels}
    return rescale(rec, factor)


def _rigid(c2w: torch.Tensor) -> np.ndarray:
    """(N, 4, 4) float64 poses with rotations projected onto SO(3): the float32 optimiser's are
    orthonormal only to ~1e-7, and quaternion files (pred_traj.txt) must read back exactly."""
    rigid = c2w.clone()
    rigid[:, :3, :3] = nearest_rotation(c2w[:, :3, :3])
    return rigid.numpy()
