"""SEA-RAFT (Wang, Lipson, Deng 2024), the flow network of the official flow term, in plain PyTorch.

The official Align3R code runs `RAFT2` of `third_party/RAFT/core/raft.py` (SEA-RAFT, BSD-3) with
`congif_spring_M.json` and the checkpoint `Tartan-C-T432x960-M.pth`. Module and parameter names
follow that code, so its state dict loads strictly (without the `module.` prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

STAGE_DEPTHS: dict[str, tuple[int, int, int]] = {"resnet18": (2, 2, 2), "resnet34": (3, 4, 6)}
"""Residual blocks in the three encoder stages for each official `pretrain` choice."""


@dataclass(frozen=True)
class SeaRaftConfig:
    """Architecture of `SeaRaft`; defaults are `congif_spring_M.json` (the official flow network).

    The JSON's training keys (lr, batch size, ...) and its `iters` (4) play no part here: the
    number of refinement iterations is an argument of `SeaRaft.forward`.
    """

    dim: int = 128
    """Width of the hidden state and of the context features (the context encoder outputs 2 * dim)."""
    radius: int = 4
    """Correlation lookup radius: a (2r+1) x (2r+1) window per pyramid level."""
    num_blocks: int = 2
    """ConvNeXt blocks in the update operator."""
    initial_dim: int = 64
    """Channels of both encoders' 7x7 stem."""
    block_dims: tuple[int, int, int] = (64, 128, 256)
    """Channels of the three encoder stages (1/2, 1/4, 1/8 resolution)."""
    pretrain: Literal["resnet18", "resnet34"] = "resnet34"
    """The ResNet whose stage depths the encoders copy (no ImageNet weights are loaded here)."""
    corr_levels: int = 4
    """Correlation pyramid levels (fixed to 4 by the official constructor)."""

    @property
    def corr_channels(self) -> int:
        """Channels of one correlation lookup: levels x (2r+1)^2."""
        return self.corr_levels * (2 * self.radius + 1) ** 2


class ResidualBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers plus a shortcut (1x1 conv + BN when the shape changes).

    As in the official `BasicBlock` (core/layer.py) the shortcut's BN is registered twice, as
    `bn3` and as `downsample.1`: the state dict holds both names for one module.
    """

    def __init__(self, in_dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, out_dim, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_dim, out_dim, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_dim)
        self.bn2 = nn.BatchNorm2d(out_dim)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_dim != out_dim:
            self.bn3 = nn.BatchNorm2d(out_dim)
            self.downsample = nn.Sequential(nn.Conv2d(in_dim, out_dim, 1, stride=stride), self.bn3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_dim, H, W) -> (B, out_dim, H / stride, W / stride)."""
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + y)


class ResNetEncoder(nn.Module):
    """ResNet stem and three stages to 1/8 resolution, then a 1x1 projection (official `ResNetFPN`)."""

    def __init__(self, config: SeaRaftConfig, *, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, config.initial_dim, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(config.initial_dim)
        dims = (config.initial_dim, *config.block_dims)
        for stage, (depth, stride) in enumerate(zip(STAGE_DEPTHS[config.pretrain], (1, 2, 2)), start=1):
            blocks = [ResidualBlock(dims[stage - 1], dims[stage], stride)]
            blocks += [ResidualBlock(dims[stage], dims[stage], 1) for _ in range(depth - 1)]
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
        self.final_conv = nn.Conv2d(config.block_dims[2], out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_dim, H, W), H and W multiples of 8 -> (B, out_dim, H/8, W/8)."""
        x = F.relu(self.bn1(self.conv1(x)))  # (B, initial_dim, H/2, W/2)
        x = self.layer3(self.layer2(self.layer1(x)))  # (B, block_dims[2], H/8, W/8)
        return self.final_conv(x)


class ConvNextBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, MLP with layer scale, residual, then a 1x1 conv to `out_dim`."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * out_dim)
        self.pwconv2 = nn.Linear(4 * out_dim, dim)
        self.final = nn.Conv2d(dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim, h, w) -> (B, out_dim, h, w)."""
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, h, w, dim)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return self.final(x + y.permute(0, 3, 1, 2))


