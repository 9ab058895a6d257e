"""What the speed work bought: the walking pipeline's training step against today's.

    python benchmarks/train_speed_before_after.py               # 256 px, batch 1, ngf 64, 5 rounds
    python benchmarks/train_speed_before_after.py --size 128 --batch 4 --rounds 3

`before` is the step as the first pipeline ran it: plain nn.Conv2d/ConvTranspose2d everywhere
(oneDNN even for the U-Net's 1x1..8x8 levels), both networks NCHW, glibc's default allocator,
for-loop Adam, and D weight gradients computed during the G update and thrown away; on CUDA
(`--device cuda`) also PyTorch's defaults: no TF32 matmuls, no cuDNN autotuning. `reference`
is the same step with D frozen during the G update, as pytorch-CycleGAN-and-pix2pix's
`optimize_parameters` does it (`set_requires_grad(netD, False)`), and on CUDA with the cuDNN
autotuning its BaseModel switches on: the fairest stand-in for the reference implementation.
`after fp32` and `after bf16` are `Pix2PixTrainer.train_step` after `configure_backends`, as
the train stage runs it.

Each variant runs in its own process (the allocator setting is process-wide), and the variants
take turns, round after round, so that a shared machine's slow spells hit them alike. Each process
reports the median of its timed steps; the table shows the median over rounds and every round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from sketch2face.inference import DEVICE_CHOICES
from train_speed import run_child

REFERENCE_SECONDS_PER_IMAGE = 0.52  # pytorch-CycleGAN-and-pix2pix, 256 px, batch 1, as quoted for this CPU
VARIANTS = ("before", "reference", "after fp32", "after bf16")
PLAIN_STEPS = ("before", "reference")  # plain layers, allocator and Adam


def seconds_per_step(variant: str, size: int, batch: int, ngf: int, steps: int, device_kind: str) -> float:
    import torch
    from torch import nn

    from sketch2face.config import TrainParams
    from sketch2face.models.layers import GemmConv2d, GemmConvTranspose2d
    from sketch2face.training.device import configure_backends, resolve_device
    from sketch2face.training.trainer import ADAM_BETA2, Pix2PixTrainer

    device = resolve_device(device_kind)
    precision = "bf16" if variant == "after bf16" else "fp32"
    params = TrainParams(ngf=ngf, ndf=ngf, batch_size=batch, precision=precision, device=device_kind)
    if variant not in PLAIN_STEPS:
        configure_backends(device, params.threads)
    trainer = Pix2PixTrainer(params, image_size=size, device=device)
    step = trainer.train_step
    if variant in PLAIN_STEPS:
        for layer in trainer.generator.modules():  # same parameters, so swapping the class back suffices
            if isinstance(layer, GemmConv2d):
                layer.__class__ = nn.Conv2d
            elif isinstance(layer, GemmConvTranspose2d):
                layer.__class__ = nn.ConvTranspose2d
        trainer.generator.to(memory_format=torch.contiguous_format)  # channels-last on CUDA
        trainer.discriminator.to(memory_format=torch.contiguous_format)
        betas = (params.beta1, ADAM_BETA2)
        trainer.optimizer_g = torch.optim.Adam(trainer.generator.parameters(), lr=params.lr, betas=betas, foreach=False)
        trainer.optimizer_d = torch.optim.Adam(trainer.discriminator.parameters(), lr=params.lr, betas=betas, foreach=False)
        reference = variant == "reference"
        torch.backends.cudnn.benchmark = reference  # as the reference's BaseModel sets it; no effect on the CPU
        step = lambda source, target: plain_step(trainer, source, target, reference)  # noqa: E731
    layout = trainer.memory_formats.generator if variant not in PLAIN_STEPS else torch.contiguous_format
    source = (torch.rand(batch, params.input_channels, size, size, device=device) * 2 - 1).contiguous(memory_format=layout)
    target = (torch.rand(batch, params.output_channels, size, size, device=device) * 2 - 1).contiguous(memory_format=layout)
    for _ in range(3):  # warm-up: oneDNN primitive caches or cuDNN autotuning, allocator
        step(source, target)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step(source, target)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def plain_step(trainer, source, target, freeze_discriminator: bool) -> None:
    fake = trainer.generator(source)
    trainer.optimizer_d.zero_grad(set_to_none=True)
    loss_d, _ = trainer.objective.discriminator_loss(
        trainer.discriminator(source, target), trainer.discriminator(source, fake.detach())
    )
    loss_d.backward()
    trainer.optimizer_d.step()
    trainer.discriminator.requires_grad_(not freeze_discriminator)
    trainer.optimizer_g.zero_grad(set_to_none=True)
    loss_g, _ = trainer.objective.generator_loss(trainer.discriminator(source, fake), fake, target)
    loss_g.backward()
    trainer.optimizer_g.step()
    trainer.discriminator.requires_grad_(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per process")
    parser.add_argument("--rounds", type=int, default=5, help="processes per variant, taking turns")
    parser.add_argument("--device", default="cpu", choices=DEVICE_CHOICES)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()

    if args.variant:
        print(json.dumps(seconds_per_step(args.variant, args.size, args.batch, args.ngf, args.steps, args.device)))
        return

    rounds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            command = [sys.executable, __file__, "--variant", variant, "--size", str(args.size), "--batch", str(args.batch),
                       "--ngf", str(args.ngf), "--steps", str(args.steps), "--device", args.device]
            rounds[variant].append(json.loads(run_child(command)))
    print(f"{args.size} px, batch {args.batch}, ngf {args.ngf}, {args.device}, {args.rounds} rounds x {args.steps} steps")
    before, reference = statistics.median(rounds["before"]), statistics.median(rounds["reference"])
    for variant, values in rounds.items():
        median = statistics.median(values)
        print(f"{variant:11} {median:.3f} s/step  {args.batch / median:5.2f} images/s  x{before / median:.2f} vs before  "
              f"x{reference / median:.2f} vs reference   rounds: {' '.join(f'{value:.3f}' for value in values)}")
    if (args.size, args.batch, args.ngf, args.device) == (256, 1, 64, "cpu"):
        print(f"quoted reference {REFERENCE_SECONDS_PER_IMAGE} s/image = {1 / REFERENCE_SECONDS_PER_IMAGE:.2f} images/s; "
              f"1.5x = {1.5 / REFERENCE_SECONDS_PER_IMAGE:.2f} images/s")


if __name__ == "__main__":
    main()
