"""CPU speed-ups applied to a built model: the U-Net's tiny inner levels as matrix products.

The networks are plain PyTorch modules; `use_cpu_kernels` swaps each convolution of a model that
runs on the CPU for a subclass with the same parameters and state_dict, whose forward computes the
layer as one GEMM when its weight meets only a few positions. Generator files, MLflow models and
every other device never see these classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GEMM_MAX_POSITIONS = 64
"""A convolution whose weight is applied at no more positions than this (batch included) runs as a
matrix product on the CPU. benchmarks/gemm_convolutions.py, 256 px U-Net, batch 1: at 64 positions
and below the GEMM is faster at every level in bf16 and at all but one in fp32 (4 positions); from
256 positions on oneDNN is faster, except at the thin outermost levels (1 input or 3 output
channels), which are left to oneDNN (about 1% of a step)."""


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
                (height, width), self.padding, self.dilation, self.kernel_size, self.stride, strict=True
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
                (height, width),
                self.stride,
                self.padding,
                self.dilation,
                self.kernel_size,
                self.output_padding,
                strict=True,
            )
        ]
        # positions x in_channels @ in_channels x (out_channels*k*k): the weight is read in its own layout
        columns = (features.flatten(2).transpose(1, 2) @ self.weight.flatten(1)).transpose(1, 2)
        output = F.fold(columns, out_size, self.kernel_size, self.dilation, self.padding, self.stride)
        return add_bias(output, self.bias)


CPU_KERNELS: dict[type[nn.Module], type[nn.Module]] = {nn.Conv2d: GemmConv2d, nn.ConvTranspose2d: GemmConvTranspose2d}


def use_cpu_kernels(model: nn.Module) -> nn.Module:
    """Gives every plain convolution of `model` its GEMM twin, in place (parameters untouched); returns it."""
    for layer in model.modules():
        faster = CPU_KERNELS.get(type(layer))
        if faster is not None:
            layer.__class__ = faster
    return model
