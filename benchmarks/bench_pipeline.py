"""Seconds per frame of the whole pipeline (`align3r.pipeline.reconstruct`), split into prior / encode /
decode / align, and what the per-frame encoding saves against encoding both views of every pair.

Random weights (timing only): the Align3R network of `--presets`, and a Depth Anything V2 prior
of the matching size built from its transformers configuration. The input is a synthetic video
rendered at the network's input size (`--video` for `large`, `--small-video` for the others).
The network runs for real on every pair; what reaches the aligner are the video's exact pairs
(1 % noise), since a random network's points break it (the aligner's cost does not depend on
the values). "align" is the rest of `reconstruct`: pair store I/O, DIS flow, spanning tree,
optimiser. Usage:

    python benchmarks/bench_pipeline.py [--presets large small_dpt tiny] [--frames 20 100] [--niter 300]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch
import transformers
from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

import align3r.pipeline.reconstruct as reconstruct_module
from align3r.align.oracle import oracle_pairs
from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.infer import runner
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.prior.depth_anything import DepthAnythingPrior

DA_V2 = {  # backbone width, depth, heads; neck widths (the released large / small checkpoints)
    "large": (1024, 24, 16, [256, 512, 1024, 1024], 256),
    "small": (384, 12, 6, [48, 96, 192, 384], 64),
}


def random_prior(size: str) -> DepthAnythingPrior:
    width, depth, heads, neck, fusion = DA_V2[size]
    backbone = transformers.Dinov2Config(hidden_size=width, num_hidden_layers=depth, num_attention_heads=heads,
                                         intermediate_size=4 * width, patch_size=14, image_size=518,
                                         out_features=["stage5", "stage12", "stage18", "stage24"] if depth == 24
                                         else ["stage3", "stage6", "stage9", "stage12"],
                                         reshape_hidden_states=False)
    config = transformers.DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=width,
                                              neck_hidden_sizes=neck, fusion_hidden_size=fusion,
                                              depth_estimation_type="relative")
    model = transformers.DepthAnythingForDepthEstimation(config)
    with torch.no_grad():
        model.head.conv3.bias.fill_(0.5)  # positive output
    processor = DPTImageProcessorPil(size={"height": 518, "width": 518}, keep_aspect_ratio=True,
                                     ensure_multiple_of=14, resample=3, do_pad=False)
    return DepthAnythingPrior(model, processor, name=f"depth-anything-v2-{size}", device="cpu")


class Timed:
    """Wraps a bound method, summing its wall time and counting its calls."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def geometric_pairs(sequence):
    """`reconstruct`'s pair inference, run for real (the random network's cost), yielding the
    exact pairs of the synthetic video instead of the random network's (whose points lie around
    z = 0 and break the aligner; its cost does not depend on the values): timing only."""
    c2w, depths = torch.from_numpy(sequence.poses_c2w), torch.from_numpy(sequence.depths).double()
    k = torch.from_numpy(sequence.intrinsics)

    def infer(model, load, edges, *, batch_size, device, precision="fp32"):
        for batch in runner.infer_pairs(model, load, edges, batch_size=batch_size, device=device):
            pairs = oracle_pairs(c2w, depths, k, edges[batch.edge_ids].numpy(), seed=0, noise=0.01)
            yield runner.PairBatch(batch.edge_ids, pairs)
    return infer


def run(preset: str, num_frames: int, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    model = Align3RNet(PRESETS[preset]).eval()
    with torch.no_grad():
        for zero_conv in model.zero_convs:  # a non-zero branch, as in a fine-tuned model
            torch.nn.init.normal_(zero_conv[0].weight, std=0.02)
    encode, decode = Timed(model.encode_frames), Timed(model.decode_pairs)
    model.encode_frames, model.decode_pairs = encode, decode
    width, height = args.video if preset == "large" else args.small_video
    sequence = generate_sequence(SynthConfig(frames=num_frames, width=width, height=height, seed=0))
    config = ReconstructConfig(size=max(width, height), niter=args.niter, flow="dis")  # network grid = video
    prior = random_prior("large" if preset == "large" else "small")
    real_infer = reconstruct_module.infer_pairs
    reconstruct_module.infer_pairs = geometric_pairs(sequence)
    try:
        with tempfile.TemporaryDirectory() as cache:
            rec = reconstruct(sequence.images, model, prior, config, cache_dir=cache)
    finally:
        reconstruct_module.infer_pairs = real_infer
    timings = rec.meta["timings"]
    edges = len(rec.meta["quality"]["edge_residual"])  # ordered pairs the network ran on
    align_s = timings["pairs_and_align_s"] - encode.seconds - decode.seconds
    per_encoding = encode.seconds / num_frames
    return dict(preset=preset, frames=num_frames, size=f"{height}x{width}", mode=rec.meta["mode"],
                edges=edges, prior=timings["prior_s"] / num_frames, encode=encode.seconds / num_frames,
                decode=decode.seconds / num_frames, align=align_s / num_frames,
                saved=per_encoding * (2 * edges - num_frames) / num_frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["large", "small_dpt", "small_linear", "tiny"],
                        choices=sorted(PRESETS))
    parser.add_argument("--frames", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--video", type=int, nargs=2, default=[512, 288], metavar=("W", "H"),
                        help="video (= network input) of the large preset")
    parser.add_argument("--small-video", type=int, nargs=2, default=[224, 224], metavar=("W", "H"),
                        help="video (= network input) of the other presets")
    parser.add_argument("--niter", type=int, default=300)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"align3r bench_pipeline: torch {torch.__version__}, {args.threads} threads, "
          f"{platform.processor() or platform.machine()}, video {args.video[0]}x{args.video[1]}, "
          f"niter {args.niter}, DIS flow, random weights")
    print()
    print("| preset | frames | network size | mode | pairs | prior s/frame | encode s/frame | decode s/frame "
          "| align s/frame | total s/frame | encoding every pair would add s/frame |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for preset in args.presets:
        for num_frames in args.frames:
            r = run(preset, num_frames, args)
            total = r["prior"] + r["encode"] + r["decode"] + r["align"]
            print(f"| {r['preset']} | {r['frames']} | {r['size']} | {r['mode']} | {r['edges']} | {r['prior']:.3f} "
                  f"| {r['encode']:.3f} | {r['decode']:.3f} | {r['align']:.3f} | {total:.3f} | {r['saved']:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
