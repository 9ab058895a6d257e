"""pix2pix generators: the U-Net whose depth follows the image size, and the ResNet.

`unet`: an S x S input is halved log2(S) times down to 1 x 1, then upsampled back with a skip
connection from each encoder level to its mirror decoder level (Isola et al. 2017, fig. 3).
`resnet`: two stride-2 downsamplings, 6 or 9 residual blocks, two upsamplings (Johnson et al.
2016), the other generator of pytorch-CycleGAN-and-pix2pix.

The generator file carries its whole `GeneratorConfig` and the preprocessing its training data
went through, so loading and predicting rebuild any variant without outside flags and without a
state_dict mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sketch2face.config import (
    HINT_NAMES,
    Direction,
    GeneratorKind,
    HintInjection,
    NormKind,
    TrainParams,
    Upsample,
)
from sketch2face.io import write_torch
from sketch2face.models.hints import HintFilm, as_planes, encode_hints, hint_channels
from sketch2face.models.layers import conv_bias, init_weights, norm_layer, upsampling

MAX_WIDTH_MULTIPLIER = 8
FIRST_DROPOUT_DEPTH = 4  # the 8*ngf decoder levels below the first 8*ngf level, as in pix2pix
DROPOUT = 0.5
RESNET_DOWNSAMPLINGS = 2
SKETCH_TO_PHOTO = "sketch_to_photo"
INFERENCE_KEY, RUNNING_STATS = "inference", "running_stats"  # how a generator file says it is run
IMAGE_STATS, TEST_BATCH, AUTO = "image_stats", "test_batch", "auto"


@dataclass(frozen=True)
class GeneratorConfig:
    image_size: int
    input_channels: int = TrainParams.default("input_channels")
    output_channels: int = TrainParams.default("output_channels")
    ngf: int = TrainParams.default("ngf")
    norm: NormKind = TrainParams.default("norm")
    dropout: bool = TrainParams.default("dropout")
    # Fields added later default to what the files written before them meant, whatever params say now.
    architecture: GeneratorKind = "unet"
    resnet_blocks: int = 9
    direction: Direction = SKETCH_TO_PHOTO  # which half of an AB pair the input is
    upsample: Upsample = "transposed"
    hints: tuple[str, ...] = ()  # appearance hints it takes, in the order of its hint vector
    hint_injection: HintInjection = "channels"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hints", tuple(self.hints))  # a list once it went through JSON (MLflow metadata)
        unknown = [name for name in self.hints if name not in HINT_NAMES]
        if unknown:
            raise ValueError(f"unknown hints {unknown}; a generator may take {list(HINT_NAMES)}")

    @classmethod
    def from_params(cls, params: TrainParams, image_size: int) -> GeneratorConfig:
        return cls(
            image_size=image_size,
            input_channels=params.input_channels,
            output_channels=params.output_channels,
            ngf=params.ngf,
            norm=params.norm,
            dropout=params.dropout,
            architecture=params.generator,
            resnet_blocks=params.resnet_blocks,
            direction=params.direction,
            upsample=params.upsample,
            hints=params.hints,
            hint_injection=params.hint_injection,
        )

    @property
    def hint_input_channels(self) -> int:
        """Extra input planes: the hint vector, when it enters as channels."""
        return hint_channels(self.hints) if self.hint_injection == "channels" else 0

    @property
    def depth(self) -> int:
        """U-Net levels: one per halving of the image down to 1 x 1."""
        depth = int(math.log2(self.image_size))
        if 2**depth != self.image_size or depth < 2:
            raise ValueError(f"U-Net image_size must be a power of two >= 4, got {self.image_size}")
        return depth


def _hinted_input(
    config: GeneratorConfig, sketch: torch.Tensor, hints: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first layer's input (the sketch, plus hint planes with `channels`) and the hint vector (None without hints).

    `hints` is (N, len(config.hints), 3) CIELAB with NaN rows for absent hints; None: all absent.
    """
    if not config.hints:
        if hints is not None:
            raise ValueError("this generator was trained without hints")
        return sketch, None
    vector = encode_hints(hints, len(config.hints), len(sketch), sketch.device)
    if config.hint_injection == "channels":
        return torch.cat([sketch, as_planes(vector, sketch)], dim=1), vector
    return sketch, vector


def _film(config: GeneratorConfig, channels: int) -> HintFilm | None:
    return HintFilm(hint_channels(config.hints), channels) if config.hints and config.hint_injection == "film" else None


class UnetGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        depth, bias = config.depth, conv_bias(config.norm)
        widths = [config.ngf * min(2**level, MAX_WIDTH_MULTIPLIER) for level in range(depth)]

        self.encoder = nn.ModuleList()
        for level in range(depth):
            in_channels = config.input_channels + config.hint_input_channels if level == 0 else widths[level - 1]
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
                layers = [nn.ReLU(), *upsampling(config.upsample, in_channels, config.output_channels, 4), nn.Tanh()]
            else:
                layers = [
                    nn.ReLU(),
                    *upsampling(config.upsample, in_channels, widths[level - 1], 4, bias),
                    norm_layer(config.norm, widths[level - 1]),
                ]
                if config.dropout and FIRST_DROPOUT_DEPTH <= level < depth - 1:
                    layers.append(nn.Dropout(DROPOUT))
            self.decoder.append(nn.Sequential(*layers))
        self.film = _film(config, widths[-1])  # at the 1 x 1 bottleneck
        init_weights(self)

    def forward(self, sketch: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        skips = []
        features, hint_vector = _hinted_input(self.config, sketch, hints)
        for block in self.encoder:
            features = block(features)
            skips.append(features)
        if self.film is not None:
            skips[-1] = self.film(skips[-1], hint_vector)
        features = self.decoder[-1](skips[-1])
        for level in range(len(self.decoder) - 2, -1, -1):
            features = self.decoder[level](torch.cat([skips[level], features], dim=1))
        return features


class ResidualBlock(nn.Module):
    """x + F(x), F = reflect-pad, conv 3x3, norm, ReLU, [dropout], reflect-pad, conv 3x3, norm."""

    def __init__(self, channels: int, norm: NormKind, dropout: bool) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(),
        ]
        if dropout:
            layers.append(nn.Dropout(DROPOUT))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.body(features)


class ResnetGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        if config.image_size % 2**RESNET_DOWNSAMPLINGS:
            raise ValueError(f"resnet image_size must be a multiple of 4, got {config.image_size}")
        self.config = config
        norm, bias, width = config.norm, conv_bias(config.norm), config.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(config.input_channels + config.hint_input_channels, width, 7, bias=bias),
            norm_layer(norm, width),
            nn.ReLU(),
        ]
        for _ in range(RESNET_DOWNSAMPLINGS):
            layers += [
                nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=bias),
                norm_layer(norm, 2 * width),
                nn.ReLU(),
            ]
            width *= 2
        self.bottleneck = len(layers)  # where FiLM modulates: after the downsamplings
        self.film = _film(config, width)
        layers += [ResidualBlock(width, norm, config.dropout) for _ in range(config.resnet_blocks)]
        for _ in range(RESNET_DOWNSAMPLINGS):
            layers += [
                *upsampling(config.upsample, width, width // 2, 3, bias, output_padding=1),
                norm_layer(norm, width // 2),
                nn.ReLU(),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, config.output_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, sketch: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        features, hint_vector = _hinted_input(self.config, sketch, hints)
        if self.film is None:
            return self.model(features)
        features = self.film(self.model[: self.bottleneck](features), hint_vector)
        return self.model[self.bottleneck :](features)


Generator = UnetGenerator | ResnetGenerator
GENERATORS: dict[str, type[Generator]] = {"unet": UnetGenerator, "resnet": ResnetGenerator}


def build_generator(config: GeneratorConfig) -> Generator:
    return GENERATORS[config.architecture](config)


def to_model_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of the generator's tanh output."""
    return pixels.to(torch.float32, copy=True).div_(127.5).sub_(1.0)  # a copy: the caller's tensor stays


def to_pixels(values: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding to the nearest level."""
    return values.add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


def save_generator(generator: Generator, path: Path, preprocessing: Mapping[str, Any]) -> None:
    """Writes weights, config and how the training sketches were prepared (for prediction), atomically."""
    payload = {"config": asdict(generator.config), "state_dict": generator.state_dict()}
    write_torch(path, {**payload, "preprocessing": dict(preprocessing)})


def load_generator_file(path: Path | str, map_location: str | torch.device = "cpu") -> tuple[Generator, dict[str, Any]]:
    """The generator, whatever its variant, and the preprocessing stored with it ({} for older files)."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    generator = build_generator(GeneratorConfig(**payload["config"]))
    generator.load_state_dict(payload["state_dict"])
    return generator, payload.get("preprocessing", {})


def load_generator(path: Path | str, map_location: str | torch.device = "cpu") -> Generator:
    """Rebuilds the generator from the config stored in its own file."""
    return load_generator_file(path, map_location)[0]
