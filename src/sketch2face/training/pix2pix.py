"""The pix2pix objective: G* = arg min_G max_D L_cGAN(G, D) + lambda * L_L1(G) (Isola et al. eq. 4),
plus the optional feature-matching (pix2pixHD) and structural-similarity terms.

Only the losses live here; the trainer runs the networks, so that it can route them through
DistributedDataParallel, autocast and augmentation without the objective knowing.
"""

from __future__ import annotations

import torch
from torch import nn

from sketch2face.config import TrainParams
from sketch2face.models.discriminator import Judgement, logits
from sketch2face.models.losses import GanLoss, feature_matching_loss, ssim_loss

PIX2PIX_LOSSES = ("loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake")
FEATURE_MATCHING, SSIM, HINT_FREE = "loss_G_FM", "loss_G_SSIM", "loss_G_hint_free"


class Pix2PixObjective(nn.Module):
    def __init__(self, params: TrainParams) -> None:
        super().__init__()
        self.gan_loss = GanLoss(params.gan_loss)
        self.l1_loss = nn.L1Loss()
        self.lambda_l1 = params.lambda_l1
        self.lambda_feature_matching = params.lambda_feature_matching
        self.lambda_ssim = params.lambda_ssim
        self.hint_free_pass = bool(params.hints) and params.hint_free_pass

    @property
    def matches_features(self) -> bool:
        return self.lambda_feature_matching > 0

    @property
    def loss_names(self) -> tuple[str, ...]:
        """Every loss a step logs, in the order it logs them."""
        switches = (
            (FEATURE_MATCHING, self.matches_features),
            (SSIM, self.lambda_ssim > 0),
            (HINT_FREE, self.hint_free_pass),
        )
        optional = [name for name, on in switches if on]
        return (*PIX2PIX_LOSSES[:2], *optional, *PIX2PIX_LOSSES[2:])

    def _adversarial(self, judgement: Judgement, target_is_real: bool) -> torch.Tensor:
        """The GAN loss, averaged over the discriminator's scales."""
        terms = [self.gan_loss(patch_logits, target_is_real) for patch_logits in logits(judgement)]
        return sum(terms) / len(terms)

    def discriminator_loss(self, real: Judgement, fake: Judgement) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Real pairs -> 1, generated pairs -> 0; halved so D learns slower than G (as in pix2pix)."""
        loss_real = self._adversarial(real, True)
        loss_fake = self._adversarial(fake, False)
        return 0.5 * (loss_real + loss_fake), {"loss_D_real": loss_real, "loss_D_fake": loss_fake}

    def generator_loss(
        self, judged: Judgement, fake: torch.Tensor, target: torch.Tensor, real_features: Judgement | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fool D on the pair, stay close to the real target in L1 (and in D's features and SSIM, when weighted)."""
        loss_gan = self._adversarial(judged, True)
        loss_l1 = self.l1_loss(fake.float(), target)
        total = loss_gan + self.lambda_l1 * loss_l1
        logs = {"loss_G_GAN": loss_gan, "loss_G_L1": loss_l1}
        if self.matches_features:
            logs[FEATURE_MATCHING] = feature_matching_loss(judged, real_features)
            total = total + self.lambda_feature_matching * logs[FEATURE_MATCHING]
        if self.lambda_ssim > 0:
            logs[SSIM] = ssim_loss(fake, target)
            total = total + self.lambda_ssim * logs[SSIM]
        return total, logs

    def hint_free_loss(self, bare: torch.Tensor, target: torch.Tensor, share: float) -> torch.Tensor:
        """L1 and SSIM terms of the photos generated without hints, weighted by the share of the batch they are."""
        loss = self.lambda_l1 * self.l1_loss(bare.float(), target)
        if self.lambda_ssim > 0:
            loss = loss + self.lambda_ssim * ssim_loss(bare, target)
        return share * loss
