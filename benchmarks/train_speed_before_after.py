"""What the speed changes bought: the walking pipeline's step against today's, interleaved.

    python benchmarks/train_speed_before_after.py               # 256 px, batch 1, ngf 64, 8 rounds
    python benchmarks/train_speed_before_after.py --size 64 --batch 4 --ngf 32

`before` is the step as the first pipeline ran it (for-loop Adam, D weight gradients computed
during the G update and thrown away); `after fp32` and `after bf16` are `Pix2PixTrainer.train_step`.
The three alternate step by step in one process, so a busy shared machine slows them alike;
min and median seconds per step are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sketch2face.config import TrainParams
from sketch2face.training.trainer import ADAM_BETA2, Pix2PixTrainer


def before_step(trainer: Pix2PixTrainer, source: torch.Tensor, target: torch.Tensor) -> None:
    fake = trainer.generator(source)
    trainer.optimizer_d.zero_grad(set_to_none=True)
    loss_d, _ = trainer.objective.discriminator_loss(
        trainer.discriminator(source, target), trainer.discriminator(source, fake.detach())
    )
    loss_d.backward()
    trainer.optimizer_d.step()
    trainer.optimizer_g.zero_grad(set_to_none=True)
    loss_g, _ = trainer.objective.generator_loss(trainer.discriminator(source, fake), fake, target)
    loss_g.backward()
    trainer.optimizer_g.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=64, help="ngf = ndf")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()

    def trainer(precision: str) -> Pix2PixTrainer:
        params = TrainParams(ngf=args.ngf, ndf=args.ngf, batch_size=args.batch, precision=precision, device="cpu")
        return Pix2PixTrainer(params, image_size=args.size)

    before = trainer("fp32")
    betas = (before.params.beta1, ADAM_BETA2)
    before.optimizer_g = torch.optim.Adam(before.generator.parameters(), lr=before.params.lr, betas=betas, foreach=False)
    before.optimizer_d = torch.optim.Adam(before.discriminator.parameters(), lr=before.params.lr, betas=betas, foreach=False)
    after_fp32, after_bf16 = trainer("fp32"), trainer("bf16")
    source = torch.rand(args.batch, 1, args.size, args.size) * 2 - 1
    target = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1
    steps = {
        "before": lambda: before_step(before, source, target),
        "after fp32": lambda: after_fp32.train_step(source, target),
        "after bf16": lambda: after_bf16.train_step(source, target),
    }
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():  # warm-up
        step()
    for _ in range(args.rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    print(f"{args.size} px, batch {args.batch}, ngf {args.ngf}, {torch.get_num_threads()} threads, {args.rounds} rounds")
    for name, values in seconds.items():
        fastest, median = min(values), statistics.median(values)
        print(f"{name:11} min {fastest:.3f} s/step ({args.batch / fastest:.2f} images/s)   "
              f"median {median:.3f} s/step ({args.batch / median:.2f} images/s)")


if __name__ == "__main__":
    main()
