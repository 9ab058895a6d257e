"""What the speed work bought: the walking pipeline's training step against today's.

    python benchmarks/train_speed_before_after.py               # 256 px, batch 1, ngf 64, 5 rounds
    python benchmarks/train_speed_before_after.py --size 128 --batch 4 --rounds 3
    python benchmarks/train_speed_before_after.py --reference-checkout ~/src/pytorch-CycleGAN-and-pix2pix

`before` is the step as the first pipeline ran it: plain nn.Conv2d/ConvTranspose2d everywhere
(oneDNN even for the U-Net's 1x1..8x8 levels), both networks NCHW, glibc's default allocator,
for-loop Adam, and D weight gradients computed during the G update and thrown away; on CUDA
(`--device cuda`) also PyTorch's defaults: no TF32 matmuls, no cuDNN autotuning. `reference`
is the same step with D frozen during the G update, as pytorch-CycleGAN-and-pix2pix's
`optimize_parameters` does it (`set_requires_grad(netD, False)`), and on CUDA with the cuDNN
autotuning its BaseModel switches on: a stand-in for the reference implementation built from
this project's networks (on the CPU it times within a few percent of the real one).
`after fp32` and `after bf16` are `Pix2PixTrainer.train_step` after `configure_backends`, as
the train stage runs it.

`--reference-checkout` adds the reference project itself: a clone of
pytorch-CycleGAN-and-pix2pix (its `models/` package, 2019 or later layout) whose
`Pix2PixModel.optimize_parameters` is timed as its train.py calls it, with its own networks
(`unet_128` or `unet_256`, 70x70 PatchGAN, batch norm), Adam and update order, on the same
channels (sketch in, photo out) and random batches. Nothing of it is copied here; without the
option that row is left out.

Each variant runs in its own process (the allocator setting is process-wide), and the variants
take turns, round after round, so that a shared machine's slow spells hit them alike. Each process
reports the median of its timed steps; the table shows the median over rounds and every round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from train_speed import QUOTED_REFERENCE, run_child

from sketch2face.inference import DEVICE_CHOICES

REFERENCE_PROJECT = "pytorch-CycleGAN-and-pix2pix"
VARIANTS = ("before", "reference", "after fp32", "after bf16")
PLAIN_STEPS = ("before", "reference")  # plain layers, allocator and Adam
REFERENCE_PROJECT_SIZES = (128, 256)  # its U-Nets: unet_128 and unet_256


def seconds_per_step(
    variant: str, size: int, batch: int, ngf: int, steps: int, device_kind: str, checkout: Path | None
) -> float:
    import torch

    from sketch2face.config import TrainParams
    from sketch2face.training.device import resolve_device

    device = resolve_device(device_kind)
    precision = "bf16" if variant == "after bf16" else "fp32"
    params = TrainParams(ngf=ngf, ndf=ngf, batch_size=batch, precision=precision, device=device_kind)
    if variant == REFERENCE_PROJECT:
        step, layout = reference_project_step(checkout, params, size, device), torch.contiguous_format
    else:
        step, layout = sketch2face_step(variant, params, size, device)
    source = (torch.rand(batch, params.input_channels, size, size, device=device) * 2 - 1).contiguous(
        memory_format=layout
    )
    target = (torch.rand(batch, params.output_channels, size, size, device=device) * 2 - 1).contiguous(
        memory_format=layout
    )
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


def sketch2face_step(variant: str, params, size: int, device) -> tuple[Callable, object]:
    """This project's step as the variant runs it, and the memory layout its batches come in."""
    import torch
    from torch import nn

    from sketch2face.models.cpu import GemmConv2d, GemmConvTranspose2d
    from sketch2face.training.device import configure_backends
    from sketch2face.training.step import ADAM_BETA2, Pix2PixTrainer

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
        trainer.optimizer_d = torch.optim.Adam(
            trainer.discriminator.parameters(), lr=params.lr, betas=betas, foreach=False
        )
        reference = variant == "reference"
        torch.backends.cudnn.benchmark = reference  # as the reference's BaseModel sets it; no effect on the CPU
        step = lambda source, target: plain_step(trainer, source, target, reference)  # noqa: E731
    layout = trainer.memory_formats.generator if variant not in PLAIN_STEPS else torch.contiguous_format
    return step, layout


