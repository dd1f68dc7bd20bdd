"""The pair predictions of a video in a memory-mapped store on disk: written as they come, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from align3r.atomic import atomic_save_npy, atomic_write_bytes
from align3r.errors import InputError
from align3r.geometry import check_shape
from align3r.infer.pairs import PairPredictions


class PairStore:
    """Pair predictions on disk, one set of `.npy` files per ordered edge, memory-mapped on read.

    Layout of `root`: `store.json` (size, dtypes, key), and per edge `i_j.pts.npy` (2, H, W, 3)
    (`pts3d_i_in_i`, `pts3d_j_in_i`, float16 by default), `i_j.conf.npy` (2, H, W) float32 raw
    confidences (1 + exp(x) overflows float16), `i_j.flow.npy` (2, 2, H, W) (`flow_ij`,
    `flow_ji`) when flows are stored. Each file is written to a temporary name and renamed; the
    points file is renamed last, so an edge counts as stored only when complete and an
    interrupted run resumes by writing the missing edges.
    """

    def __init__(self, root: str | Path, *, height: int, width: int, key: str,
                 dtype: Literal["float16", "float32"] = "float16") -> None:
        """Open or create a store.

        Args:
            root: folder of the store (created).
            height, width: size of every prediction.
            key: hash of the inputs and settings that produced the predictions.
            dtype: storage type of points and flows.

        Raises:
            InputError: the folder holds a store made for another key, size or dtype.
        """
        self.root = Path(root)
        self.height, self.width, self.dtype = height, width, np.dtype(dtype)
        header = {"height": height, "width": width, "dtype": dtype, "key": key}
        manifest = self.root / "store.json"
        if manifest.exists():
            found = json.loads(manifest.read_text())
            if found != header:
                raise InputError(f"pair store {self.root} was made for other inputs ({found}); "
                                 "use another cache folder or remove it")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(manifest, json.dumps(header).encode())

    def _path(self, i: int, j: int, kind: str) -> Path:
        return self.root / f"{i}_{j}.{kind}.npy"

    def missing(self, edges: np.ndarray) -> np.ndarray:
        """(M, 2) the rows of `edges` (E, 2) not stored yet, in order."""
        keep = [not self._path(i, j, "pts").exists() for i, j in edges.tolist()]
        return edges[np.array(keep, dtype=bool)].reshape(-1, 2)

    def stored_flow(self, a: int, b: int) -> np.ndarray | None:
        """(2, H, W) float32 flow a -> b held by edge (a, b) or its reverse (b, a), else None."""
        for i, j, half in ((a, b, 0), (b, a, 1)):
            path = self._path(i, j, "flow")
            if path.exists():
                return np.load(path, mmap_mode="r")[half].astype(np.float32)
        return None

    def write(self, pairs: PairPredictions) -> None:
        """Store every edge of `pairs` (edges are the store's frame indices)."""
        check_shape("pairs.conf_i", pairs.conf_i, (self.height, self.width))
        for e, (i, j) in enumerate(pairs.edges.tolist()):
            if pairs.flow_ij is not None and pairs.flow_ji is not None:
                flow = torch.stack([pairs.flow_ij[e], pairs.flow_ji[e]])
                atomic_save_npy(self._path(i, j, "flow"), flow.cpu().numpy().astype(self.dtype))
            conf = torch.stack([pairs.conf_i[e], pairs.conf_j[e]]).cpu().numpy().astype(np.float32)
            atomic_save_npy(self._path(i, j, "conf"), conf)
            pts = torch.stack([pairs.pts3d_i_in_i[e], pairs.pts3d_j_in_i[e]])
            atomic_save_npy(self._path(i, j, "pts"), pts.cpu().numpy().astype(self.dtype))

    def load(self, edges: np.ndarray, *, with_flow: bool = False,
             device: torch.device | str = "cpu") -> PairPredictions:
        """Predictions of `edges` (E, 2), in that order, as float32 tensors on `device`.

        Raises:
            InputError: an edge (or its flow, with `with_flow`) is not stored.
        """
        absent = self.missing(edges)
        if len(absent):
            raise InputError(f"pair store {self.root} lacks edges {absent[:5].tolist()}; "
                             "run the pair inference first")

        def stack(kind: str) -> torch.Tensor:
            arrays = [np.load(self._path(i, j, kind), mmap_mode="r") for i, j in edges.tolist()]
            return torch.from_numpy(np.stack(arrays).astype(np.float32)).to(device)

        pts, conf = stack("pts"), stack("conf")
        flow = stack("flow") if with_flow else None
        return PairPredictions(edges=torch.from_numpy(edges.astype(np.int64)).to(device),
                               pts3d_i_in_i=pts[:, 0], pts3d_j_in_i=pts[:, 1], conf_i=conf[:, 0], conf_j=conf[:, 1],
                               flow_ij=None if flow is None else flow[:, 0],
                               flow_ji=None if flow is None else flow[:, 1])
