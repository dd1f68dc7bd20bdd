"""Scene-graph names -> ordered pair lists (E, 2), in the official edge order."""

from __future__ import annotations

import numpy as np

from align3r.errors import Align3rError

_GRAPH_KINDS = ("complete", "swin", "swinstride", "swin2stride", "logwin", "oneref")


def _window(name: str) -> int:
    """Second `-`-field as int, 3 when absent or not an int (dust3r/image_pairs.py, make_pairs)."""
    fields = name.split("-")
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return 3


def _window_set(num_frames: int, offsets: list[int], *, cyclic: bool,
                drop_self: bool) -> set[tuple[int, int]]:
    """Unordered pairs (min, max) of every frame with each signed offset, filled in official order.

    The caller iterates the returned set: its order is CPython's set order for this exact
    insertion sequence (official quirk, docs/alignment.md §1.1), hence a real `set` built the same way.
    """
    pair_set: set[tuple[int, int]] = set()
    for i in range(num_frames):
        for offset in offsets:
            j = i + offset
            if cyclic:
                j %= num_frames
            if j < 0 or j >= num_frames or (drop_self and j == i):
                continue
            pair_set.add((i, j) if i < j else (j, i))
    return pair_set


def _unordered_pairs(num_frames: int, name: str) -> list[tuple[int, int]]:
    """The official pair list before symmetrisation, for a validated graph name."""
    kind = name.split("-")[0]
    cyclic = not name.endswith("noncyclic")
    if kind == "complete":
        return [(i, j) for i in range(num_frames) for j in range(i)]
    if kind == "oneref":
        ref = int(name.split("-")[1]) if "-" in name else 0
        return [(ref, j) for j in range(num_frames) if j != ref]
    window = _window(name)
    if kind == "logwin":
        powers = [2**m for m in range(window)]
        return list(_window_set(num_frames, [-p for p in powers] + powers, cyclic=cyclic,
                                drop_self=True))
    stride = {"swin": 1, "swinstride": 2, "swin2stride": 3}[kind]
    offsets = list(range(1, stride * window + 1, stride))
    return list(_window_set(num_frames, offsets, cyclic=cyclic, drop_self=False))


def pair_graph(num_frames: int, name: str, *, symmetrize: bool = True) -> np.ndarray:
    """Ordered frame pairs of a named scene graph, exactly as the official `make_pairs`.

    Names: `complete`; `swin-K`, `swinstride-K`, `swin2stride-K`, `logwin-K` (each optionally
    `-noncyclic`; K defaults to 3); `oneref-R` (R defaults to 0). A pair (i, j) means view1 =
    frame i, view2 = frame j: the network returns both point maps in camera i. The order is the
    official one (for the window graphs CPython's set order, reproduced by building the set the
    same way), and with `symmetrize` the reversed list is appended, so edge `k + E/2` is edge `k`
    reversed (the motion-mask code relies on it).

    Args:
        num_frames: number of frames n >= 2.
        name: scene-graph name, e.g. "swinstride-5-noncyclic".
        symmetrize: append the reversed pairs.

    Returns:
        (E, 2) int64 frame indices in [0, n).

    Raises:
        Align3rError: unknown name, fewer than 2 frames, an `oneref` reference outside the video,
            or a cyclic window as large as the video (it would pair a frame with itself).
    """
    if num_frames < 2:
        raise Align3rError(f"scene graph {name!r} needs at least 2 frames, got {num_frames}")
    kind = name.split("-")[0]
    if kind not in _GRAPH_KINDS:
        raise Align3rError(f"unknown scene graph {name!r}; use one of {', '.join(_GRAPH_KINDS)}"
                           " (e.g. swinstride-5-noncyclic)")
    if kind == "oneref" and "-" in name and not 0 <= int(name.split("-")[1]) < num_frames:
        raise Align3rError(f"scene graph {name!r}: reference frame outside 0..{num_frames - 1}")
    pairs = _unordered_pairs(num_frames, name)
    if any(i == j for i, j in pairs):
        raise Align3rError(f"scene graph {name!r} pairs a frame with itself for {num_frames} frames;"
                           " use a smaller window or add -noncyclic")
    if symmetrize:
        pairs = pairs + [(j, i) for i, j in pairs]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def forward_pairs(num_frames: int, *, stride: int = 1, symmetrize: bool = True) -> np.ndarray:
    """The hierarchical scenes' pairs: (a, b) for a ascending, b = a+1, a+1+stride, ... < n.

    Stride 1 gives every a < b (the keyframe scene; depth_test's clips), stride 2 the demo's
    clips (tool/demo.py). With `symmetrize` the reversed list is appended as in `pair_graph`.

    Args:
        num_frames: number of frames n >= 2 of the scene (local indices).
        stride: step between the partners of a frame.
        symmetrize: append the reversed pairs.

    Returns:
        (E, 2) int64 local frame indices.
    """
    if num_frames < 2 or stride < 1:
        raise Align3rError(f"forward pairs need >= 2 frames and stride >= 1, got {num_frames}, {stride}")
    pairs = [(a, b) for a in range(num_frames - 1) for b in range(a + 1, num_frames, stride)]
    if symmetrize:
        pairs = pairs + [(b, a) for a, b in pairs]
    return np.array(pairs, dtype=np.int64)
