"""Frames per second of the synthetic generator on one CPU core, at 512x288 and 128x96.

For each size and setting (indoor room, outdoor with far background) a scene with 4 moving and
6 static objects is built; one frame is rendered as warm-up, then every frame is rendered
`--repeats` times and the median time per frame is reported, as wall-clock and as this
thread's CPU time (robust to other processes on a shared machine). A last column times the
whole `generate_sequence` (render + masks + both simulated priors) per frame. BLAS threads are
pinned to 1 before numpy loads, so the numbers are single-core. Usage:

    python benchmarks/bench_synth.py [--frames 8] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402  (after pinning BLAS threads)
import importlib.metadata  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from align3r.data.synthetic import SynthConfig, build_scene, generate_sequence  # noqa: E402
from align3r.data.synthetic.render import render_frame  # noqa: E402

SIZES = ((512, 288), (128, 96))
SETTINGS = ("indoor", "outdoor")


def median_frame_seconds(config: SynthConfig, repeats: int) -> tuple[float, float]:
    """Median wall-clock and thread-CPU seconds to render one frame of the config's scene."""
    scene = build_scene(config)
    render_frame(scene, 0)  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        for frame in range(config.frames):
            start_wall, start_cpu = time.perf_counter(), time.thread_time()
            render_frame(scene, frame)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.thread_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def sequence_seconds_per_frame(config: SynthConfig) -> float:
    """Wall-clock seconds per frame of the whole generator (render, masks, two priors)."""
    generate_sequence(SynthConfig(frames=1, width=config.width, height=config.height, seed=config.seed))
    start = time.perf_counter()
    generate_sequence(config)
    return (time.perf_counter() - start) / config.frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"align3r {importlib.metadata.version('align3r')}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}, BLAS threads "
          f"{os.environ['OPENBLAS_NUM_THREADS']}, seed {args.seed}, {args.frames} frames x {args.repeats} repeats")
    print(f"{'size':>8} {'setting':>8} {'ms/frame':>9} {'fps':>6} {'cpu ms':>7} {'cpu fps':>8} {'+priors fps':>12}")
    for width, height in SIZES:
        for setting in SETTINGS:
            config = SynthConfig(frames=args.frames, width=width, height=height, seed=args.seed, setting=setting,
                                 camera_motion="orbit", dynamic_objects=4, static_objects=6)
            wall, cpu = median_frame_seconds(config, args.repeats)
            full = sequence_seconds_per_frame(config)
            print(f"{width}x{height:<4} {setting:>8} {wall * 1e3:9.1f} {1 / wall:6.1f} {cpu * 1e3:7.1f} "
                  f"{1 / cpu:8.1f} {1 / full:12.1f}")


if __name__ == "__main__":
    main()
