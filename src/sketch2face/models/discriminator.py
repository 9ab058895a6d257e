"""The PatchGAN discriminator: judges overlapping patches of a (sketch, photo) pair as real or fake.

With `n_layers=3` each output logit sees a 70 x 70 patch of the 6-channel concatenation
(Isola et al. 2017, sec. 3.2.2): it models high frequencies, leaving low ones to the L1 loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sketch2face.models.layers import NormKind, conv_bias, init_weights, norm_layer


@dataclass(frozen=True)
class DiscriminatorConfig:
    input_channels: int  # sketch channels + photo channels
    ndf: int = 64
    n_layers: int = 3
    norm: NormKind = "batch"


class PatchDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        bias = conv_bias(config.norm)
        layers: list[nn.Module] = [
            nn.Conv2d(config.input_channels, config.ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        width = config.ndf
        for level in range(1, config.n_layers + 1):
            stride = 2 if level < config.n_layers else 1
            next_width = config.ndf * min(2**level, 8)
            layers += [
                nn.Conv2d(width, next_width, 4, stride=stride, padding=1, bias=bias),
                norm_layer(config.norm, next_width),
                nn.LeakyReLU(0.2),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, sketch: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """Patch logits for the conditional pair (the sketch is always part of the evidence)."""
        return self.model(torch.cat([sketch, photo], dim=1))
