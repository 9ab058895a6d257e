"""The generator as users call it: uint8 sketches (and optional appearance hints) in, uint8 photos out.

It wraps a built generator with how its training sketches were prepared and how it is meant to run,
and is what `predict`, `serve`, `evaluate` and the MLflow model use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from sketch2face.colour import parse_colour
from sketch2face.config import HINT_NAMES, InferenceMode, NormKind
from sketch2face.models.generator import (
    IMAGE_STATS,
    INFERENCE_KEY,
    RUNNING_STATS,
    TEST_BATCH,
    Generator,
    GeneratorConfig,
    to_model_range,
    to_pixels,
)


def trained_inference(norm: NormKind, batch_size: int) -> InferenceMode:
    """How a generator is run by default: as its batch norm normalised while training.

    At one image per batch, batch norm normalises each image by its own statistics (instance
    normalisation with BN's scale and shift), and its running averages (a momentum-0.1 average of
    the last few images' statistics, without the spread between images) put every layer's features
    on another scale than training did. With several images per batch the running averages are
    what training normalised with.
    """
    return IMAGE_STATS if norm == "batch" and batch_size == 1 else RUNNING_STATS


@contextmanager
def batch_statistics(network: nn.Module, dropout: bool = True) -> Iterator[nn.Module]:
    """Runs `network` with batch norm on each batch's own statistics, dropout on (pix2pix's test protocol) or off.

    Its running statistics stay untouched (a normalisation that does not track them does not update them).
    """
    norms = [layer for layer in network.modules() if isinstance(layer, nn.modules.batchnorm._BatchNorm)]
    tracking = [layer.track_running_stats for layer in norms]
    was_training = network.training
    network.train()
    if not dropout:
        for layer in network.modules():
            if isinstance(layer, nn.Dropout):
                layer.eval()
    for layer in norms:
        layer.track_running_stats = False
    try:
        yield network
    finally:
        for layer, tracked in zip(norms, tracking, strict=True):
            layer.track_running_stats = tracked
        network.train(was_training)


HintValue = str | Sequence[str] | Sequence[float] | np.ndarray | torch.Tensor | None
"""One hint for a batch: a colour text for every sketch (`#8d5524`, `monk-07`, `black`, `auto`), one text per
sketch, or CIELAB values, (3,) for every sketch or (N, 3) with NaN rows for sketches without the hint."""


def _lab_rows(value: HintValue, batch: int) -> torch.Tensor:
    """One hint as (N, 3) CIELAB rows, NaN where absent; ValueError for a bad colour or a wrong count."""
    if value is None:
        return torch.full((batch, 3), float("nan"))
    if isinstance(value, str):
        value = [value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "UO":  # colour texts in an array
        value = value.tolist()
    if not isinstance(value, (np.ndarray, torch.Tensor)) and all(isinstance(item, str) for item in value):
        parsed = [parse_colour(text) for text in value]
        value = [[float("nan")] * 3 if lab is None else list(lab) for lab in parsed]
    rows = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1, 3)
    if len(rows) not in (1, batch):
        raise ValueError(f"{len(rows)} values for {batch} sketches: give one for all or one per sketch")
    return rows.expand(batch, 3)


class SketchToPhoto(nn.Module):
    """The generator as users call it: uint8 sketches in, uint8 photos out, never training.

    Takes (N, C, S, S) or, for greyscale generators, (N, S, S) uint8 sketches aligned with
    `preprocessing`, and returns (N, output_channels, S, S) uint8 photos. A generator trained
    with appearance hints also takes them by name (`skin=`, `hair=`, see `HintValue`); a hint not
    given, or `auto`, is left to the generator's guess. How it runs is stored with it
    (`preprocessing["inference"]`): `running_stats` (dropout off, batch-norm running
    statistics: deterministic, a photo independent of its batch) or `test_batch` (pix2pix's test
    protocol: each sketch alone, dropout on, its own batch-norm statistics). It holds only torch
    and plain data so that a pickled copy (the MLflow model) loads without the data pipeline.
    """

    def __init__(self, generator: Generator, preprocessing: Mapping[str, Any]) -> None:
        super().__init__()
        self.generator = generator
        self.preprocessing = dict(preprocessing)
        self.eval()

    @property
    def inference(self) -> InferenceMode:
        return self.preprocessing.get(INFERENCE_KEY, RUNNING_STATS)

    @property
    def config(self) -> GeneratorConfig:
        return self.generator.config

    def hint_tensor(self, hints: Mapping[str, HintValue], batch: int) -> torch.Tensor | None:
        """(N, H, 3) CIELAB in the generator's hint order, NaN rows absent; None for a generator without hints.

        ValueError names a hint the generator does not take (unless it is absent or `auto`) or a bad value.
        """
        rows = {}
        for name, value in hints.items():
            if name not in HINT_NAMES:
                raise ValueError(f"unknown hint '{name}'; hints are {', '.join(HINT_NAMES)}")
            try:
                rows[name] = _lab_rows(value, batch)
            except ValueError as exc:
                raise ValueError(f"hint {name}: {exc}") from None
            if name not in self.config.hints and not rows[name].isnan().all():
                takes = f"takes only {', '.join(self.config.hints)}" if self.config.hints else "takes no hints"
                raise ValueError(f"hint {name} given, but this generator {takes}")
        if not self.config.hints:
            return None
        absent = torch.full((batch, 3), float("nan"))
        return torch.stack([rows.get(name, absent) for name in self.config.hints], dim=1)

    @torch.no_grad()
    def forward(self, sketches: torch.Tensor, **hints: HintValue) -> torch.Tensor:
        if sketches.dtype != torch.uint8:
            raise TypeError(f"sketches must be uint8 pixels, got {sketches.dtype}")
        if sketches.ndim == 3 and self.config.input_channels == 1:
            sketches = sketches.unsqueeze(1)
        expected = (self.config.input_channels, self.config.image_size, self.config.image_size)
        if sketches.ndim != 4 or tuple(sketches.shape[1:]) != expected:
            raise ValueError(
                f"sketches must have shape (N, {', '.join(map(str, expected))}), got {tuple(sketches.shape)}"
            )
        lab = self.hint_tensor(hints, len(sketches))
        if lab is not None:
            lab = lab.to(sketches.device)
        if self.inference == RUNNING_STATS:
            return to_pixels(self.generator(to_model_range(sketches), lab))
        with batch_statistics(self.generator, dropout=self.inference == TEST_BATCH) as generator:
            return torch.cat(
                [
                    to_pixels(generator(to_model_range(sketch[None]), None if lab is None else lab[index : index + 1]))
                    for index, sketch in enumerate(sketches)
                ]
            )
