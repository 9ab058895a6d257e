"""The pix2pix objective: G* = arg min_G max_D L_cGAN(G, D) + lambda * L_L1(G) (Isola et al. eq. 4)."""

from __future__ import annotations

import torch
from torch import nn

from sketch2face.models.discriminator import PatchDiscriminator
from sketch2face.models.generator import UnetGenerator
from sketch2face.models.losses import GanLoss


class Pix2PixModel(nn.Module):
    """Generator, discriminator and the two losses; the trainer owns the optimisers."""

    def __init__(
        self, generator: UnetGenerator, discriminator: PatchDiscriminator, gan_loss: GanLoss, lambda_l1: float
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.gan_loss = gan_loss
        self.l1_loss = nn.L1Loss()
        self.lambda_l1 = lambda_l1

    def discriminator_loss(
        self, sketch: torch.Tensor, photo: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Real pairs -> 1, generated pairs -> 0; halved so D learns slower than G (as in pix2pix)."""
        loss_real = self.gan_loss(self.discriminator(sketch, photo), True)
        loss_fake = self.gan_loss(self.discriminator(sketch, fake.detach()), False)
        loss = 0.5 * (loss_real + loss_fake)
        return loss, {"loss_D_real": loss_real.item(), "loss_D_fake": loss_fake.item()}

    def generator_loss(
        self, sketch: torch.Tensor, photo: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Fool D on the pair, and stay close to the real photo in L1."""
        loss_gan = self.gan_loss(self.discriminator(sketch, fake), True)
        loss_l1 = self.l1_loss(fake, photo)
        loss = loss_gan + self.lambda_l1 * loss_l1
        return loss, {"loss_G_GAN": loss_gan.item(), "loss_G_L1": loss_l1.item()}
