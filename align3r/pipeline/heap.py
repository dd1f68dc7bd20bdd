"""Freed heap memory handed back to the OS between the scenes of a long alignment."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on another C library."""
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_freed_heap() -> None:
    """Return the pages of freed heap blocks to the OS (glibc's `malloc_trim(0)`; nothing elsewhere).

    glibc keeps freed blocks of a fragmented heap resident: scene after scene of a hierarchical
    alignment, the peak resident memory of `align3r run` grew from 0.92 GB at 200 frames to 1.56 GB
    at 800 although each scene's pairs are freed (benchmarks/README.md, bench_long); with freed
    blocks unmapped at once (`MALLOC_MMAP_THRESHOLD_=131072`) 400 frames peaked at 0.89 GB instead
    of 1.35 GB, but ran 1.9x slower. Trimming once per scene keeps the fast allocator.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
