"""Progress off a terminal: log lines at the start, about every `every_s` seconds and at the end."""

import logging

from align3r.io import progress


def test_off_a_terminal_lines_are_throttled_and_give_done_total_and_eta(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="align3r.io.progress")
    # start and its line, update 1 (quiet), update 2 and its line, update 3 (quiet), close's line
    clock = iter([0.0, 0.0, 1.0, 31.0, 31.0, 32.0, 40.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.Progress("pairs", 4, unit="pair") as bar:
        for _ in range(3):
            bar.update()
    assert [r.getMessage() for r in caplog.records] == [
        "pairs: 0/4 pair, 0 s elapsed, ETA ?",
        "pairs: 2/4 pair, 31 s elapsed, ETA 31 s",
        "pairs: 3/4 pair, 40 s elapsed, ETA 13 s",
    ]


def test_track_yields_every_item():
    assert list(progress.track(iter("abc"), stage="frames", total=3, unit="frame")) == ["a", "b", "c"]
