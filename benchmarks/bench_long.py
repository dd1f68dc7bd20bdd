"""Long videos through `align3r run` with the shipped `tiny` model: seconds per frame, peak resident
memory, peak disk of the run's cache, and the cache left after it, for synthetic videos of growing
length (and the first as many frames of a real video, if given).

    python benchmarks/bench_long.py [--frames 100 200 400 800] [--video PATH --prior-files DIR ...]

Each run is a separate `align3r run` process (`/usr/bin/time -v` gives its peak RSS); the cache folder
is measured every second while it runs. Synthetic videos are 170x96 (the tiny model's domain, network
grid 128x64), rendered by `align3r synth` with a held-out seed and read back as image folders; the
prior is the video's own simulated one. Flow: DIS (offline), as the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SEED = 20_500
"""Held out: the tiny recipe renders seeds below 20,000."""


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` now (0 when it does not exist; files may vanish meanwhile)."""
    total = 0
    for path in folder.rglob("*") if folder.exists() else ():
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


def run_measured(argv: list[str], cache: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, peak bytes of `cache`) of one `align3r run` process."""
    peak_disk = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak_disk
        while not done.wait(1.0):
            peak_disk = max(peak_disk, folder_bytes(cache))

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "align3r", "run", *argv],
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    if result.returncode != 0:
        raise SystemExit(f"align3r run failed: {result.stderr.strip().splitlines()[-1]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return wall, rss_kb * 1024, peak_disk


def bench(name: str, source: Path, prior: str, out: Path, extra: list[str]) -> dict:
    wall, rss, disk = run_measured([str(source), "-o", str(out), "--model", "tiny", "--prior", prior,
                                    "--flow", "dis", "--quiet", *extra], out / ".cache")
    meta = json.loads((out / "reconstruction.json").read_text())["meta"]
    frames = len(json.loads((out / "reconstruction.json").read_text())["names"])
    return {"video": name, "frames": frames, "mode": meta["mode"], "s_per_frame": wall / frames,
            "peak_rss_gb": rss / 2**30, "peak_disk_gb": disk / 2**30,
            "cache_after_mb": folder_bytes(out / ".cache") / 2**20, "cache_recorded_mb": meta["cache"]["bytes"] / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 200, 400, 800])
    parser.add_argument("--video", type=Path, help="also a real video (with --prior-files)")
    parser.add_argument("--prior-files", type=Path, help="one prior map per frame of --video (files:DIR)")
    parser.add_argument("--video-args", nargs=argparse.REMAINDER, default=[], help="more `align3r run` options")
    args = parser.parse_args()
    print(f"# bench_long {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="align3r-long-") as work:
        work = Path(work)
        for count in args.frames:
            sequence = work / f"synth{count}"
            subprocess.run([sys.executable, "-m", "align3r", "synth", str(sequence), "--frames", str(count),
                            "--seed", str(SEED), "--size", "170x96", "--camera", "walk"], check=True,
                           capture_output=True)
            rows.append(bench("synthetic 170x96", sequence / "rgb", f"simulated:{sequence}", work / f"out{count}", []))
            print(rows[-1], flush=True)
        for count in args.frames if args.video is not None else ():
            rows.append(bench(args.video.name, args.video, f"files:{args.prior_files}", work / f"video{count}",
                              [*args.video_args, "--max-frames", str(count)]))
            print(rows[-1], flush=True)
    print(f"\nload at the end {os.getloadavg()[0]:.1f}\n")
    print("| video | frames | mode | s / frame | peak RSS (GB) | peak cache (GB) | cache after (MB) |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['video']} | {row['frames']} | {row['mode']} | {row['s_per_frame']:.2f} "
              f"| {row['peak_rss_gb']:.2f} | {row['peak_disk_gb']:.2f} | {row['cache_after_mb']:.0f} |")


if __name__ == "__main__":
    main()
