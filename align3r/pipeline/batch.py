"""Many videos in one command: a list of videos, sharded across the processes `torchrun` starts.

    torchrun --nproc-per-node G -m align3r run --videos LIST -o OUT [options]

Rank r of W (torchrun's RANK and WORLD_SIZE; 0 of 1 without torchrun) takes the videos
r, r + W, r + 2W, ... of the list, one after the other, each into `OUT/<name>/` with the
single-video job (`align3r.pipeline.job.run_video`). The ranks never talk to each other: no process
group, nothing to synchronise; on CUDA, rank r of a node uses `cuda:LOCAL_RANK`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from align3r.errors import Align3rError, InputError, first_line
from align3r.io.results import MANIFEST


@dataclass(frozen=True)
class Shard:
    """This process's place among the ranks."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> Shard:
        """From torchrun's RANK, WORLD_SIZE and LOCAL_RANK (absent: one process)."""
        try:
            shard = Shard(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))
        except ValueError:
            raise InputError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
        if not 0 <= shard.rank < shard.world_size:
            raise InputError(f"RANK={shard.rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE={shard.world_size})")
        return shard

    def take(self, items: list) -> list:
        """This rank's share: every `world_size`-th item from `rank` on."""
        return items[self.rank::self.world_size]


def read_video_list(path: str | os.PathLike) -> list[tuple[str, Path]]:
    """(output name, video) of each line of a list file.

    One video file or image folder per line; blank lines and lines starting with `#` are
    skipped; relative paths are relative to the list file's folder. The output name is the
    file's stem or the folder's name.

    Raises:
        InputError: unreadable or empty list, a missing video (with its line number), or two
            videos that would share an output folder.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--videos {path}: no such file")
    jobs, seen = [], {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        video = Path(entry) if Path(entry).is_absolute() else path.parent / entry
        if not video.exists():
            raise InputError(f"--videos {path}, line {number}: {entry}: no such file or folder")
        name = video.name if video.is_dir() else video.stem
        if name in seen:
            raise InputError(f"--videos {path}, lines {seen[name]} and {number}: both would write to {name}/; "
                             "rename one")
        seen[name] = number
        jobs.append((name, video))
    if not jobs:
        raise InputError(f"--videos {path}: lists no videos")
    return jobs


def run_videos(jobs: list[tuple[str, Path]], out: Path, shard: Shard, *, overwrite: bool,
               run_one: Callable[[Path, Path], object]) -> tuple[int, int, int]:
    """Run this rank's share of `jobs` with `run_one(video, folder)`.

    A video whose folder already holds a finished reconstruction is skipped unless `overwrite`.
    A video that fails, whatever the exception (a user mistake, a decoder error, memory), is
    reported in one line on stderr and the others go on; an unexpected exception's traceback goes
    to `out/<name>.error.log` (a user mistake's one line says all).

    Returns:
        (done, skipped, failed) counts of this rank.
    """
    done = skipped = failed = 0
    for name, video in shard.take(jobs):
        folder = out / name
        if (folder / MANIFEST).exists() and not overwrite:
            skipped += 1
            continue
        try:
            run_one(video, folder)
            done += 1
        except Align3rError as err:
            print(f"align3r run: {video}: error: {err}", file=sys.stderr)
            failed += 1
        except Exception as err:  # noqa: BLE001 (one video's failure must not stop the others)
            log = out / f"{name}.error.log"
            out.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc())
            print(f"align3r run: {video}: failed: {type(err).__name__}: {first_line(err)} (traceback in {log})",
                  file=sys.stderr)
            failed += 1
    return done, skipped, failed
