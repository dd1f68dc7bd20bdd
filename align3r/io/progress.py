"""Progress of a long stage: a tqdm bar on a terminal, else throttled log lines (stage, done/total, elapsed, ETA)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TypeVar

from tqdm import tqdm

logger = logging.getLogger(__name__)
"""The progress lines' logger (INFO); the CLI shows it unless --quiet."""

LOG_EVERY_S = 30.0
"""Seconds between two progress lines of a stage off a terminal."""

T = TypeVar("T")


class Progress:
    """done/total of one stage (prior, pairs, alignment, full resolution).

    On a terminal (stderr a TTY) a tqdm bar, hidden by `TQDM_DISABLE=1` (the CLI's --quiet);
    otherwise INFO lines on `align3r.io.progress` when the stage starts, about every `every_s`
    seconds and when it ends, so that a log file shows how far a run got.

    Args:
        stage: what is counted, e.g. `pairs`.
        total: how many units the stage has.
        unit: the unit's name, e.g. `pair`.
        every_s: least seconds between two log lines.
    """

    def __init__(self, stage: str, total: int, *, unit: str, every_s: float = LOG_EVERY_S) -> None:
        self.stage, self.total, self.unit, self.every_s = stage, total, unit, every_s
        self.done = 0
        self.start = self.logged = time.monotonic()
        self.bar = tqdm(total=total, desc=stage, unit=unit, leave=False) if sys.stderr.isatty() else None
        if self.bar is None:
            self._log()

    def update(self, n: int = 1) -> None:
        """Count `n` more units done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.logged >= self.every_s:
            self._log()

    def close(self) -> None:
        """End the stage: close the bar, or log the last line."""
        if self.bar is not None:
            self.bar.close()
        else:
            self._log()

    def _log(self) -> None:
        self.logged = time.monotonic()
        elapsed = self.logged - self.start
        eta = f"{elapsed / self.done * (self.total - self.done):.0f} s" if self.done else "?"
        logger.info("%s: %d/%d %s, %.0f s elapsed, ETA %s", self.stage, self.done, self.total, self.unit, elapsed, eta)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def track(items: Iterable[T], *, stage: str, total: int, unit: str) -> Iterator[T]:
    """`items`, counted one unit each by a `Progress` of `stage`."""
    with Progress(stage, total, unit=unit) as progress:
        for item in items:
            yield item
            progress.update()
