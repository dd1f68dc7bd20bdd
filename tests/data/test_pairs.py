"""Pair lists, the per-epoch mix, the aspect-ratio batch sampler, symmetrisation (docs/training.md §3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from align3r.data.crop import CropConfig
from align3r.data.pairs import (
    AspectBatchSampler,
    EpochMix,
    Pair,
    PairDataset,
    held_out_pairs,
    pair_list,
    resample,
    symmetrize,
)
from align3r.data.readers import make_reader
from align3r.data.readers.write import write_proc_frame
from align3r.data.views import ViewConfig, collate_pairs
from align3r.errors import InputError

RESOLUTIONS = ((32, 24), (32, 16))


def _write_sequences(root: Path, lengths: list[int]) -> None:
    """VKITTI2-layout sequences of 40 x 30 frames; frame k of sequence s has depth 1 + s + k/10."""
    for s, length in enumerate(lengths):
        for k in range(length):
            rgb = np.full((30, 40, 3), 10 * k, dtype=np.uint8)
            depth = np.full((30, 40), 1 + s + k / 10, dtype=np.float32)
            prior = np.random.default_rng(k).uniform(1, 5, size=(30, 40))
            write_proc_frame(root / f"scene{s:04d}_left", f"{k:05d}", rgb=rgb, depth=depth,
                             valid=np.ones((30, 40), bool), intrinsics=[[30, 0, 19.5], [0, 30, 14.5], [0, 0, 1]],
                             camera_pose=np.eye(4), priors={"depthpro": (prior, 30.0)})


@pytest.fixture
def reader(tmp_path: Path):
    _write_sequences(tmp_path, [3, 12, 5])
    return make_reader("vkitti2", tmp_path)


@pytest.mark.parametrize("n", [1, 2, 5, 11, 12, 24, 100])
def test_pair_count_and_rule(n: int) -> None:
    pairs = pair_list([n])
    assert len(pairs) == (10 * n - 55 if n >= 11 else n * (n - 1) // 2)
    assert all(0 < p.second - p.first <= 10 for p in pairs) and len(set(pairs)) == len(pairs)


def test_pairs_of_all_sequences_in_order() -> None:
    pairs = pair_list([3, 2], max_gap=1)
    assert pairs == [Pair(0, 0, 1), Pair(0, 1, 2), Pair(1, 0, 1)]


def test_resample_is_per_epoch_deterministic_without_replacement() -> None:
    first = resample(1000, 300, epoch=4)
    np.testing.assert_array_equal(first, resample(1000, 300, epoch=4))
    assert len(set(first.tolist())) == 300
    assert len(set(first.tolist()) & set(resample(1000, 300, epoch=5).tolist())) < 150
    np.testing.assert_array_equal(first, np.random.default_rng(4 + 777).permutation(1000)[:300])  # official seed
    small = resample(7, 20, epoch=0)
    assert sorted(np.bincount(small).tolist()) == [2] + [3] * 6  # the permutation repeated, then cut


def test_epoch_mix_ranges_and_redraw(tmp_path: Path, reader) -> None:
    other = tmp_path / "other"
    _write_sequences(other, [4])
    first = PairDataset(reader, resolutions=RESOLUTIONS)
    second = PairDataset(make_reader("vkitti2", other), resolutions=RESOLUTIONS)
    mix = EpochMix([(5, first), (3, second)], seed=1)
    assert len(mix) == 8 and len(first) == 3 + 65 + 10 and len(second) == 6
    view1, _ = mix[(6, 1)]
    assert "other" in view1.label and view1.img.shape[1:] == (16, 32)
    again1, _ = mix[(6, 1)]
    assert torch.equal(view1.img, again1.img) and torch.equal(view1.camera_intrinsics, again1.camera_intrinsics)
    labels = [mix[(i, 0)][0].label for i in range(5)]
    mix.set_epoch(1)
    assert [mix[(i, 0)][0].label for i in range(5)] != labels
    with pytest.raises(InputError, match="same resolutions"):
        EpochMix([(5, first), (3, PairDataset(reader, resolutions=((16, 16),)))])


def test_pair_item_views_come_from_the_pair_frames(reader) -> None:
    dataset = PairDataset(reader, resolutions=RESOLUTIONS, seed=3)
    index = dataset.pairs.index(Pair(1, 2, 9))
    view1, view2 = dataset[(index, 0)]
    assert view1.label.endswith("scene0001_left/00002_rgb.jpg") and view2.label.endswith("00009_rgb.jpg")
    assert view1.depthmap.max() == pytest.approx(2.2) and view2.depthmap.max() == pytest.approx(2.9)
    assert view1.idx.tolist() == [index, 0, 0] and view2.idx.tolist() == [index, 0, 1]
    assert view1.rng != view2.rng


def test_unreadable_pairs_raise_or_are_skipped_and_counted(tmp_path: Path, reader) -> None:
    (tmp_path / "scene0000_left" / "00000_depth.pfm").write_bytes(b"Pf\n40 30\n-1\n")
    with pytest.raises(InputError, match="00000_depth.pfm: truncated"):
        PairDataset(reader, resolutions=RESOLUTIONS)[(0, 0)]
    dataset = PairDataset(reader, resolutions=RESOLUTIONS, skip_unreadable=True)
    view1, view2 = dataset[(0, 0)]  # pairs 0 and 1 both use frame 0: the pair (1, 2) comes back
    assert dataset.unreadable == 2 and view1.label.endswith("00001_rgb.jpg") and view2.label.endswith("00002_rgb.jpg")


def test_official_sampler_numbers() -> None:
    sampler = AspectBatchSampler(27_750, 2, 3, world_size=2, rank=1)
    assert sampler.total == 27_748 and len(sampler) == 6_937


@pytest.mark.parametrize("layout", ["official", "interleaved"])
@pytest.mark.parametrize(("size", "batch", "world"), [(101, 2, 1), (101, 2, 2), (100, 4, 3)])
def test_sampler_ranks_are_disjoint_and_cover_with_one_ratio_per_batch(size: int, batch: int, world: int,
                                                                        layout: str) -> None:
    seen = []
    for rank in range(world):
        sampler = AspectBatchSampler(size, batch, 3, world_size=world, rank=rank, layout=layout)
        sampler.set_epoch(2)
        batches = list(sampler)
        assert len(batches) == len(sampler) and all(len(b) == batch for b in batches)
        assert all(len({ar for _, ar in b}) == 1 for b in batches)
        seen += [i for b in batches for i, _ in b]
    total = size // (batch * world) * batch * world
    assert sorted(seen) == list(range(total))


def test_interleaved_ranks_match_one_process_with_the_global_batch() -> None:
    single = list(AspectBatchSampler(103, 6, 3, layout="interleaved"))
    ranks = [list(AspectBatchSampler(103, 2, 3, world_size=3, rank=r, layout="interleaved")) for r in range(3)]
    assert len(single) == 17 and [len(r) for r in ranks] == [17] * 3
    assert single == [ranks[0][s] + ranks[1][s] + ranks[2][s] for s in range(17)]


def test_official_layout_gives_each_rank_a_contiguous_slice() -> None:
    everything = [item for b in AspectBatchSampler(100, 2, 3) for item in b]
    rank1 = [item for b in AspectBatchSampler(100, 2, 3, world_size=2, rank=1) for item in b]
    assert rank1 == everything[50:]


def test_sampler_is_deterministic_per_epoch_and_changes_across_epochs() -> None:
    sampler = AspectBatchSampler(200, 2, 3)
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    assert epoch0 == list(sampler)
    assert {b[0][1] for b in epoch0} == {0, 1, 2}
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    rng = np.random.default_rng(777)  # the official draws: shuffle, then one ratio per batch
    assert [i for i, _ in epoch0[0]] == rng.permutation(200)[:2].tolist()


def test_symmetrize_interleaves_both_orders(reader) -> None:
    dataset = PairDataset(reader, resolutions=RESOLUTIONS)
    loader = DataLoader(dataset, batch_sampler=AspectBatchSampler(len(dataset), 2, 2), collate_fn=collate_pairs)
    view1, view2 = next(iter(loader))
    sym1, sym2 = symmetrize(view1, view2)
    assert sym1.img.shape[0] == 4 and sym1.instance == [view1.instance[0], view2.instance[0],
                                                         view1.instance[1], view2.instance[1]]
    assert torch.equal(sym1.img[1], view2.img[0]) and torch.equal(sym2.img[1], view1.img[0])
    assert torch.equal(sym1.pts3d[2], view1.pts3d[1]) and torch.equal(sym2.pts3d[3], view1.pts3d[1])


def test_data_loader_batches_have_one_resolution(reader) -> None:
    dataset = EpochMix([(20, PairDataset(reader, resolutions=RESOLUTIONS))])
    loader = DataLoader(dataset, batch_sampler=AspectBatchSampler(len(dataset), 2, 2), collate_fn=collate_pairs)
    shapes = {tuple(view1.img.shape[2:]) for view1, _ in loader}
    assert shapes == {(24, 32), (16, 32)}


def test_held_out_pairs_are_fixed_square_and_unaugmented(reader) -> None:
    test_set = held_out_pairs(reader, count=6, resolution=(24, 24), seed=5)
    assert len(test_set) == 6
    view1, view2 = test_set[0]
    again, _ = held_out_pairs(reader, count=6, resolution=(24, 24), seed=5)[0]
    assert view1.img.shape == (3, 24, 24) and torch.equal(view1.img, again.img)
    # Principal point (19.5, 14.5) rounds to (20, 14): a 40 x 28 crop, covered at 24/28, no zoom.
    assert view1.camera_intrinsics[0, 0] == pytest.approx(30 * 24 / 28)
    assert len(held_out_pairs(reader, count=1000)) == 78


def test_views_of_generated_frames_point_back_at_their_source_pixels(tmp_path: Path) -> None:
    """End to end on the generator's output: every valid GT point of a view, projected into its
    stored frame, lands next to (one of the 4 source pixels around it) the pixel its depth came from."""
    synthetic = pytest.importorskip("align3r.data.synthetic.sequence")
    writer = pytest.importorskip("align3r.data.synthetic.writer")
    writer.write_sequence(synthetic.generate_sequence(synthetic.SynthConfig(frames=2, width=170, height=96, seed=11)),
                          tmp_path / "seq")
    reader = make_reader("synthetic", tmp_path)
    dataset = PairDataset(reader, resolutions=((128, 96), (128, 80), (128, 64)),
                          config=ViewConfig(crop=CropConfig(aug_crop=4)))
    for ar_index, seed in [(0, 0), (1, 1), (2, 2)]:
        for frame, view in enumerate(dataset.get(0, ar_index, np.random.default_rng(seed))):
            stored = reader.read_frame(0, frame)
            w2c = np.linalg.inv(stored.c2w.astype(np.float64))
            pts = view.pts3d.double().numpy() @ w2c[:3, :3].T + w2c[:3, 3]
            u = stored.intrinsics[0, 0] * pts[..., 0] / pts[..., 2] + stored.intrinsics[0, 2]
            v = stored.intrinsics[1, 1] * pts[..., 1] / pts[..., 2] + stored.intrinsics[1, 2]
            valid = view.valid_mask[..., 0].numpy()
            found = np.zeros(int(valid.sum()), dtype=bool)
            for cols in (np.floor(u[valid]), np.ceil(u[valid])):
                for rows in (np.floor(v[valid]), np.ceil(v[valid])):
                    source = stored.depth[rows.astype(int).clip(0, 95), cols.astype(int).clip(0, 169)]
                    found |= source == view.depthmap.numpy()[valid]
            assert valid.mean() > 0.5 and found.all()
