"""Render the synthetic pool of the tiny recipe (docs/training.md §13.2): 150 training and 20 held-out
sequences of 24 frames at 170x96 with simulated priors of both styles, into OUT/{train,test}.

    python training/tiny/render_pool.py data/tiny [--priors calibrated] [--train 150] [--test 20] [--workers 2]

The recipe trains on the `calibrated` priors (the error structure and sizes of real monocular depth
on video, benchmarks/prior_calibration.md); `--priors realistic` renders the mild pool of the first
shipped tiny model.

Already written sequences are kept, so an interrupted render resumes.
"""

from __future__ import annotations

import argparse
from multiprocessing import Pool
from pathlib import Path

from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.data.synthetic.prior import PRIOR_PRESETS

TEST_SEED_OFFSET = 10_000
"""Held-out sequences use seeds from here on, never drawn for training."""
TRAIN_SEQUENCES = 150
"""Training sequences rendered by default (the recipe's `train_tiny.sh` keeps the default)."""
TEST_SEQUENCES = 20
"""Held-out test sequences rendered by default."""


def pool_seeds(train: int = TRAIN_SEQUENCES, test: int = TEST_SEQUENCES) -> dict[str, range]:
    """Seeds of the pool's sequences by split folder: OUT/train and OUT/test."""
    return {"train": range(train), "test": range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + test)}


def render(job: tuple[Path, int, str]) -> None:
    out, seed, priors = job
    if not (out / "meta.json").exists():
        config = SynthConfig(frames=24, width=170, height=96, seed=seed, priors=PRIOR_PRESETS[priors])
        write_sequence(generate_sequence(config), out, overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--priors", default="calibrated", choices=sorted(PRIOR_PRESETS))
    parser.add_argument("--train", type=int, default=TRAIN_SEQUENCES)
    parser.add_argument("--test", type=int, default=TEST_SEQUENCES)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = pool_seeds(args.train, args.test)
    jobs = [(args.out / "train" / f"seq{seed:04d}", seed, args.priors) for seed in seeds["train"]]
    jobs += [(args.out / "test" / f"seq{seed:05d}", seed, args.priors) for seed in seeds["test"]]
    with Pool(args.workers) as pool:
        pool.map(render, jobs, chunksize=4)
    print(f"{len(jobs)} sequences in {args.out}")


if __name__ == "__main__":
    main()
