"""Training pairs: the pair list of a dataset, the per-epoch mix, the aspect-ratio batch sampler
and symmetrisation (docs/training.md §3)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, Subset

from align3r.data.readers.base import SequenceReader
from align3r.data.views import TEST_VIEW_CONFIG, View, ViewConfig, make_view
from align3r.errors import InputError

logger = logging.getLogger(__name__)

RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 288), (512, 336), (512, 256))
"""Official training resolutions (W, H); the sampler draws one index per micro-batch."""


@dataclass(frozen=True)
class Pair:
    """Two frames of one sequence; `first` < `second` (positions in the sequence's frame list)."""

    sequence: int
    first: int
    second: int


def pair_list(frame_counts: Sequence[int], max_gap: int = 10) -> list[Pair]:
    """All pairs (i, j) with 0 < j − i <= max_gap of each sequence, sequences in order (docs/training.md §3.1).

    A sequence of n frames gives 10n − 55 pairs for n >= 11 (n(n−1)/2 below).
    """
    return [Pair(s, i, j) for s, count in enumerate(frame_counts)
            for i in range(count) for j in range(i + 1, min(i + max_gap, count - 1) + 1)]


class PairDataset(Dataset):
    """The pairs of one reader; item `(index, ar_index)` -> (view 1, view 2).

    Args:
        reader: the dataset's reader.
        resolutions: (W, H) per aspect-ratio index.
        config: the per-view pipeline.
        seed: items draw from `default_rng([seed, index])` unless `get` is given a generator.
        max_gap: the largest frame-index gap of a pair.
        skip_unreadable: an `InputError` while reading a pair's frames is logged and counted
            in `unreadable`, and the next pair is used instead (at most 100 in a row).
    """

    def __init__(self, reader: SequenceReader, *, resolutions: Sequence[tuple[int, int]] = RESOLUTIONS,
                 config: ViewConfig = ViewConfig(), seed: int = 0, max_gap: int = 10,
                 skip_unreadable: bool = False) -> None:
        self.reader = reader
        self.resolutions = tuple(tuple(r) for r in resolutions)
        self.config = config
        self.seed = seed
        self.skip_unreadable = skip_unreadable
        self.unreadable = 0
        """Pairs skipped for an unreadable file in this process."""
        self.pairs = pair_list([len(s.frame_ids) for s in reader.sequences], max_gap)
        if not self.pairs:
            raise InputError(f"{reader.root}: no {reader.name} sequence has two frames to pair")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, item: tuple[int, int]) -> tuple[View, View]:
        index, ar_index = item
        return self.get(index, ar_index, np.random.default_rng([self.seed, index]))

    def get(self, index: int, ar_index: int, rng: np.random.Generator) -> tuple[View, View]:
        """Views of pair `index` at `resolutions[ar_index]`, each through the pipeline with `rng`."""
        for attempt in range(100):
            position = (index + attempt) % len(self.pairs)
            try:
                return self._views(self.pairs[position], (index, ar_index), rng)
            except InputError as err:
                if not self.skip_unreadable:
                    raise
                self.unreadable += 1
                logger.warning("skipping unreadable pair %d (%d so far): %s", position, self.unreadable, err)
        raise InputError(f"{self.reader.root}: 100 pairs in a row are unreadable; check the dataset")

    def _views(self, pair: Pair, item: tuple[int, int], rng: np.random.Generator) -> tuple[View, View]:
        resolution = self.resolutions[item[1]]
        views = [make_view(self.reader.read_frame(pair.sequence, frame), resolution, rng, self.config,
                           idx=(item[0], item[1], k)) for k, frame in enumerate((pair.first, pair.second))]
        first, second = (replace(v, rng=torch.tensor(int.from_bytes(rng.bytes(4), "big"))) for v in views)
        return first, second


class EpochMix(Dataset):
    """`N1 @ D1 + N2 @ D2 + ...`: a fixed number of pairs per dataset, redrawn every epoch (docs/training.md §3.2).

    At epoch e, member D contributes the first N entries of `default_rng(e + 777).permutation(len(D))`
    repeated as needed; members are concatenated in order. Item `(index, ar_index)` draws its
    augmentations from `default_rng([seed, epoch, index])`.

    Args:
        members: (N, dataset) in concatenation order; all must share one resolution list.
        seed: the augmentation seed.
    """

    def __init__(self, members: Sequence[tuple[int, PairDataset]], *, seed: int = 0) -> None:
        if len({m.resolutions for _, m in members}) != 1:
            raise InputError("all datasets of a mix must declare the same resolutions")
        self.members = list(members)
        self.seed = seed
        self.offsets = np.cumsum([0] + [n for n, _ in members])
        self.set_epoch(0)

    @property
    def resolutions(self) -> tuple[tuple[int, int], ...]:
        return self.members[0][1].resolutions

    def set_epoch(self, epoch: int) -> None:
        """Redraw every member's subset for `epoch`."""
        self.epoch = epoch
        self.subsets = [resample(len(dataset), count, epoch) for count, dataset in self.members]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, item: tuple[int, int]) -> tuple[View, View]:
        index, ar_index = item
        member = int(np.searchsorted(self.offsets, index, side="right")) - 1
        dataset = self.members[member][1]
        local = int(self.subsets[member][index - self.offsets[member]])
        return dataset.get(local, ar_index, np.random.default_rng([self.seed, self.epoch, index]))


