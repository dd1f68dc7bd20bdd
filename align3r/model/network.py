"""Align3RNet: the per-frame part (`encode_frames`) and the per-pair part (`decode_pairs`).

The encoder and the depth-prior branch each see one frame only, so a video is encoded once
per frame; only the two decoders and heads run per pair. `forward(view1, view2)` is the
official interface (`dust3r/model.py`, `AsymmetricCroCo3DStereo.forward`) and is exactly
`decode_pairs(encode_frames(view1), encode_frames(view2))`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn

from align3r.model.blocks import LAYER_NORM_EPS, Block, DecoderBlock, PatchEmbed
from align3r.model.config import ModelConfig
from align3r.model.heads import make_head, postprocess
from align3r.model.prior_branch import ZeroConv
from align3r.model.rope import RopeTables, rope_tables, token_grid_positions

PRIOR_BRANCH_PREFIXES = ("patch_embed_point_cloud.", "dec_blocks_pc.", "zero_convs.")
"""State-dict prefixes Align3R adds to DUSt3R."""


@dataclass(frozen=True)
class FrameEncoding:
    """Everything the decoders need from one batch of frames, independent of the pairing.

    Attributes:
        enc_tokens: (N, L, D_e) encoder output (hook 0 of the DPT head).
        dec_tokens: (N, L, D) `decoder_embed(enc_tokens) + zero_convs[0](prior tokens)`.
        injections: (N, P, L, D) `zero_convs[k+1]` of the prior branch after its block k,
            added to the decoder tokens after decoder block k.
        image_size: (H, W) of the frames; L = (H/16) * (W/16).
    """

    enc_tokens: torch.Tensor
    dec_tokens: torch.Tensor
    injections: torch.Tensor
    image_size: tuple[int, int]

    def select(self, index: torch.Tensor | slice) -> FrameEncoding:
        """The encodings of a subset (or a gather, e.g. the first frame of every edge)."""
        return FrameEncoding(self.enc_tokens[index], self.dec_tokens[index],
                             self.injections[index], self.image_size)


@dataclass(frozen=True)
class PairPrediction:
    """Network output for B pairs (i, j); every point is in camera i's frame.

    Attributes:
        pts3d_i_in_i: (B, H, W, 3) frame i's points in camera i.
        conf_i: (B, H, W) confidence of those points, >= 1.
        pts3d_j_in_i: (B, H, W, 3) frame j's points in camera i.
        conf_j: (B, H, W) confidence of those points, >= 1.
    """

    pts3d_i_in_i: torch.Tensor
    conf_i: torch.Tensor
    pts3d_j_in_i: torch.Tensor
    conf_j: torch.Tensor

    @classmethod
    def cat(cls, parts: Sequence[PairPrediction]) -> PairPrediction:
        """The pairs of `parts` one after the other."""
        return cls(**{field.name: torch.cat([getattr(p, field.name) for p in parts]) for field in fields(cls)})


def _at_least_float32(tokens: list[torch.Tensor]) -> list[torch.Tensor]:
    """The heads run in float32 even under autocast (`model.py:252-254`); float64 stays."""
    return [t.to(torch.promote_types(t.dtype, torch.float32)) for t in tokens]


def _croco_init(module: nn.Module) -> None:
    """CroCo's `_init_weights`: xavier-uniform Linear weights, zero biases, LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Align3RNet(nn.Module):
    """DUSt3R (ViT encoder, two cross-attending decoders, two heads) plus the depth-prior branch.

    Attribute names and order are the official state-dict keys and order (docs/method.md §1).
    """

    def __init__(self, config: ModelConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        kw = dict(device=device, dtype=dtype)
        d_enc, d_dec, ratio = config.enc_embed_dim, config.dec_embed_dim, config.mlp_ratio
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d_dec, **kw))  # unused (CroCo pretraining)
        self.patch_embed = PatchEmbed(d_enc, config.patch_size, **kw)
        self.patch_embed_point_cloud = PatchEmbed(d_dec, config.patch_size, **kw)
        self.enc_blocks = nn.ModuleList(
            Block(d_enc, config.enc_num_heads, ratio, **kw) for _ in range(config.enc_depth))
        self.enc_norm = nn.LayerNorm(d_enc, eps=LAYER_NORM_EPS, **kw)
        self.dec_blocks_pc = nn.ModuleList(
            Block(d_dec, config.dec_num_heads, ratio, **kw) for _ in range(config.num_prior_blocks))
        self.decoder_embed = nn.Linear(d_enc, d_dec, **kw)
        self.dec_blocks = nn.ModuleList(
            DecoderBlock(d_dec, config.dec_num_heads, ratio, **kw) for _ in range(config.dec_depth))
        self.dec_norm = nn.LayerNorm(d_dec, eps=LAYER_NORM_EPS, **kw)
        self.dec_blocks2 = copy.deepcopy(self.dec_blocks)
        self.downstream_head1 = make_head(config, **kw)
        self.downstream_head2 = make_head(config, **kw)
        self.zero_convs = nn.ModuleList(ZeroConv(d_dec, **kw) for _ in range(config.num_prior_blocks + 1))
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """The official initialisation (`croco.py`, `initialize_weights`, before the heads exist).

        Linear: xavier-uniform weight, zero bias; LayerNorm: (1, 0); `patch_embed`: xavier on
        the flattened conv; `mask_token`: N(0, 0.02); the heads keep PyTorch's default init;
        the prior branch as `reset_prior_branch`. `dec_blocks2` starts as a copy of `dec_blocks`
        (`model.py:91`).
        """
        for name, module in self.named_modules():
            if not name.startswith(("downstream_head", *PRIOR_BRANCH_PREFIXES)):
                _croco_init(module)
        nn.init.xavier_uniform_(self.patch_embed.proj.weight.view(self.patch_embed.proj.weight.shape[0], -1))
        nn.init.normal_(self.mask_token, std=0.02)
        self.dec_blocks2.load_state_dict(self.dec_blocks.state_dict())
        self.reset_prior_branch()

    @torch.no_grad()
    def reset_prior_branch(self) -> None:
        """Start the depth-prior branch as fine-tuning from DUSt3R does (`training.py:139-151`).

        The point-map patch embedding keeps PyTorch's default conv init, the branch blocks the
        CroCo init, and the zero convs are zero, so the network's output equals DUSt3R's.
        """
        self.patch_embed_point_cloud.proj.reset_parameters()
        for module in self.dec_blocks_pc.modules():
            _croco_init(module)
        for zero_conv in self.zero_convs:
            nn.init.zeros_(zero_conv[0].weight)
            nn.init.zeros_(zero_conv[0].bias)

    def _rope(self, image_size: tuple[int, int], device: torch.device, *,
              part: Literal["enc", "dec"]) -> RopeTables:
        """RoPE angles of the token grid for the encoder's or the decoders' head dim."""
        config, p = self.config, self.config.patch_size
        positions = token_grid_positions(image_size[0] // p, image_size[1] // p, device=device)
        head_dim = (config.enc_embed_dim // config.enc_num_heads if part == "enc"
                    else config.dec_embed_dim // config.dec_num_heads)
        return rope_tables(positions, head_dim, config.rope_freq)

    def encode_frames(self, imgs: torch.Tensor, prior_pts: torch.Tensor) -> FrameEncoding:
        """Encoder and depth-prior branch, one frame at a time.

        Args:
            imgs: (N, 3, H, W) RGB in [-1, 1], H and W multiples of the patch size.
            prior_pts: (N, H, W, 3) the prior's point map, each channel min-max normalised to
                [0, 1] over the full-resolution prior (official key `pred_depth`).

        Returns:
            The per-frame encodings.
        """
        if prior_pts.shape != (imgs.shape[0], *imgs.shape[2:], 3):
            raise ValueError(f"prior_pts: expected shape {(imgs.shape[0], *imgs.shape[2:], 3)}, "
                             f"got {tuple(prior_pts.shape)}")
        image_size = (imgs.shape[2], imgs.shape[3])
        enc_rope = self._rope(image_size, imgs.device, part="enc")
        enc = self.patch_embed(imgs)  # (N, L, D_e)
        for block in self.enc_blocks:
            enc = block(enc, enc_rope)
        enc = self.enc_norm(enc)
        prior = self.patch_embed_point_cloud(prior_pts.permute(0, 3, 1, 2).to(imgs.dtype))  # (N, L, D)
        dec = self.decoder_embed(enc) + self.zero_convs[0](prior)
        dec_rope = self._rope(image_size, imgs.device, part="dec")
        injections = []
        for block, zero_conv in zip(self.dec_blocks_pc, self.zero_convs[1:]):
            prior = block(prior, dec_rope)
            injections.append(zero_conv(prior))
        injections = torch.stack(injections, dim=1) if injections else dec.new_zeros(
            (dec.shape[0], 0, *dec.shape[1:]))  # (N, P, L, D)
        return FrameEncoding(enc, dec, injections, image_size)

    def decode_pairs(self, frames_i: FrameEncoding, frames_j: FrameEncoding) -> PairPrediction:
        """Both decoders and heads for B pairs (i, j) of already encoded frames.

        Args:
            frames_i: encodings of the first frame of every pair (view 1), batch B.
            frames_j: encodings of the second frame of every pair (view 2), batch B.

        Returns:
            Points and confidences of both frames in camera i's frame.
        """
        if frames_i.image_size != frames_j.image_size:
            raise ValueError(f"both frames of a pair must have one size, got {frames_i.image_size} "
                             f"and {frames_j.image_size}")
        rope = self._rope(frames_i.image_size, frames_i.dec_tokens.device, part="dec")
        x_i, x_j = frames_i.dec_tokens, frames_j.dec_tokens
        layers_i, layers_j = [frames_i.enc_tokens], [frames_j.enc_tokens]
        for k, (block_i, block_j) in enumerate(zip(self.dec_blocks, self.dec_blocks2)):
            # Both decoders read the previous step's tokens of the other view.
            x_i, x_j = block_i(x_i, x_j, rope, rope), block_j(x_j, x_i, rope, rope)
            if k < frames_i.injections.shape[1]:
                x_i = x_i + frames_i.injections[:, k]
                x_j = x_j + frames_j.injections[:, k]
            layers_i.append(x_i)
            layers_j.append(x_j)
        layers_i[-1], layers_j[-1] = self.dec_norm(x_i), self.dec_norm(x_j)
        with torch.autocast(device_type=x_i.device.type, enabled=False):
            raw_i = self.downstream_head1(_at_least_float32(layers_i), frames_i.image_size)
            raw_j = self.downstream_head2(_at_least_float32(layers_j), frames_j.image_size)
        pts3d_i_in_i, conf_i = postprocess(raw_i)
        pts3d_j_in_i, conf_j = postprocess(raw_j)
        return PairPrediction(pts3d_i_in_i, conf_i, pts3d_j_in_i, conf_j)

    def forward(self, view1: dict, view2: dict) -> tuple[dict, dict]:
        """The official interface: view dicts in, `(pred1, pred2)` dicts out.

        Args:
            view1, view2: `img` (B, 3, H, W) in [-1, 1], `pred_depth` (B, H, W, 3) normalised prior
                point map, optional `true_shape` (B, 2) = (H, W) for every row.

        Returns:
            pred1 `{'pts3d': (B,H,W,3), 'conf': (B,H,W)}` in camera 1's frame and
            pred2 `{'pts3d_in_other_view': (B,H,W,3), 'conf': (B,H,W)}`, also in camera 1's frame.
        """
        for name, view in (("view1", view1), ("view2", view2)):
            size = torch.tensor(view["img"].shape[2:])
            if "true_shape" in view and not (torch.as_tensor(view["true_shape"]).cpu() == size).all():
                raise ValueError(f"{name}: true_shape must be (H, W) = {tuple(size.tolist())} for "
                                 "every row (mixed sizes or portrait batches are not supported)")
        batch = view1["img"].shape[0]
        frames = self.encode_frames(torch.cat([view1["img"], view2["img"]]),
                                    torch.cat([view1["pred_depth"], view2["pred_depth"]]))
        pred = self.decode_pairs(frames.select(slice(0, batch)), frames.select(slice(batch, None)))
        return ({"pts3d": pred.pts3d_i_in_i, "conf": pred.conf_i},
                {"pts3d_in_other_view": pred.pts3d_j_in_i, "conf": pred.conf_j})
