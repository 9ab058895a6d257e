"""Losses of the generator and the discriminator: adversarial, feature matching, structural similarity."""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


def feature_matching_loss(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean L1 between the discriminator's block features of generated and of real pairs (pix2pixHD).

    Over every block but the logits, and every scale; the real features are targets, not trained.
    """
    terms = [
        F.l1_loss(fake_block.float(), real_block.detach().float())
        for fake_scale, real_scale in zip(fake, real, strict=True)
        for fake_block, real_block in zip(fake_scale[:-1], real_scale[:-1], strict=True)
    ]
    return torch.stack(terms).mean()


# The evaluation's SSIM convention (Wang et al. 2004; sketch2face.evaluation.metrics, tested equal).
SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_RADIUS = 0.01, 0.03, 1.5, 5


def ssim_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean SSIM of images in [-1, 1]: Gaussian 11-tap window, per channel, over the window's valid area."""
    taps = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float32, device=fake.device)
    taps = torch.exp(-(taps**2) / (2 * SSIM_SIGMA**2))
    taps = taps / taps.sum()
    channels = fake.shape[1]
    window = (taps[:, None] * taps[None, :]).expand(channels, 1, -1, -1)

    def blur(images: torch.Tensor) -> torch.Tensor:
        return F.conv2d(images, window, groups=channels)

    x, y = (fake.float() + 1) / 2, (target.float() + 1) / 2  # the data range 1, as for uint8 / 255
    mean_x, mean_y = blur(x), blur(y)
    var_x = blur(x * x) - mean_x**2
    var_y = blur(y * y) - mean_y**2
    covariance = blur(x * y) - mean_x * mean_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    return 1 - ssim_map.mean()
