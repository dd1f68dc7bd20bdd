"""How fast can the alignment term get on this CPU? Ours against a compiled and a fused kernel.

    python benchmarks/align_floor.py [--repeats 5] [--no-compile]

One iteration of the alignment term (loss and gradient) on bench_align's `global40` case (40
frames 96x128, `swinstride-5-noncyclic`: 350 edges, 8.6 M points per iteration), one thread,
best CPU time of `--repeats`:

- **ours**: `align3r.align.objective.alignment_loss`, eager torch, cache-sized blocks.
- **torch.compile**: the same closed form (forward and gradient without autograd, the same blocks)
  compiled by inductor, which generates C++ at run time (needs a C++ compiler; not used by the
  package).
- **fused loop**: one pass per view computing the residual, its norm, the loss and the three
  gradients per point, in numba (a JIT compiler; not a dependency of the package: the row appears
  only where `pip install numba` was run). This is what "one fused kernel per term" means in
  benchmarks/README.md.
- **streaming floor**: the time to read the term's inputs from memory once (pair points and
  confidences, 16 bytes per point), measured with a sum over a tensor of the same size.

Nothing here changes the package: the table shows what the 50x goal of issue 17 would need.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from align3r.align.objective import alignment_loss
from align3r.infer.graph import pair_graph

FRAMES, HEIGHT, WIDTH = 40, 96, 128
GRAPH = "swinstride-5-noncyclic"


def best_cpu_s(fn, repeats: int) -> float:
    """Best CPU time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def closed_form(world, rot, trans, frames, pts, log_conf):
    """Loss and gradients of one block of views, no autograd (what `_AlignmentLoss` computes)."""
    residual = world[frames] - torch.baddbmm(trans, rot, pts)
    dist = residual.square().sum(1).sqrt()
    grad = residual * (log_conf / dist.clamp_min(1e-19))[:, None]
    grad_world = torch.zeros_like(world).index_add_(0, frames, grad)
    return (dist * log_conf).sum(), grad_world, torch.bmm(grad, pts.transpose(1, 2)), grad.sum(2)


def numba_kernel():
    """The fused loop, compiled by numba, or None where numba is not installed."""
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(fastmath=True)
    def view(wx, wy, wz, x, y, z, c, gx, gy, gz, r, t, out):
        loss = s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = np.float32(0)
        for p in range(x.shape[0]):  # scalar accumulators: an array one would stop vectorisation
            a0 = wx[p] - (r[0] * x[p] + r[1] * y[p] + r[2] * z[p] + t[0])
            a1 = wy[p] - (r[3] * x[p] + r[4] * y[p] + r[5] * z[p] + t[1])
            a2 = wz[p] - (r[6] * x[p] + r[7] * y[p] + r[8] * z[p] + t[2])
            d = math.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
            loss += d * c[p]
            k = c[p] / max(d, np.float32(1e-19))
            a0, a1, a2 = a0 * k, a1 * k, a2 * k
            gx[p] += a0
            gy[p] += a1
            gz[p] += a2
            s00, s01, s02, s03 = s00 + a0 * x[p], s01 + a0 * y[p], s02 + a0 * z[p], s03 + a0
            s10, s11, s12, s13 = s10 + a1 * x[p], s11 + a1 * y[p], s12 + a1 * z[p], s13 + a1
            s20, s21, s22, s23 = s20 + a2 * x[p], s21 + a2 * y[p], s22 + a2 * z[p], s23 + a2
        out[0], out[1], out[2], out[3], out[4], out[5] = s00, s01, s02, s03, s10, s11
        out[6], out[7], out[8], out[9], out[10], out[11] = s12, s13, s20, s21, s22, s23
        return loss

    @njit
    def term(world, rot, trans, frames, pts, log_conf, grad_world, grad_pose):
        loss = 0.0
        for v in range(pts.shape[0]):
            f = frames[v]
            loss += view(world[f, 0], world[f, 1], world[f, 2], pts[v, 0], pts[v, 1], pts[v, 2], log_conf[v],
                         grad_world[f, 0], grad_world[f, 1], grad_world[f, 2], rot[v].ravel(), trans[v],
                         grad_pose[v])
        return loss

    return term


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (about 30 s to compile)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    edges = torch.from_numpy(pair_graph(FRAMES, GRAPH))
    num_edges, num_points = len(edges), HEIGHT * WIDTH
    world = torch.randn(FRAMES, 3, num_points, generator=generator, requires_grad=True)
    edge2w = torch.eye(4).repeat(num_edges, 1, 1)
    edge2w[:, :3, 3] = 0.01 * torch.randn(num_edges, 3, generator=generator)
    edge2w.requires_grad_(True)
    pts = torch.randn(num_edges, 2, 3, num_points, generator=generator)
    log_conf = torch.rand(num_edges, 2, num_points, generator=generator)
    views = 2 * num_edges

    def ours():
        world.grad = edge2w.grad = None
        alignment_loss(world, edge2w, edges, pts, log_conf).backward()

    rows = [("ours (eager torch)", best_cpu_s(ours, args.repeats))]
    rot = edge2w.detach()[:, None, :3, :3].expand(-1, 2, -1, -1).reshape(-1, 3, 3).contiguous()
    trans = edge2w.detach()[:, None, :3, 3:].expand(-1, 2, -1, -1).reshape(-1, 3, 1).contiguous()
    frames, pts_views, conf_views = edges.reshape(-1), pts.view(views, 3, -1), log_conf.view(views, -1)
    if not args.no_compile:
        compiled = torch.compile(closed_form)
        block = 2 * max(1, (1 << 20) // (6 * num_points))

        def inductor():
            for start in range(0, views, block):
                b = slice(start, start + block)
                compiled(world.detach(), rot[b], trans[b], frames[b], pts_views[b], conf_views[b])

        rows.append(("torch.compile (inductor)", best_cpu_s(inductor, args.repeats)))
    kernel, check = numba_kernel(), ""
    if kernel is not None:
        arrays = [t.numpy() for t in (world.detach(), rot, trans.view(views, 3), frames, pts_views, conf_views)]
        grad_world, grad_pose = np.zeros_like(arrays[0]), np.zeros((views, 12), np.float32)
        rows.append(("fused loop (numba)", best_cpu_s(lambda: kernel(*arrays, grad_world, grad_pose), args.repeats)))
        grad_world[:] = 0
        fused_loss = kernel(*arrays, grad_world, grad_pose) / (num_edges * num_points)
        ours_loss = alignment_loss(world, edge2w, edges, pts, log_conf).item()
        check = f"; fused loop's loss {fused_loss:.6f} against ours {ours_loss:.6f}"
    stream = torch.empty(views * num_points * 4)
    rows.append(("streaming floor (read 16 B/point)", best_cpu_s(stream.sum, args.repeats)))
    print(f"alignment term, {FRAMES} frames {HEIGHT}x{WIDTH}, {num_edges} edges, {views * num_points / 1e6:.1f} M points,"
          f" one thread, torch {torch.__version__}{check}")
    print("| kernel | ms / iteration | ns / point | x ours |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / (views * num_points) * 1e9:.2f} |"
              f" {rows[0][1] / seconds:.1f} |")


if __name__ == "__main__":
    main()
