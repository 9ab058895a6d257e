"""Building blocks shared by the generators and the discriminators."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sketch2face.config import NormKind

GEMM_MAX_POSITIONS = 64
"""A convolution whose weight is applied at no more positions than this (batch included) runs as a
matrix product on the CPU. benchmarks/gemm_convolutions.py, 256 px U-Net, batch 1: at 64 positions
and below the GEMM is faster at every level in bf16 and at all but one in fp32 (4 positions); from
256 positions on oneDNN is faster, except at the thin outermost levels (1 input or 3 output
channels), which are left to oneDNN (about 1% of a step)."""


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


def gemm_applies(layer: nn.Conv2d | nn.ConvTranspose2d, features: torch.Tensor) -> bool:
    """Whether the GEMM path can compute this call at all; anything else is left to PyTorch.

    It needs a CPU batch (N, C, H, W), numeric zero padding ('same'/'valid' are strings) and no groups.
    """
    return (
        features.device.type == "cpu"
        and features.ndim == 4
        and layer.groups == 1
        and layer.padding_mode == "zeros"
        and not isinstance(layer.padding, str)
    )


def add_bias(output: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Adds the per-channel bias in the output's dtype, as nn.Conv2d does under autocast."""
    return output if bias is None else output + bias.to(output.dtype).view(1, -1, 1, 1)


class GemmConv2d(nn.Conv2d):
    """nn.Conv2d that, on the CPU, runs as one matrix product when its output map is tiny.

    In the U-Net's inner levels a 512x512x4x4 weight meets a few dozen output positions. oneDNN then
    spends most of each forward and backward call re-laying the weight out in its blocked format,
    which costs far more than the arithmetic; a GEMM on the unfolded input reads the weight once.
    Same parameters and state_dict as nn.Conv2d, and the same result up to float rounding.
    """

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not gemm_applies(self, features):
            return super().forward(features)
        batch, _, height, width = features.shape
        out_height, out_width = (
            (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
            for size, pad, dilation, kernel, stride in zip(
                (height, width), self.padding, self.dilation, self.kernel_size, self.stride
            )
        )
        if batch * out_height * out_width > GEMM_MAX_POSITIONS:
            return super().forward(features)
        columns = F.unfold(features, self.kernel_size, self.dilation, self.padding, self.stride)
        output = (self.weight.flatten(1) @ columns).view(batch, self.out_channels, out_height, out_width)
        return add_bias(output, self.bias)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d that, on the CPU, runs as a GEMM plus col2im when its input map is tiny.

    The transposed twin of `GemmConv2d`: each input position is multiplied by the whole
    (in, out*k*k) weight once, and `fold` adds the overlapping k x k contributions into the output.
    """

    def forward(self, features: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or not gemm_applies(self, features):
            return super().forward(features, output_size)
        batch, _, height, width = features.shape
        if batch * height * width > GEMM_MAX_POSITIONS:
            return super().forward(features, output_size)
        out_size = [
            (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + extra + 1
            for size, stride, pad, dilation, kernel, extra in zip(
                (height, width), self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding
            )
        ]
        # positions x in_channels @ in_channels x (out_channels*k*k): the weight is read in its own layout
        columns = (features.flatten(2).transpose(1, 2) @ self.weight.flatten(1)).transpose(1, 2)
        output = F.fold(columns, out_size, self.kernel_size, self.dilation, self.padding, self.stride)
        return add_bias(output, self.bias)