class MotionEncoder(nn.Module):
    """Features of the correlation lookup and the current flow (official `BasicMotionEncoder2`)."""

    def __init__(self, config: SeaRaftConfig) -> None:
        super().__init__()
        dim = config.dim
        self.convc1 = nn.Conv2d(config.corr_channels, 2 * dim, 1)
        self.convc2 = nn.Conv2d(2 * dim, dim + dim // 2, 3, padding=1)
        self.convf1 = nn.Conv2d(2, dim, 7, padding=3)
        self.convf2 = nn.Conv2d(dim, dim // 2, 3, padding=1)
        self.conv = nn.Conv2d(2 * dim, dim - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        """flow (B, 2, h, w), corr (B, corr_channels, h, w) -> (B, dim, h, w), the flow last."""
        corr_features = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flow_features = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([corr_features, flow_features], dim=1)))
        return torch.cat([out, flow], dim=1)


class UpdateBlock(nn.Module):
    """One refinement step of the hidden state (official `BasicUpdateBlock2`)."""

    def __init__(self, config: SeaRaftConfig) -> None:
        super().__init__()
        self.encoder = MotionEncoder(config)
        self.refine = nn.ModuleList(ConvNextBlock(3 * config.dim, config.dim) for _ in range(config.num_blocks))

    def forward(self, hidden: torch.Tensor, context: torch.Tensor, corr: torch.Tensor,
                flow: torch.Tensor) -> torch.Tensor:
        """hidden, context (B, dim, h, w); corr (B, corr_channels, h, w); flow (B, 2, h, w) -> new hidden."""
        inputs = torch.cat([context, self.encoder(flow, corr)], dim=1)  # (B, 2 dim, h, w)
        for block in self.refine:
            hidden = block(torch.cat([hidden, inputs], dim=1))
        return hidden


def correlation_pyramid(fmap1: torch.Tensor, fmap2: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """All-pairs correlation of `fmap1` with `fmap2` halved 0, 1, ... times.

    As the official `CorrBlock2` (core/corr.py), the coarser levels correlate a bilinearly halved
    `fmap2` (not an average-pooled volume), halved with `scale_factor=0.5` (floor sizes, scale 2).

    Args:
        fmap1, fmap2: (B, D, h, w) features of image 1 and image 2.

    Returns:
        `levels` volumes (B*h*w, 1, h_l, w_l), scaled by 1/sqrt(D).
    """
    batch, dim, height, width = fmap1.shape
    queries = fmap1.flatten(2).transpose(1, 2)  # (B, h*w, D)
    scale = torch.tensor(dim).float().sqrt()
    pyramid = []
    for level in range(levels):
        if level > 0:
            fmap2 = F.interpolate(fmap2, scale_factor=0.5, mode="bilinear", align_corners=False)
        corr = queries @ fmap2.flatten(2)  # (B, h*w, h_l*w_l)
        pyramid.append(corr.reshape(batch * height * width, 1, *fmap2.shape[2:]) / scale)
    return pyramid


def lookup_correlation(pyramid: list[torch.Tensor], coords: torch.Tensor, radius: int) -> torch.Tensor:
    """Bilinear samples of every pyramid level in a (2r+1)^2 window around `coords` / 2^level.

    Args:
        pyramid: volumes (B*h*w, 1, h_l, w_l) of `correlation_pyramid`.
        coords: (B, 2, h, w) positions in image 2 at 1/8 resolution, channel 0 = x.

    Returns:
        (B, levels * (2r+1)^2, h, w); outside the volume samples are 0.
    """
    batch, _, height, width = coords.shape
    offsets = torch.linspace(-radius, radius, 2 * radius + 1, device=coords.device)
    # official: core/corr.py CorrBlock2.__call__ adds (dy, dx) meshgrid pairs to (x, y), so the
    # window's first axis steps in x; the update block's weights expect that channel order.
    window = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1)  # (2r+1, 2r+1, 2)
    centres = coords.permute(0, 2, 3, 1).reshape(batch * height * width, 1, 1, 2)
    samples = []
    for level, corr in enumerate(pyramid):
        points = centres / 2**level + window  # (B*h*w, 2r+1, 2r+1, 2) pixels, (x, y)
        size = points.new_tensor([corr.shape[-1] - 1, corr.shape[-2] - 1])
        grid = 2 * points / size - 1  # official: core/utils/utils.py bilinear_sampler
        sampled = F.grid_sample(corr, grid, mode="bilinear", align_corners=True)  # (B*h*w, 1, 2r+1, 2r+1)
        samples.append(sampled.view(batch, height, width, -1))
    return torch.cat(samples, dim=-1).permute(0, 3, 1, 2).contiguous()


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flow at 1/8 resolution -> full resolution, each pixel a convex mix of its 3x3 coarse neighbours.

    Args:
        flow: (B, 2, h, w) in 1/8-resolution pixels.
        mask: (B, 9 * 64, h, w) logits of the mixing weights.

    Returns:
        (B, 2, 8h, 8w) in full-resolution pixels.
    """
    batch, _, height, width = flow.shape
    weights = mask.view(batch, 1, 9, 8, 8, height, width).softmax(dim=2)
    patches = F.unfold(8 * flow, [3, 3], padding=1).view(batch, 2, 9, 1, 1, height, width)
    up = (weights * patches).sum(dim=2)  # (B, 2, 8, 8, h, w)
    return up.permute(0, 1, 4, 2, 5, 3).reshape(batch, 2, 8 * height, 8 * width)


def pixel_grid(flow: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) float pixel coordinates (x, y) of a (B, 2, h, w) flow's grid."""
    batch, _, height, width = flow.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=flow.device), torch.arange(width, device=flow.device),
                            indexing="ij")
    return torch.stack([xs, ys]).float().expand(batch, 2, height, width)


