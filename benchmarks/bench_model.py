"""Seconds per pair of the network: official per-pair `forward` vs per-frame encoding + per-pair decoding.

Runs both on the ordered pairs of a scene graph (default `swinstride-5-noncyclic`, 8 frames:
32 pairs) with random weights and inputs, prints a table with both timings, their ratio and
the largest difference of the outputs. Usage:

    python benchmarks/bench_model.py [--preset large] [--frames 8] [--size 288x512]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from align3r.infer.graph import pair_graph
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet


def per_pair_forward(model: Align3RNet, imgs: torch.Tensor, prior: torch.Tensor,
                     edges: list[tuple[int, int]]) -> list[torch.Tensor]:
    """The official path: encoder and prior branch run again for every pair (batch 1)."""
    outputs = []
    for i, j in edges:
        pred1, pred2 = model({"img": imgs[[i]], "pred_depth": prior[[i]]},
                             {"img": imgs[[j]], "pred_depth": prior[[j]]})
        outputs.append(torch.cat([pred1["pts3d"], pred2["pts3d_in_other_view"]], dim=-1))
    return outputs


def per_frame_encoding(model: Align3RNet, imgs: torch.Tensor, prior: torch.Tensor,
                       edges: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Ours: each frame encoded once (batch 1), then decoders + heads per pair (batch 1)."""
    encodings = [model.encode_frames(imgs[[n]], prior[[n]]) for n in range(imgs.shape[0])]
    outputs = []
    for i, j in edges:
        pred = model.decode_pairs(encodings[i], encodings[j])
        outputs.append(torch.cat([pred.pts3d_i_in_i, pred.pts3d_j_in_i], dim=-1))
    return outputs


def timed(fn, *args) -> tuple[float, list[torch.Tensor]]:
    start = time.perf_counter()
    with torch.inference_mode():
        out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=sorted(PRESETS))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", default="288x512", help="HxW, multiples of 16")
    parser.add_argument("--graph", default="swinstride-5-noncyclic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))

    torch.manual_seed(args.seed)
    model = Align3RNet(PRESETS[args.preset]).eval()
    for zero_conv in model.zero_convs:  # a non-zero branch, as in a fine-tuned model
        torch.nn.init.normal_(zero_conv[0].weight, std=0.02)
    imgs = torch.rand(args.frames, 3, height, width) * 2 - 1
    prior = torch.rand(args.frames, height, width, 3)
    edges = [tuple(e) for e in pair_graph(args.frames, args.graph).tolist()]

    timed(per_frame_encoding, model, imgs[:2], prior[:2], [(0, 1)])  # warm-up
    official_s, official_out = timed(per_pair_forward, model, imgs, prior, edges)
    ours_s, ours_out = timed(per_frame_encoding, model, imgs, prior, edges)
    max_diff = max((a - b).abs().max().item() for a, b in zip(official_out, ours_out))
    max_ref = max(a.abs().max().item() for a in official_out)

    print(f"align3r bench_model: preset {args.preset}, {height}x{width}, {args.frames} frames, "
          f"{args.graph}: {len(edges)} ordered pairs")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"seed {args.seed}")
    print()
    print("| path | s/pair | total s |")
    print("|---|---:|---:|")
    print(f"| forward per pair (official) | {official_s / len(edges):.3f} | {official_s:.1f} |")
    print(f"| encode once per frame + decode per pair | {ours_s / len(edges):.3f} | {ours_s:.1f} |")
    print()
    print(f"speed-up: {official_s / ours_s:.2f}x; max |difference| of the point maps: {max_diff:.3g} "
          f"(max |value| {max_ref:.3g})")


if __name__ == "__main__":
    main()
