"""Channels or FiLM? How well each way of giving a generator its hints carries colour, on a toy task.

    python benchmarks/hint_injection.py                      # 32 px, 400 steps, seeds 0 1
    python benchmarks/hint_injection.py --steps 1000 --size 64 --seeds 0 1 2

The toy task isolates what hints are for: each sketch is a random smooth shape, its photo paints
the shape in one random colour ("skin") and the rest in another ("hair"), and the two colours are
the sample's hints. A sketch says nothing about them, so without hints the best photo is the mean
colour; with hints a generator can paint them exactly. Each injection (no hints, `channels`,
`film`) trains from the same initial generator seed, data and dropout draws (hint_dropout 0.5),
and is scored on held-out samples by L1 (pixels in [-1, 1]) without and with hints. The lower
the L1 with hints after a given number of steps, the better the injection carries colour. It
is no substitute for the demo and CUHK study (recipe_study.py --study hints); it is the cheap
check of the mechanism.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from sketch2face.colour import srgb_to_lab
from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs, PairTensors
from sketch2face.models.generator import to_model_range
from sketch2face.training.step import Pix2PixTrainer

MEAN_COLOUR_L1 = 0.5
INJECTIONS = {"none": {"hints": ()}, "channels": {"hint_injection": "channels"}, "film": {"hint_injection": "film"}}


def toy_pairs(count: int, size: int, seed: int) -> PairTensors:
    """Smooth random shapes as sketches; photos with the shape in one random colour and the rest in another."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 1, 4, 4, generator=generator)
    shape = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear") > 0.5
    colours = torch.randint(0, 256, (count, 2, 3), generator=generator)
    photos = torch.where(shape, colours[:, 0, :, None, None], colours[:, 1, :, None, None]).to(torch.uint8)
    sketches = torch.where(shape, 80, 245).to(torch.uint8)
    appearance = torch.from_numpy(srgb_to_lab(colours.numpy())).float()  # skin: the shape, hair: the rest
    return PairTensors([str(index) for index in range(count)], sketches, photos, appearance)


@torch.no_grad()
def held_out_l1(trainer: Pix2PixTrainer, pairs: PairTensors, with_hints: bool) -> float:
    generator = trainer.generator.eval()
    hints = pairs.appearance if with_hints and generator.config.hints else None
    fake = generator(to_model_range(pairs.sketches), hints)
    generator.train()
    return float((fake - to_model_range(pairs.photos)).abs().mean())


def train_one(injection: str, args: argparse.Namespace, seed: int, train: PairTensors) -> Pix2PixTrainer:
    params = TrainParams(
        ngf=args.ngf, ndf=args.ngf, batch_size=args.batch, seed=seed, jitter=1.0, flip=False, **INJECTIONS[injection]
    )
    trainer = Pix2PixTrainer(params, image_size=args.size)
    data = JitteredPairs(train, params.jitter, params.flip)
    torch.manual_seed(seed)  # the same dropout and hint-dropout draws for every injection
    step, epoch = 0, 0
    while step < args.steps:
        for source, target, appearance in trainer.epoch_batches(data, epoch):
            trainer.train_step(source, target, appearance)
            step += 1
            if step == args.steps:
                break
        epoch += 1
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=256, help="training pairs (64 more are held out)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()

    print(
        f"toy colour task, {args.size} px, {args.pairs} pairs, {args.steps} steps of {args.batch}, ngf {args.ngf}; "
        "held-out L1 (lower is better)"
    )
    print(f"{'injection':<10} {'L1 without hints':>18} {'L1 with hints':>15}")
    for injection in INJECTIONS:
        without, given = [], []
        for seed in args.seeds:
            train = toy_pairs(args.pairs, args.size, seed=2 * seed)
            held_out = toy_pairs(64, args.size, seed=2 * seed + 1)
            trainer = train_one(injection, args, seed, train)
            without.append(held_out_l1(trainer, held_out, with_hints=False))
            given.append(held_out_l1(trainer, held_out, with_hints=True))
        spread = f" (seeds {', '.join(f'{value:.3f}' for value in given)})" if len(given) > 1 else ""
        print(f"{injection:<10} {statistics.fmean(without):>18.3f} {statistics.fmean(given):>15.3f}{spread}")
    print(f"(a photo of the mean colour scores about {MEAN_COLOUR_L1}: colours are uniform over [-1, 1])")


if __name__ == "__main__":
    main()
