"""Conditional discriminators: they judge a (sketch, photo) pair, patch by patch, as real or fake.

`patch` with `n_layers=3` gives each output logit a 70 x 70 receptive field on the 6-channel
concatenation (Isola et al. 2017, sec. 3.2.2): it models high frequencies, leaving low ones to
the L1 loss. `pixel` (1 x 1 PixelGAN) judges single pixels: colour only, no texture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sketch2face.config import DiscriminatorKind, NormKind, TrainParams
from sketch2face.models.layers import conv_bias, init_weights, norm_layer

NEGATIVE_SLOPE = 0.2
MAX_WIDTH_MULTIPLIER = 8


@dataclass(frozen=True)
class DiscriminatorConfig:
    input_channels: int  # sketch channels + photo channels
    ndf: int = TrainParams.default("ndf")
    n_layers: int = TrainParams.default("n_layers_d")
    norm: NormKind = TrainParams.default("norm")
    architecture: DiscriminatorKind = TrainParams.default("discriminator")

    @classmethod
    def from_params(cls, params: TrainParams) -> DiscriminatorConfig:
        """D sees the input and the output stacked: their channels add up."""
        return cls(
            input_channels=params.input_channels + params.output_channels,
            ndf=params.ndf,
            n_layers=params.n_layers_d,
            norm=params.norm,
            architecture=params.discriminator,
        )


class ConditionalDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        layers = patch_layers(config) if config.architecture == "patch" else pixel_layers(config)
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, sketch: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """Patch logits for the conditional pair (the sketch is always part of the evidence)."""
        return self.model(torch.cat([sketch, photo], dim=1))


def patch_layers(config: DiscriminatorConfig) -> list[nn.Module]:
    bias = conv_bias(config.norm)
    layers: list[nn.Module] = [
        nn.Conv2d(config.input_channels, config.ndf, 4, stride=2, padding=1),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    ]
    width = config.ndf
    for level in range(1, config.n_layers + 1):
        stride = 2 if level < config.n_layers else 1
        next_width = config.ndf * min(2**level, MAX_WIDTH_MULTIPLIER)
        layers += [
            nn.Conv2d(width, next_width, 4, stride=stride, padding=1, bias=bias),
            norm_layer(config.norm, next_width),
            nn.LeakyReLU(NEGATIVE_SLOPE),
        ]
        width = next_width
    layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
    return layers


def pixel_layers(config: DiscriminatorConfig) -> list[nn.Module]:
    return [
        nn.Conv2d(config.input_channels, config.ndf, 1),
        nn.LeakyReLU(NEGATIVE_SLOPE),
        nn.Conv2d(config.ndf, 2 * config.ndf, 1, bias=conv_bias(config.norm)),
        norm_layer(config.norm, 2 * config.ndf),
        nn.LeakyReLU(NEGATIVE_SLOPE),
        nn.Conv2d(2 * config.ndf, 1, 1),
    ]
