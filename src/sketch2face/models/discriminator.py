"""Conditional discriminators: they judge a (sketch, photo) pair, patch by patch, as real or fake.

`patch` with `n_layers=3` gives each output logit a 70 x 70 receptive field on the concatenated
pair (Isola et al. 2017, sec. 3.2.2): it models high frequencies, leaving low ones to the L1
loss. `pixel` (1 x 1 PixelGAN) judges single pixels: colour only, no texture. With `scales` > 1,
copies of the same architecture judge the pair at 1/2 and 1/4 size too (pix2pixHD, Wang et al.
2018), so coarse structure is judged as well; every scale returns the features of each of its
blocks, the patch logits last, for the feature-matching loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sketch2face.config import DiscriminatorKind, NormKind, TrainParams
from sketch2face.models.layers import conv_bias, init_weights, norm_layer

NEGATIVE_SLOPE = 0.2
MAX_WIDTH_MULTIPLIER = 8
Judgement = list[list[torch.Tensor]]  # per scale: the features of each block, the patch logits last


@dataclass(frozen=True)
class DiscriminatorConfig:
    input_channels: int  # sketch channels + photo channels
    ndf: int = TrainParams.default("ndf")
    n_layers: int = TrainParams.default("n_layers_d")
    norm: NormKind = TrainParams.default("norm")
    architecture: DiscriminatorKind = TrainParams.default("discriminator")
    scales: int = TrainParams.default("discriminator_scales")
    spectral_norm: bool = TrainParams.default("spectral_norm")

    @classmethod
    def from_params(cls, params: TrainParams) -> DiscriminatorConfig:
        """D sees the input and the output stacked: their channels add up."""
        return cls(
            input_channels=params.input_channels + params.output_channels,
            ndf=params.ndf,
            n_layers=params.n_layers_d,
            norm=params.norm,
            architecture=params.discriminator,
            scales=params.discriminator_scales,
            spectral_norm=params.spectral_norm,
        )


class SingleScaleDiscriminator(nn.Module):
    """One PatchGAN (or PixelGAN) as a sequence of blocks whose outputs are all returned."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        blocks = patch_blocks(config) if config.architecture == "patch" else pixel_blocks(config)
        self.blocks = nn.ModuleList(nn.Sequential(*block) for block in blocks)

    def forward(self, pair: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            pair = block(pair)
            features.append(pair)
        return features


class ConditionalDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.scales = nn.ModuleList(SingleScaleDiscriminator(config) for _ in range(config.scales))
        init_weights(self)
        if config.spectral_norm:
            for layer in list(self.modules()):
                if isinstance(layer, nn.Conv2d):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, sketch: torch.Tensor, photo: torch.Tensor) -> Judgement:
        """Per scale, the block features and patch logits for the conditional pair (the sketch is always evidence)."""
        pair = torch.cat([sketch, photo], dim=1)
        judgement = []
        for index, scale in enumerate(self.scales):
            if index:
                pair = F.avg_pool2d(pair, 3, stride=2, padding=1, count_include_pad=False)
            judgement.append(scale(pair))
        return judgement


def logits(judgement: Judgement) -> list[torch.Tensor]:
    """The patch logits of every scale."""
    return [features[-1] for features in judgement]


def patch_blocks(config: DiscriminatorConfig) -> list[list[nn.Module]]:
    bias = conv_bias(config.norm)
    blocks: list[list[nn.Module]] = [
        [nn.Conv2d(config.input_channels, config.ndf, 4, stride=2, padding=1), nn.LeakyReLU(NEGATIVE_SLOPE)]
    ]
    width = config.ndf
    for level in range(1, config.n_layers + 1):
        stride = 2 if level < config.n_layers else 1
        next_width = config.ndf * min(2**level, MAX_WIDTH_MULTIPLIER)
        blocks.append(
            [
                nn.Conv2d(width, next_width, 4, stride=stride, padding=1, bias=bias),
                norm_layer(config.norm, next_width),
                nn.LeakyReLU(NEGATIVE_SLOPE),
            ]
        )
        width = next_width
    blocks.append([nn.Conv2d(width, 1, 4, stride=1, padding=1)])
    return blocks


def pixel_blocks(config: DiscriminatorConfig) -> list[list[nn.Module]]:
    return [
        [nn.Conv2d(config.input_channels, config.ndf, 1), nn.LeakyReLU(NEGATIVE_SLOPE)],
        [
            nn.Conv2d(config.ndf, 2 * config.ndf, 1, bias=conv_bias(config.norm)),
            norm_layer(config.norm, 2 * config.ndf),
            nn.LeakyReLU(NEGATIVE_SLOPE),
        ],
        [nn.Conv2d(2 * config.ndf, 1, 1)],
    ]
