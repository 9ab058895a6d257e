"""Which network gains from channels-last (NHWC) on this device: training steps with each layout, taken in turns.

    python benchmarks/memory_format.py                           # 256 px, batch 1, ngf 64, fp32 and bf16
    python benchmarks/memory_format.py --size 64 --batch 4 --ngf 32 --precision fp32   # the demo's step

Three trainers with the same weights differ only in layout: both networks NCHW, only the
discriminator NHWC, both NHWC. They take one step each in turn within one process, so a shared
machine's slow spells hit all three alike; each row is the median of `--steps` timed steps.
`sketch2face.training.device.memory_formats` is the choice these figures support.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sketch2face.config import TrainParams
from sketch2face.inference import DEVICE_CHOICES
from sketch2face.training.device import MemoryFormats, configure_backends, memory_formats, resolve_device
from sketch2face.training.step import Pix2PixTrainer

NCHW, NHWC = torch.contiguous_format, torch.channels_last
LAYOUTS = {
    "both NCHW": MemoryFormats(generator=NCHW, discriminator=NCHW),
    "D NHWC": MemoryFormats(generator=NCHW, discriminator=NHWC),
    "both NHWC": MemoryFormats(generator=NHWC, discriminator=NHWC),
}


def trainer_with_layout(params: TrainParams, size: int, device: torch.device, layout: MemoryFormats) -> Pix2PixTrainer:
    trainer = Pix2PixTrainer(params, image_size=size, device=device)
    trainer.generator.to(memory_format=layout.generator)  # in place: the optimisers keep their parameters
    trainer.discriminator.to(memory_format=layout.discriminator)
    return trainer


def median_step_seconds(
    params: TrainParams, size: int, device: torch.device, steps: int, warmup: int
) -> dict[str, float]:
    source = torch.rand(params.batch_size, params.input_channels, size, size, device=device) * 2 - 1
    target = torch.rand(params.batch_size, params.output_channels, size, size, device=device) * 2 - 1
    runs = {  # each layout's trainer and its batch, laid out as the generator takes it
        name: (
            trainer_with_layout(params, size, device, layout),
            (source.contiguous(memory_format=layout.generator), target.contiguous(memory_format=layout.generator)),
        )
        for name, layout in LAYOUTS.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for step in range(warmup + steps):
        for name, (trainer, batch) in runs.items():
            started = time.perf_counter()
            trainer.train_step(*batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step >= warmup:
                seconds[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per layout")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=DEVICE_CHOICES)
    args = parser.parse_args()

    device = resolve_device(args.device)
    configure_backends(device, threads=0)
    chosen = next((name for name, layout in LAYOUTS.items() if layout == memory_formats(device)), "another layout")
    print(f"{args.size} px, batch {args.batch}, ngf {args.ngf}, {device}; training uses '{chosen}'")
    for precision in args.precision:
        params = TrainParams(ngf=args.ngf, ndf=args.ngf, batch_size=args.batch, precision=precision, device=args.device)
        medians = median_step_seconds(params, args.size, device, args.steps, args.warmup)
        baseline = medians["both NCHW"]
        for name, median in medians.items():
            print(
                f"{precision:5} {name:10} {median:.4f} s/step  {args.batch / median:6.2f} images/s  "
                f"x{baseline / median:.3f} vs both NCHW"
            )


if __name__ == "__main__":
    main()
