"""Building blocks shared by the generators and the discriminators."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sketch2face.config import NormKind

def norm_layer(kind: NormKind, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(kind: NormKind) -> bool:
    """A bias before BatchNorm is redundant (BN has its own shift); instance norm has none."""
    return kind != "batch"


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix initialisation: conv weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)
