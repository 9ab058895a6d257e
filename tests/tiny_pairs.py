"""Tiny pair sets for training tests and benchmarks (in memory, or as a pairs folder like assemble_pairs
writes), and the helpers the training tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sketch2face.config import AlignmentParams, Params, parse_params
from sketch2face.data.appearance import measure_appearance
from sketch2face.data.dataset import PairTensors
from sketch2face.io import write_csv, write_image
from sketch2face.training.loop import TrainingListener
from sketch2face.training.step import Pix2PixTrainer

DEMO_SOURCE = {"name": "demo", "kind": "demo", "root": "data/demo"}


def learnable_pairs(count: int = 4, size: int = 32, seed: int = 0) -> PairTensors:
    """Smooth random sketches and their negatives as photos: a mapping a small U-Net can learn; random skin
    and hair colours (CIELAB) as if measured on them."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 1, 4, 4, generator=generator) * 255
    sketches = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear").round().to(torch.uint8)
    photos = (255 - sketches).repeat(1, 3, 1, 1)
    appearance = torch.rand(count, 2, 3, generator=generator) * torch.tensor([80.0, 40.0, 40.0])
    appearance += torch.tensor([10.0, -5.0, 0.0])  # L 10..90, a -5..35, b 0..40
    return PairTensors([str(i) for i in range(count)], sketches, photos, appearance)


def write_pairs_dir(root: Path, splits: dict[str, int], size: int = 32) -> Path:
    """AB images (sketch | photo) and pairs.csv with each photo's measured hints, as the assemble_pairs stage writes."""
    rows = []
    for split, count in splits.items():
        pairs = learnable_pairs(count, size, seed=len(rows))
        for index in range(count):
            name = f"{split}/{split}-{index}.png"
            sketch = pairs.sketches[index, 0].numpy()
            photo = pairs.photos[index].permute(1, 2, 0).numpy()
            write_image(root / name, np.concatenate([np.repeat(sketch[:, :, None], 3, axis=2), photo], axis=1))
            rows.append(
                {
                    "id": f"{split}-{index}",
                    "subject": f"{split}-{index}",
                    "split": split,
                    "pair": name,
                    **measure_appearance(np.ascontiguousarray(photo), AlignmentParams()).columns(),
                }
            )
    write_csv(root / "pairs.csv", pd.DataFrame(rows))
    return root


def pipeline_params(**train: object) -> Params:
    """Whole pipeline params for `train`: these train values over the schema defaults, the demo source."""
    return parse_params({"crop_resize": {"sources": [DEMO_SOURCE]}, "train": train})


def assert_same_weights(first: Pix2PixTrainer, second: Pix2PixTrainer) -> None:
    for network in ("generator", "discriminator"):
        a, b = getattr(first, network).state_dict(), getattr(second, network).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{network}.{key} differs"


class OnStep(TrainingListener):
    """Calls `action(step, logs)` after every step."""

    def __init__(self, action) -> None:
        self.action = action

    def step_done(self, step: int, logs: dict[str, float]) -> None:
        self.action(step, logs)
