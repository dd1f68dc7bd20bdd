"""Prediction heads (linear and DPT) and their output activations (`dust3r/heads/`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from align3r.model.config import ModelConfig


def postprocess(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Official activations ('exp' depth mode, conf = 1 + exp).

    Args:
        raw: (B, 4, H, W) head output.

    Returns:
        pts3d (B, H, W, 3) = v / max(|v|, 1e-8) * expm1(|v|) with v the first 3 channels;
        conf (B, H, W) = 1 + exp(channel 3).
    """
    fmap = raw.permute(0, 2, 3, 1)
    xyz = fmap[..., :3]
    dist = xyz.norm(dim=-1, keepdim=True)
    pts3d = xyz / dist.clip(min=1e-8) * torch.expm1(dist)
    return pts3d, 1 + fmap[..., 3].exp()


class LinearHead(nn.Module):
    """Per-token Linear to 4 x p x p outputs, then pixel shuffle (`LinearPts3d`).

    The official class calls `postprocess` with DUSt3R's old signature and raises a TypeError
    (docs/method.md §7.3); this head works as intended.
    """

    def __init__(self, config: ModelConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.proj = nn.Linear(config.dec_embed_dim, 4 * config.patch_size**2, device=device, dtype=dtype)

    def forward(self, tokens: list[torch.Tensor], image_size: tuple[int, int]) -> torch.Tensor:
        """tokens: per-layer list, the last (B, h*w, D) is used -> raw (B, 4, H, W)."""
        height, width = image_size
        p = self.patch_size
        feat = self.proj(tokens[-1]).transpose(1, 2).unflatten(-1, (height // p, width // p))
        return F.pixel_shuffle(feat, p)  # (B, 4*p*p, h, w) -> (B, 4, H, W)


class ResidualConvUnit(nn.Module):
    """conv2(relu(conv1(relu(x)))) + x, 3x3 convs with bias."""

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, device=device, dtype=dtype)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


def _upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class FusionBlock(nn.Module):
    """DPT feature fusion: (a + RCU1(b)) -> RCU2 -> bilinear x2 -> 1x1 conv."""

    def __init__(self, dim: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(dim, dim, 1, device=device, dtype=dtype)
        self.resConfUnit1 = ResidualConvUnit(dim, device=device, dtype=dtype)
        self.resConfUnit2 = ResidualConvUnit(dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        return self.out_conv(_upsample2x(self.resConfUnit2(x)))


class Upsample2x(nn.Module):
    """Parameter-free bilinear x2 (align_corners=True), a slot of the DPT output Sequential."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _upsample2x(x)


class DPTScratch(nn.Module):
    """Projections of the four levels to the fusion width, and the four fusion blocks.

    `layer{i}_rn` and `layer_rn.{i-1}` are the same module: the official state dict lists both
    names (the 8 DPT aliases of docs/method.md §7.4).
    """

    def __init__(self, config: ModelConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        dim = config.dpt_feature_dim
        convs = [nn.Conv2d(c, dim, 3, padding=1, bias=False, **kw) for c in config.dpt_layer_dims]
        self.layer1_rn, self.layer2_rn, self.layer3_rn, self.layer4_rn = convs
        self.layer_rn = nn.ModuleList(convs)
        self.refinenet1, self.refinenet2, self.refinenet3, self.refinenet4 = (
            FusionBlock(dim, **kw) for _ in range(4))


class DPT(nn.Module):
    """DPT reassemble + fusion + output head on four hooked token layers (`DPTOutputAdapter_fix`)."""

    def __init__(self, config: ModelConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        l1, l2, l3, l4 = config.dpt_layer_dims
        d_enc, d_dec = config.enc_embed_dim, config.dec_embed_dim
        self.scratch = DPTScratch(config, **kw)
        feature, last = config.dpt_feature_dim, config.dpt_last_dim
        self.head = nn.Sequential(
            nn.Conv2d(feature, feature // 2, 3, padding=1, **kw), Upsample2x(),
            nn.Conv2d(feature // 2, last, 3, padding=1, **kw), nn.ReLU(), nn.Conv2d(last, 4, 1, **kw))
        self.act_postprocess = nn.ModuleList([
            nn.Sequential(nn.Conv2d(d_enc, l1, 1, **kw), nn.ConvTranspose2d(l1, l1, 4, stride=4, **kw)),
            nn.Sequential(nn.Conv2d(d_dec, l2, 1, **kw), nn.ConvTranspose2d(l2, l2, 2, stride=2, **kw)),
            nn.Sequential(nn.Conv2d(d_dec, l3, 1, **kw)),
            nn.Sequential(nn.Conv2d(d_dec, l4, 1, **kw), nn.Conv2d(l4, l4, 3, stride=2, padding=1, **kw)),
        ])

    def forward(self, levels: list[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
        """levels: four (B, h*w, C_k) token maps -> raw (B, 4, 16h, 16w)."""
        maps = [act(tokens.transpose(1, 2).unflatten(-1, grid))  # (B, C_k, h, w) -> level size
                for act, tokens in zip(self.act_postprocess, levels)]
        l1, l2, l3, l4 = (proj(m) for proj, m in zip(self.scratch.layer_rn, maps))
        path4 = self.scratch.refinenet4(l4)[:, :, :l3.shape[2], :l3.shape[3]]  # odd h or w
        path3 = self.scratch.refinenet3(path4, l3)
        path2 = self.scratch.refinenet2(path3, l2)
        return self.head(self.scratch.refinenet1(path2, l1))


class DPTHead(nn.Module):
    """Selects the hooked layers (0 = encoder output) and runs the DPT (`create_dpt_head`)."""

    def __init__(self, config: ModelConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        self.hooks = config.dpt_hooks
        self.patch_size = config.patch_size
        self.dpt = DPT(config, device=device, dtype=dtype)
        # Convolutions in channels-last layout (oneDNN on CPU, tensor cores on CUDA): the `large`
        # head at 288x512 runs 1.25x faster on CPU, same outputs up to float rounding (7e-8).
        # Loading copies into these tensors and keeps the layout; saving writes them contiguous.
        self.to(memory_format=torch.channels_last)

    def forward(self, tokens: list[torch.Tensor], image_size: tuple[int, int]) -> torch.Tensor:
        """tokens: per-layer list of L+1 (B, h*w, C) -> raw (B, 4, H, W)."""
        grid = (image_size[0] // self.patch_size, image_size[1] // self.patch_size)
        return self.dpt([tokens[i] for i in self.hooks], grid)


def make_head(config: ModelConfig, *, device=None, dtype=None) -> LinearHead | DPTHead:
    """The head of `config.head_type`."""
    cls = LinearHead if config.head_type == "linear" else DPTHead
    return cls(config, device=device, dtype=dtype)
