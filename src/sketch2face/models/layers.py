"""Building blocks shared by the generators and the discriminators."""

from __future__ import annotations

from torch import nn

from sketch2face.config import NormKind, Upsample


def norm_layer(kind: NormKind, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def upsampling(
    kind: Upsample, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, output_padding: int = 0
) -> list[nn.Module]:
    """x2 upsampling: a stride-2 transposed convolution (pix2pix), or a nearest-neighbour resize then a 3x3 convolution.

    A stride-2 transposed convolution adds its kernel's overlaps unevenly, which paints a
    checkerboard over the output; resizing first spreads every input evenly (Odena et al. 2016).
    """
    if kind == "transposed":
        return [nn.ConvTranspose2d(in_channels, out_channels, kernel_size, 2, 1, output_padding, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)]


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
