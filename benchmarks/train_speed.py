"""Training throughput and peak memory of one pix2pix step (D then G update) on this machine.

    python benchmarks/train_speed.py                        # 64/128/256 px x batch 1/4, fp32
    python benchmarks/train_speed.py --precision fp32 bf16 --sizes 256 --batches 1
    python benchmarks/train_speed.py --sizes 128 --batches 1 --paper --set upsample=resize   # pix2pix + one option

Figures are medians over the timed steps; `cpu s/img` is the process's CPU time per image: on a shared, busy machine it varies much less
than the wall-clock figures. Each configuration runs in its own process so that peak memory (RSS on the CPU,
max_memory_allocated on CUDA) belongs to that configuration alone. The networks are the paper's
(U-Net depth log2(S), ngf = ndf = 64, 70x70 PatchGAN), trained with the `train` defaults (the
recommended recipe) or, with `--paper`, as pix2pix was published; data are random tensors in memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from sketch2face.config import PAPER_PIX2PIX
from sketch2face.inference import DEVICE_CHOICES

REFERENCE_SECONDS_PER_IMAGE = 0.52  # pytorch-CycleGAN-and-pix2pix, 256 px, batch 1, as quoted for this 2-core CPU
QUOTED_REFERENCE = (
    f"quoted reference pytorch-CycleGAN-and-pix2pix, 256 px, batch 1, the 2-core development CPU: "
    f"{1 / REFERENCE_SECONDS_PER_IMAGE:.2f} images/s; target 1.5x = {1.5 / REFERENCE_SECONDS_PER_IMAGE:.2f}"
)


def measure(
    size: int, batch: int, precision: str, steps: int, warmup: int, ngf: int, device_kind: str, overrides: dict
) -> dict:
    import torch

    from sketch2face.config import TrainParams
    from sketch2face.training.device import configure_backends, resolve_device
    from sketch2face.training.step import Pix2PixTrainer

    device = resolve_device(device_kind)
    params = TrainParams(ngf=ngf, ndf=ngf, batch_size=batch, precision=precision, device=device_kind, **overrides)
    configure_backends(device, params.threads)
    trainer = Pix2PixTrainer(params, image_size=size, device=device)
    source = torch.rand(batch, params.input_channels, size, size, device=device) * 2 - 1
    target = torch.rand(batch, params.output_channels, size, size, device=device) * 2 - 1
    for _ in range(warmup):
        trainer.train_step(source, target)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    step_seconds = []
    cpu_started = time.process_time()
    for _ in range(steps):
        started = time.perf_counter()
        trainer.train_step(source, target)
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - started)
    cpu_seconds = time.process_time() - cpu_started
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = statistics.median(step_seconds)  # robust to bursts of load from other processes
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": size,
        "batch": batch,
        "precision": precision,
        "images_per_second": round(batch / seconds, 3),
        "seconds_per_step": round(seconds, 4),
        "cpu_seconds_per_image": round(cpu_seconds / (steps * batch), 4),
        "peak_memory_mib": round(peak_mib, 1),
    }


def train_overrides(settings: list[str]) -> dict:
    """`KEY=VALUE` strings as typed train params; values are read as YAML, as `dvc exp run -S` reads them."""
    from ruamel.yaml import YAML

    overrides = {}
    for setting in settings:
        key, separator, value = setting.partition("=")
        if not separator:
            raise SystemExit(f"--set takes KEY=VALUE, got {setting!r}")
        overrides[key] = YAML(typ="safe").load(value)
    return overrides


def run_child(command: list[str]) -> str:
    """The last stdout line of a child run; its stderr becomes the error if it fails."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{result.stderr}")
    return result.stdout.splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per configuration (the median counts)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ngf", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other train param, e.g. ema_decay=0.995 or augment_d=[translation,cutout]",
    )
    parser.add_argument("--paper", action="store_true", help="pix2pix as published: the options beyond it off")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child mode: one configuration
    args = parser.parse_args()
    overrides = {**(PAPER_PIX2PIX if args.paper else {}), **train_overrides(args.set)}

    if args.one:
        result = measure(
            args.sizes[0], args.batches[0], args.precision[0], args.steps, args.warmup, args.ngf, args.device, overrides
        )
        print(json.dumps(result))
        return

    print(
        f"{'device':8} {'thr':>3} {'size':>5} {'batch':>5} {'prec':>5} {'img/s':>8} {'s/step':>8} {'cpu s/img':>9} {'peak MiB':>9}"
    )
    reference_case = False  # the quoted reference trained the paper's model at 256 px, batch 1, ngf 64 on the CPU
    for precision in args.precision:
        for size in args.sizes:
            for batch in args.batches:
                command = [
                    sys.executable,
                    __file__,
                    "--one",
                    "--sizes",
                    str(size),
                    "--batches",
                    str(batch),
                    "--precision",
                    precision,
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                    "--ngf",
                    str(args.ngf),
                    "--device",
                    args.device,
                ]
                command += [option for setting in args.set for option in ("--set", setting)]
                command += ["--paper"] if args.paper else []
                row = json.loads(run_child(command))
                print(
                    f"{row['device']:8} {row['threads']:>3} {size:>5} {batch:>5} {precision:>5} "
                    f"{row['images_per_second']:>8.3f} {row['seconds_per_step']:>8.3f} {row['cpu_seconds_per_image']:>9.3f} "
                    f"{row['peak_memory_mib']:>9.1f}",
                    flush=True,
                )
                reference_case |= args.paper and (size, batch, args.ngf, row["device"]) == (256, 1, 64, "cpu")
    if reference_case:
        print(QUOTED_REFERENCE)


if __name__ == "__main__":
    main()
