"""`release_freed_heap`: the pages of freed heap blocks go back to the OS."""

from __future__ import annotations

import os

import pytest

from align3r.pipeline.heap import _malloc_trim, release_freed_heap


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(_malloc_trim() is None or not os.path.exists("/proc/self/statm"), reason="glibc on Linux only")
def test_freed_blocks_below_a_live_one_leave_resident_memory() -> None:
    """200 MB of 100 kB blocks (heap, below glibc's mmap threshold) freed under one live block stay
    resident until trimmed: the heap's top is pinned, so free() alone cannot shrink it."""
    blocks = [bytearray(os.urandom(16)) * 6400 for _ in range(2000)]  # 100 kB each, pages touched
    pinned = bytearray(100_000)
    before = _resident_bytes()
    del blocks
    freed = _resident_bytes()
    release_freed_heap()
    trimmed = _resident_bytes()
    assert before - freed < 50e6  # free() kept the pages
    assert freed - trimmed > 150e6  # trimming returned them
    assert len(pinned) == 100_000
