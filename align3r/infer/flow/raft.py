"""torchvision's RAFT-large (an alternative to the official SEA-RAFT; needs torchvision and its hub weights)."""

from __future__ import annotations

import numpy as np
import torch

from align3r.errors import ModelNotFoundError


class TorchvisionRaft:
    """RAFT-large with torchvision's C+T+S+K+H weights, loaded once.

    Args:
        device: where the network runs.
        batch_size: edges per forward pass.

    Raises:
        ModelNotFoundError: torchvision missing, or the weights neither cached nor downloadable.
    """

    name = "raft"
    note = None

    def __init__(self, device: torch.device | str = "cpu", batch_size: int = 12) -> None:
        try:
            from torchvision.models.optical_flow import Raft_Large_Weights, raft_large
        except ImportError:
            raise ModelNotFoundError("RAFT flow needs torchvision (pip install torchvision); "
                                     "or use --flow sea-raft or --flow dis") from None
        try:
            model = raft_large(weights=Raft_Large_Weights.C_T_SKHT_V2)
        except (OSError, RuntimeError):
            raise ModelNotFoundError(f"RAFT weights are not cached in {torch.hub.get_dir()} and cannot "
                                     "be downloaded (offline?); use --flow dis or --flow none") from None
        self.device, self.batch_size = torch.device(device), batch_size
        self.model = model.eval().to(self.device)

    @torch.inference_mode()
    def __call__(self, images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Flows a -> b of every directed pair (a, b).

        Args:
            images: (N, H, W, 3) uint8 RGB, H and W multiples of 8.
            pairs: (P, 2) frame indices.

        Returns:
            (P, 2, H, W) float32 in pixels, channel 0 = x.
        """
        frames = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # [-1, 1]
        flows = [torch.zeros(0, 2, *images.shape[1:3])]
        for chunk in torch.from_numpy(pairs).split(self.batch_size):
            img_a, img_b = frames[chunk[:, 0]].to(self.device), frames[chunk[:, 1]].to(self.device)
            flows.append(self.model(img_a, img_b)[-1].cpu())
        return torch.cat(flows).numpy()
