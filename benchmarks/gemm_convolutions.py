"""Where the GEMM path of the U-Net's convolutions pays: oneDNN against unfold/fold + matmul, per level.

    python benchmarks/gemm_convolutions.py                  # 256 px U-Net, ngf 64, batch 1, fp32 and bf16
    python benchmarks/gemm_convolutions.py --batch 4 --precision bf16

For each encoder convolution and decoder transposed convolution of the U-Net at that size, one
forward and backward pass (input and weight gradients, as in training) is timed both ways; the
median of `--repeats` is printed with the number of positions the weight is applied at (batch
included). `sketch2face.models.cpu.GEMM_MAX_POSITIONS` is the crossover these figures show.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from sketch2face.models import cpu
from sketch2face.models.generator import GeneratorConfig, UnetGenerator
from sketch2face.training.device import keep_freed_memory_mapped

ALWAYS = 2**62


def seconds(layer: nn.Module, features: torch.Tensor, precision: str, gemm: bool, repeats: int) -> float:
    """Median wall time of forward + backward, with the GEMM path forced on or off."""
    cpu.GEMM_MAX_POSITIONS = ALWAYS if gemm else 0
    features = features.detach().requires_grad_()
    times = []
    for _ in range(repeats + 1):  # the first call warms oneDNN's primitive cache
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            output = layer(features)
        output.float().sum().backward()
        times.append(time.perf_counter() - started)
        layer.zero_grad(set_to_none=True)
        features.grad = None
    return statistics.median(times[1:])


def unet_levels(size: int, ngf: int, batch: int) -> list[tuple[str, nn.Module, torch.Tensor, int]]:
    """(name, layer, a typical input, positions) for every GEMM-capable layer of the U-Net."""
    generator = cpu.use_cpu_kernels(UnetGenerator(GeneratorConfig(image_size=size, input_channels=1, ngf=ngf)))
    found = []
    for level, block in enumerate(generator.encoder):
        conv = next(module for module in block if isinstance(module, cpu.GemmConv2d))
        side = size >> level
        found.append(
            (f"encoder {level} conv", conv, torch.randn(batch, conv.in_channels, side, side), batch * (side // 2) ** 2)
        )
    for level, block in enumerate(generator.decoder):
        transposed = next(module for module in block if isinstance(module, cpu.GemmConvTranspose2d))
        side = size >> (level + 1)
        found.append(
            (
                f"decoder {level} deconv",
                transposed,
                torch.randn(batch, transposed.in_channels, side, side),
                batch * side**2,
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    keep_freed_memory_mapped()  # as training runs: no page faults on the large weight gradients
    threshold = cpu.GEMM_MAX_POSITIONS
    print(
        f"{args.size} px, ngf {args.ngf}, batch {args.batch}, {torch.get_num_threads()} threads; "
        f"GEMM_MAX_POSITIONS = {threshold}"
    )
    print(f"{'layer':20} {'in -> out':>12} {'positions':>9} {'prec':>5} {'oneDNN ms':>9} {'GEMM ms':>8}  faster")
    for name, layer, features, positions in unet_levels(args.size, args.ngf, args.batch):
        for precision in args.precision:
            onednn = seconds(layer, features, precision, gemm=False, repeats=args.repeats)
            gemm = seconds(layer, features, precision, gemm=True, repeats=args.repeats)
            channels = f"{layer.in_channels}->{layer.out_channels}"
            print(
                f"{name:20} {channels:>12} {positions:>9} {precision:>5} {onednn * 1e3:>9.2f} {gemm * 1e3:>8.2f}  "
                f"{'GEMM' if gemm < onednn else 'oneDNN'}",
                flush=True,
            )
    cpu.GEMM_MAX_POSITIONS = threshold


if __name__ == "__main__":
    main()
