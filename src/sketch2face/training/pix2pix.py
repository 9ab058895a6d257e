"""The pix2pix objective: G* = arg min_G max_D L_cGAN(G, D) + lambda * L_L1(G) (Isola et al. eq. 4).

Only the losses live here; the trainer runs the networks, so that it can route them through
DistributedDataParallel and autocast without the objective knowing.
"""

from __future__ import annotations

import torch
from torch import nn

from sketch2face.config import GanLossKind
from sketch2face.models.losses import GanLoss


class Pix2PixObjective(nn.Module):
    def __init__(self, gan_loss: GanLossKind, lambda_l1: float) -> None:
        super().__init__()
        self.gan_loss = GanLoss(gan_loss)
        self.l1_loss = nn.L1Loss()
        self.lambda_l1 = lambda_l1

    def discriminator_loss(
        self, logits_real: torch.Tensor, logits_fake: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Real pairs -> 1, generated pairs -> 0; halved so D learns slower than G (as in pix2pix)."""
        loss_real = self.gan_loss(logits_real, True)
        loss_fake = self.gan_loss(logits_fake, False)
        return 0.5 * (loss_real + loss_fake), {"loss_D_real": loss_real, "loss_D_fake": loss_fake}

    def generator_loss(
        self, logits_fake: torch.Tensor, fake: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool D on the pair, and stay close to the real target in L1."""
        loss_gan = self.gan_loss(logits_fake, True)
        loss_l1 = self.l1_loss(fake.float(), target)
        return loss_gan + self.lambda_l1 * loss_l1, {"loss_G_GAN": loss_gan, "loss_G_L1": loss_l1}