def pad_to_multiple_of_8(images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Replicate-pad (B, C, H, W) to multiples of 8, split evenly (official `InputPadder`, mode 'sintel').

    Returns:
        The padded images and the (left, right, top, bottom) padding.
    """
    pad_h, pad_w = -images.shape[-2] % 8, -images.shape[-1] % 8
    padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    return F.pad(images, padding, mode="replicate"), padding


class SeaRaft(nn.Module):
    """SEA-RAFT: a direct initial flow from a context network, refined by correlation lookups.

    Attribute names equal the official `RAFT2`'s, so `state_dict()` keys equal the official keys
    without `module.`.
    """

    def __init__(self, config: SeaRaftConfig = SeaRaftConfig()) -> None:
        super().__init__()
        self.config = config
        dim = config.dim
        self.cnet = ResNetEncoder(config, in_dim=6, out_dim=2 * dim)
        self.init_conv = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1)
        self.upsample_weight = nn.Sequential(nn.Conv2d(dim, 2 * dim, 3, padding=1), nn.ReLU(),
                                             nn.Conv2d(2 * dim, 9 * 64, 1))
        # Outputs flow (2), mixture weights (2) and log-scales (2); only the flow is used here.
        self.flow_head = nn.Sequential(nn.Conv2d(dim, 2 * dim, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(2 * dim, 6, 3, padding=1))
        self.fnet = ResNetEncoder(config, in_dim=3, out_dim=2 * dim)
        self.update_block = UpdateBlock(config)

    def upsampled(self, flow: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Full-resolution flow (B, 2, 8h, 8w) from 1/8 flow (B, 2, h, w) and hidden state (B, dim, h, w)."""
        return convex_upsample(flow, 0.25 * self.upsample_weight(hidden))

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, *, iters: int = 20,
                keep_all: bool = False) -> torch.Tensor:
        """Optical flow from image 1 to image 2 (official `RAFT2.forward`, `test_mode=True`).

        Only the returned predictions are upsampled (the official code upsamples every one,
        which changes nothing else).

        Args:
            image1, image2: (B, 3, H, W) float RGB in [0, 255], any H and W.
            iters: refinement iterations; the official flow term uses 20.
            keep_all: return every prediction (the initial one, then one per iteration).

        Returns:
            (B, 2, H, W) flow in pixels, channel 0 = x: where each pixel of image 1 moves to in
            image 2; with `keep_all`, (iters + 1, B, 2, H, W).
        """
        height, width = image1.shape[-2:]
        smallest = 8 * 2**self.config.corr_levels - 7  # the coarsest correlation level must be 2 x 2
        if min(height, width) < smallest:
            raise ValueError(f"images: SEA-RAFT needs at least {smallest} x {smallest} pixels, got {height} x {width}")
        images, (left, _, top, _) = pad_to_multiple_of_8(torch.cat([image1, image2], dim=1) / 255.0 * 2 - 1)
        image1, image2 = images[:, :3], images[:, 3:]  # (B, 3, H8, W8) in [-1, 1]
        hidden, context = self.init_conv(self.cnet(images)).split(self.config.dim, dim=1)
        flow = self.flow_head(hidden)[:, :2]  # (B, 2, H8/8, W8/8) initial flow
        predictions = [(flow, hidden)] if keep_all else []
        if iters > 0:
            fmaps = self.fnet(torch.cat([image1, image2]))  # both images in one batch
            pyramid = correlation_pyramid(*fmaps.chunk(2), self.config.corr_levels)
            grid = pixel_grid(flow)
        for _ in range(iters):
            corr = lookup_correlation(pyramid, grid + flow, self.config.radius)
            hidden = self.update_block(hidden, context, corr, flow)
            flow = flow + self.flow_head(hidden)[:, :2]
            if keep_all:
                predictions.append((flow, hidden))
        if not keep_all:
            predictions.append((flow, hidden))
        up = torch.stack([self.upsampled(f, state) for f, state in predictions])  # (P, B, 2, H8, W8)
        up = up[..., top:top + height, left:left + width]
        return up if keep_all else up[0]
