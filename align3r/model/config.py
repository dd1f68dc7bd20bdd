"""ModelConfig: the architecture of an Align3R network, with the official presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of `Align3RNet`. Defaults are the released Align3R model (`large`).

    The official class (`dust3r/model.py`, `AsymmetricCroCo3DStereo`) takes CroCo's defaults
    (768x12 encoder, linear head) when a keyword is missing; every released checkpoint sets them
    explicitly, so the released values are the useful defaults here.
    """

    enc_embed_dim: int = 1024
    """Encoder width D_e."""
    enc_depth: int = 24
    """Number of encoder blocks."""
    enc_num_heads: int = 16
    """Encoder attention heads; the head dim must be divisible by 4 (RoPE2D)."""
    dec_embed_dim: int = 768
    """Decoder and prior-branch width D."""
    dec_depth: int = 12
    """Number of blocks in each of the two decoders; the prior branch has dec_depth//2 - 2."""
    dec_num_heads: int = 12
    """Decoder attention heads."""
    head_type: Literal["linear", "dpt"] = "dpt"
    """Prediction head of both views."""
    patch_size: int = 16
    """Side of the square patches of both patch embeddings."""
    mlp_ratio: float = 4.0
    """MLP hidden width as a multiple of the block width."""
    rope_freq: float = 100.0
    """RoPE2D base frequency (official `pos_embed='RoPE100'`)."""
    img_size: tuple[int, int] = (512, 512)
    """Training image size recorded in config.json; no effect at inference (RoPE only)."""
    dpt_feature_dim: int = 256
    """DPT fusion width (official fixed value; ours is configurable for `tiny`)."""
    dpt_last_dim: int = 128
    """DPT output-head hidden width."""
    dpt_layer_dims: tuple[int, int, int, int] = (96, 192, 384, 768)
    """DPT reassemble widths of the four hooked levels."""

    def __post_init__(self) -> None:
        for name, dim, heads in (("enc", self.enc_embed_dim, self.enc_num_heads),
                                 ("dec", self.dec_embed_dim, self.dec_num_heads)):
            if dim % heads or (dim // heads) % 4:
                raise ValueError(f"{name}_embed_dim={dim} / {name}_num_heads={heads} must give a "
                                 "head dim divisible by 4 (RoPE2D splits it in 2 axes x 2 halves)")
        if self.head_type == "dpt" and self.dec_depth < 4:
            raise ValueError(f"the DPT head needs dec_depth >= 4, got {self.dec_depth}")

    @property
    def num_prior_blocks(self) -> int:
        """P = dec_depth//2 - 2 prior-branch blocks (`croco.py:78-80`; negative gives 0)."""
        return max(self.dec_depth // 2 - 2, 0)

    @property
    def dpt_hooks(self) -> tuple[int, int, int, int]:
        """Indices into the per-view token list (0 = encoder output, dec_depth = last)."""
        depth = self.dec_depth
        return (0, depth * 2 // 4, depth * 3 // 4, depth)


PRESETS: dict[str, ModelConfig] = {
    # The released Align3R / DUSt3R-512-DPT architecture (docs/method.md §8).
    "large": ModelConfig(),
    # The two small configurations of the official golden vectors (docs/method.md §9).
    "small_linear": ModelConfig(enc_embed_dim=192, enc_depth=4, enc_num_heads=3,
                                dec_embed_dim=128, dec_depth=6, dec_num_heads=4,
                                head_type="linear", img_size=(128, 128)),
    "small_dpt": ModelConfig(enc_embed_dim=192, enc_depth=4, enc_num_heads=3,
                             dec_embed_dim=128, dec_depth=10, dec_num_heads=4,
                             head_type="dpt", img_size=(128, 128)),
    # Ours: the CPU-trainable miniature of docs/training.md §13.3 (about 9.9 M parameters).
    "tiny": ModelConfig(enc_embed_dim=192, enc_depth=4, enc_num_heads=3,
                        dec_embed_dim=128, dec_depth=8, dec_num_heads=4,
                        head_type="dpt", img_size=(128, 128), dpt_feature_dim=64,
                        dpt_last_dim=32, dpt_layer_dims=(32, 64, 128, 256)),
}