def reference_project_step(checkout: Path, params, size: int, device) -> Callable:
    """pytorch-CycleGAN-and-pix2pix's own training step, from a clone of it, with this run's shapes.

    The options are the ones its train.py gives pix2pix (the paper's settings), written out because
    its option parser would also want a dataset on disk.
    """
    sys.path.insert(0, str(checkout))
    from models.pix2pix_model import Pix2PixModel

    options = argparse.Namespace(
        isTrain=True,
        gpu_ids=[device.index or 0] if device.type == "cuda" else [],
        name="speed",
        checkpoints_dir=tempfile.gettempdir(),
        preprocess="resize_and_crop",  # nothing is saved there
        input_nc=params.input_channels,
        output_nc=params.output_channels,
        ngf=params.ngf,
        ndf=params.ndf,
        netG=f"unet_{size}",
        netD="basic",
        n_layers_D=3,
        norm="batch",
        no_dropout=False,
        init_type="normal",
        init_gain=0.02,
        pool_size=0,
        gan_mode="vanilla",
        lr=params.lr,
        beta1=params.beta1,
        lambda_L1=params.lambda_l1,
        direction="AtoB",
    )
    model = Pix2PixModel(options)

    def step(source, target) -> None:
        model.set_input({"A": source, "B": target, "A_paths": [], "B_paths": []})
        model.optimize_parameters()

    return step


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
    parser.add_argument(
        "--reference-checkout", type=Path, metavar="PATH", help=f"a clone of {REFERENCE_PROJECT}: time its own step too"
    )
    parser.add_argument("--variant", choices=(*VARIANTS, REFERENCE_PROJECT), help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    checkout = args.reference_checkout and args.reference_checkout.expanduser().resolve()

    if args.variant:
        print(
            json.dumps(
                seconds_per_step(args.variant, args.size, args.batch, args.ngf, args.steps, args.device, checkout)
            )
        )
        return

    variants = VARIANTS
    if checkout:
        if not (checkout / "models" / "pix2pix_model.py").is_file():
            parser.error(f"--reference-checkout {checkout}: no models/pix2pix_model.py there")
        if args.size not in REFERENCE_PROJECT_SIZES:
            parser.error(
                f"--reference-checkout needs --size {' or '.join(map(str, REFERENCE_PROJECT_SIZES))}, "
                f"the reference's U-Nets (got {args.size})"
            )
        variants = (REFERENCE_PROJECT, *VARIANTS)
    rounds: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(args.rounds):
        for variant in variants:
            command = [
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--size",
                str(args.size),
                "--batch",
                str(args.batch),
                "--ngf",
                str(args.ngf),
                "--steps",
                str(args.steps),
                "--device",
                args.device,
            ]
            if checkout:
                command += ["--reference-checkout", str(checkout)]
            rounds[variant].append(json.loads(run_child(command)))
    print(
        f"{args.size} px, batch {args.batch}, ngf {args.ngf}, {args.device}, {args.rounds} rounds x {args.steps} steps"
    )
    baselines = {
        name: statistics.median(rounds[name]) for name in ("before", "reference", REFERENCE_PROJECT) if name in rounds
    }
    for variant, values in rounds.items():
        median = statistics.median(values)
        ratios = "  ".join(f"x{baseline / median:.2f} vs {name}" for name, baseline in baselines.items())
        print(
            f"{variant:28} {median:.3f} s/step  {args.batch / median:5.2f} images/s  {ratios}   "
            f"rounds: {' '.join(f'{value:.3f}' for value in values)}"
        )
    if (args.size, args.batch, args.ngf, args.device) == (256, 1, 64, "cpu"):
        print(QUOTED_REFERENCE)


if __name__ == "__main__":
    main()
