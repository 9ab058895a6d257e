"""The adversarial loss against a constant real/fake target for every patch logit."""

from __future__ import annotations

import torch
from torch import nn

from sketch2face.config import GanLossKind


class GanLoss(nn.Module):
    """vanilla: BCE with logits (the pix2pix paper); lsgan: least squares (Mao et al. 2017)."""

    def __init__(self, kind: GanLossKind = "vanilla") -> None:
        super().__init__()
        self.criterion = nn.BCEWithLogitsLoss() if kind == "vanilla" else nn.MSELoss()

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return self.criterion(logits.float(), target.float())
