"""The pix2pix U-Net generator, whose depth follows the image size.

An S x S input is halved log2(S) times down to 1 x 1, then upsampled back with a skip
connection from each encoder level to its mirror decoder level (Isola et al. 2017, fig. 3).
The generator file carries its `GeneratorConfig`, so loading never depends on outside flags.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from sketch2face.models.layers import NormKind, conv_bias, init_weights, norm_layer

MAX_WIDTH_MULTIPLIER = 8
FIRST_DROPOUT_DEPTH = 4  # the 8*ngf decoder levels below the first 8*ngf level, as in pix2pix


@dataclass(frozen=True)
class GeneratorConfig:
    image_size: int
    input_channels: int = 3
    output_channels: int = 3
    ngf: int = 64
    norm: NormKind = "batch"
    dropout: bool = True

    @property
    def depth(self) -> int:
        depth = int(math.log2(self.image_size))
        if 2**depth != self.image_size or depth < 2:
            raise ValueError(f"U-Net image_size must be a power of two >= 4, got {self.image_size}")
        return depth


class UnetGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        depth, bias = config.depth, conv_bias(config.norm)
        widths = [config.ngf * min(2**level, MAX_WIDTH_MULTIPLIER) for level in range(depth)]

        self.encoder = nn.ModuleList()
        for level in range(depth):
            in_channels = config.input_channels if level == 0 else widths[level - 1]
            layers: list[nn.Module] = [] if level == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_channels, widths[level], 4, stride=2, padding=1, bias=bias))
            if 0 < level < depth - 1:
                layers.append(norm_layer(config.norm, widths[level]))
            self.encoder.append(nn.Sequential(*layers))

        self.decoder = nn.ModuleList()
        for level in range(depth):
            innermost = level == depth - 1
            in_channels = widths[level] if innermost else 2 * widths[level]
            if level == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(in_channels, config.output_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [
                    nn.ReLU(),
                    nn.ConvTranspose2d(in_channels, widths[level - 1], 4, stride=2, padding=1, bias=bias),
                    norm_layer(config.norm, widths[level - 1]),
                ]
                if config.dropout and FIRST_DROPOUT_DEPTH <= level < depth - 1:
                    layers.append(nn.Dropout(0.5))
            self.decoder.append(nn.Sequential(*layers))
        init_weights(self)

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        skips = []
        features = sketch
        for block in self.encoder:
            features = block(features)
            skips.append(features)
        features = self.decoder[-1](skips[-1])
        for level in range(len(self.decoder) - 2, -1, -1):
            features = self.decoder[level](torch.cat([skips[level], features], dim=1))
        return features


def save_generator(generator: UnetGenerator, path: Path) -> None:
    """Writes weights and config together, atomically."""
    from sketch2face.io import atomic_path

    with atomic_path(path) as temporary:
        torch.save({"config": asdict(generator.config), "state_dict": generator.state_dict()}, temporary)


def load_generator(path: Path | str, map_location: str | torch.device = "cpu") -> UnetGenerator:
    """Rebuilds the generator from the config stored in its own file."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    generator = UnetGenerator(GeneratorConfig(**payload["config"]))
    generator.load_state_dict(payload["state_dict"])
    return generator
