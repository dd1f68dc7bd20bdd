"""Dataset readers: one class per dataset over a shared base; `READERS` maps a name to its class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from align3r.data.readers.base import FrameRecord, Sequence, SequenceReader
from align3r.data.readers.official import (
    PointOdysseyReader,
    ProcReader,
    SceneFlowReader,
    SpringReader,
    TartanAirReader,
    VKITTI2Reader,
)
from align3r.data.readers.synthetic import SyntheticReader
from align3r.errors import InputError

READERS: dict[str, type[SequenceReader]] = {
    cls.name: cls
    for cls in (PointOdysseyReader, TartanAirReader, SpringReader, SceneFlowReader, VKITTI2Reader, SyntheticReader)
}


def make_reader(name: str, root: str | Path, **options: Any) -> SequenceReader:
    """The reader `name` (a key of READERS) over `root`; `options` go to its constructor."""
    if name not in READERS:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(READERS)}")
    return READERS[name](root, **options)


__all__ = ["READERS", "FrameRecord", "PointOdysseyReader", "ProcReader", "SceneFlowReader", "Sequence",
           "SequenceReader", "SpringReader", "SyntheticReader", "TartanAirReader", "VKITTI2Reader", "make_reader"]