def resample(size: int, count: int, epoch: int) -> np.ndarray:
    """The `count` indices into a dataset of `size` that `count @ D` uses at `epoch`
    (`easy_dataset.py`, `ResizedDataset.set_epoch`): a seeded permutation, repeated as needed."""
    perm = np.random.default_rng(seed=epoch + 777).permutation(size)
    return np.tile(perm, math.ceil(count / size))[:count]


class AspectBatchSampler(Sampler[list[tuple[int, int]]]):
    """Micro-batches of `(index, ar_index)` with one aspect ratio each, this rank's share (docs/training.md §3.3).

    Per epoch e, with `rng = default_rng(e + seed)`: `total` = the dataset size floored to a
    multiple of batch·world; shuffle `arange(total)`; then, by `layout`:
    * "official": one aspect index per block of `batch_size`; rank r keeps the contiguous r-th
      of `world_size` slices (`batched_sampler.py`).
    * "interleaved": one aspect index per block of batch·world (a global step); rank r keeps the
      r-th micro-batch of each block. One process with batch·world per micro-batch then sees, at
      every step, exactly the union of what the ranks see: what a test of DDP against a single
      process needs.
    Ranks are disjoint and together cover the `total` indices. Use as a DataLoader `batch_sampler`.
    """

    def __init__(self, dataset_size: int, batch_size: int, num_resolutions: int, *, world_size: int = 1,
                 rank: int = 0, seed: int = 777, layout: Literal["official", "interleaved"] = "official") -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.total = dataset_size // (batch_size * world_size) * batch_size * world_size
        if self.total == 0:
            raise InputError(f"{dataset_size} pairs cannot fill one batch of {batch_size} on {world_size} rank(s)")
        self.batch_size, self.num_resolutions = batch_size, num_resolutions
        self.world_size, self.rank, self.seed, self.layout = world_size, rank, seed, layout
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.total // (self.batch_size * self.world_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        rng = np.random.default_rng(seed=self.epoch + self.seed)
        order = rng.permutation(self.total)
        block = self.batch_size * (self.world_size if self.layout == "interleaved" else 1)
        ar_index = np.repeat(rng.integers(self.num_resolutions, size=self.total // block), block)
        if self.layout == "interleaved":  # (steps, world, batch) -> this rank's column
            mine = np.arange(self.total).reshape(-1, self.world_size, self.batch_size)[:, self.rank].ravel()
        else:
            share = self.total // self.world_size
            mine = np.arange(self.rank * share, (self.rank + 1) * share)
        items = [(int(i), int(a)) for i, a in zip(order[mine], ar_index[mine])]
        for start in range(0, len(items), self.batch_size):
            yield items[start:start + self.batch_size]


def symmetrize(view1: View, view2: View) -> tuple[View, View]:
    """B pairs (a_k, b_k) -> 2B ordered pairs: row 2k = (a_k, b_k), row 2k+1 = (b_k, a_k)
    (docs/training.md §3.4)."""
    def interleave(first: object, second: object) -> object:
        if isinstance(first, torch.Tensor):
            return torch.stack([first, second], dim=1).flatten(0, 1)
        return [x for both in zip(first, second) for x in both]
    names = [f.name for f in fields(View)]
    return (View(**{n: interleave(getattr(view1, n), getattr(view2, n)) for n in names}),
            View(**{n: interleave(getattr(view2, n), getattr(view1, n)) for n in names}))


def held_out_pairs(reader: SequenceReader, *, count: int = 200, resolution: tuple[int, int] = (96, 96),
                   seed: int = 0, max_gap: int = 10) -> Subset:
    """A fixed test set (docs/training.md §13.2): `count` pairs drawn once by `seed`, at one (square)
    resolution, without augmentation; the same pairs and views at every epoch.

    Returns:
        A dataset of (view 1, view 2), indexable 0..count-1 (fewer if the reader has fewer pairs).
    """
    dataset = PairDataset(reader, resolutions=(resolution,), config=TEST_VIEW_CONFIG, seed=seed, max_gap=max_gap)
    chosen = np.random.default_rng(seed).choice(len(dataset), size=min(count, len(dataset)), replace=False)
    return Subset(dataset, [(int(i), 0) for i in np.sort(chosen)])
