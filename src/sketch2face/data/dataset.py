"""The pair set held in memory as uint8 tensors, with pix2pix's jitter and flip applied jointly.

Decoding happens once: every step only crops, flips and scales tensors already in memory, and
the same crop and flip are applied to a sketch and its photo so that they stay aligned. Each
pair's appearance (skin and hair colour measured on its photo) travels with it; cropping and
flipping do not change colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sketch2face.config import HINT_NAMES, Direction
from sketch2face.data.appearance import HINT_COLUMNS
from sketch2face.data.images import luma, read_image
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.models.generator import to_model_range


@dataclass(frozen=True)
class PairTensors:
    """One split: sketches (N, Cin, S, S) and photos (N, Cout, S, S), uint8, plus their ids.

    `appearance` (N, len(HINT_NAMES), 3): each photo's measured colours in CIELAB, NaN where
    pairs.csv has none (a table written before hints were measured).
    """

    ids: list[str]
    sketches: torch.Tensor
    photos: torch.Tensor
    appearance: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.appearance is None:
            object.__setattr__(self, "appearance", torch.full((len(self.ids), len(HINT_NAMES), 3), float("nan")))

    def __len__(self) -> int:
        return len(self.ids)


def read_pairs_table(pairs_dir: Path) -> pd.DataFrame:
    return pd.read_csv(pairs_dir / PAIRS_FILE, dtype=str, keep_default_na=False)


def _split_ab(ab: np.ndarray, input_channels: int, output_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Cuts an AB image into its sketch and photo halves with the requested channel counts."""
    width = ab.shape[1] // 2
    halves = []
    for half, channels in ((ab[:, :width], input_channels), (ab[:, width:], output_channels)):
        if channels == 1:
            half = luma(half)
        halves.append(np.ascontiguousarray(half.transpose(2, 0, 1)))
    return halves[0], halves[1]


def measured_appearance(rows: pd.DataFrame) -> torch.Tensor:
    """(N, len(HINT_NAMES), 3) CIELAB from pairs.csv's hint columns; NaN where a column or a value is missing."""
    columns = [column for name in HINT_NAMES for column in HINT_COLUMNS[name]]
    values = rows.reindex(columns=columns).replace("", np.nan).astype(np.float32).to_numpy(copy=True)
    return torch.from_numpy(values).reshape(len(rows), len(HINT_NAMES), 3)


def _decode(pairs_dir: Path, rows: pd.DataFrame, sketch_channels: int, photo_channels: int) -> PairTensors:
    """Decodes the AB images of `rows` (of pairs.csv) into memory."""
    halves = [_split_ab(read_image(pairs_dir / pair, "rgb"), sketch_channels, photo_channels) for pair in rows["pair"]]
    sketches, photos = (torch.from_numpy(np.stack(side)) for side in zip(*halves, strict=True))
    return PairTensors(list(rows["id"]), sketches, photos, measured_appearance(rows))


def _split_rows(pairs_dir: Path, split: str) -> pd.DataFrame:
    table = read_pairs_table(pairs_dir)
    return table[table["split"] == split]


def load_split(pairs_dir: Path, split: str, input_channels: int = 3, output_channels: int = 3) -> PairTensors:
    """Decodes every AB image of one split into memory."""
    rows = _split_rows(pairs_dir, split)
    if rows.empty:
        raise SourceError(f"{pairs_dir / PAIRS_FILE}: split '{split}' is empty")
    return _decode(pairs_dir, rows, input_channels, output_channels)


def load_oriented_split(
    pairs_dir: Path, split: str, direction: Direction, input_channels: int, output_channels: int
) -> PairTensors | None:
    """A split as (input, target) for a model's direction, or None when the split is empty.

    The fields keep their sketch/photo names but hold the input and the target: for
    `photo_to_sketch` the photos are the inputs.
    """
    rows = _split_rows(pairs_dir, split)
    if rows.empty:
        return None
    if direction == "sketch_to_photo":
        return _decode(pairs_dir, rows, input_channels, output_channels)
    pairs = _decode(pairs_dir, rows, output_channels, input_channels)
    return PairTensors(pairs.ids, sketches=pairs.photos, photos=pairs.sketches, appearance=pairs.appearance)


class JitteredPairs:
    """Training batches with random-crop jitter and horizontal flip shared by sketch and photo.

    Both halves are upscaled once to `jitter * S` (pix2pix: 286 for 256) and kept in memory;
    each batch takes a random S x S window of it, as the reference resize-and-crop does.
    """

    def __init__(self, pairs: PairTensors, jitter: float, flip: bool) -> None:
        self.size = pairs.sketches.shape[-1]
        self.load_size = max(self.size, round(self.size * jitter))
        self.flip = flip
        self.input_channels = pairs.sketches.shape[1]
        both = torch.cat([pairs.sketches, pairs.photos], dim=1)
        if self.load_size != self.size:
            both = F.interpolate(both.float(), size=self.load_size, mode="bicubic", align_corners=False)
            both = both.round_().clamp_(0, 255).to(torch.uint8)
        self.both = both
        self.appearance = pairs.appearance

    def __len__(self) -> int:
        return self.both.shape[0]

    def batches(self, batch_size: int, generator: torch.Generator):
        """One epoch of (sketch, photo, appearance) batches in a seeded random order: float images in [-1, 1]
        and each photo's CIELAB colours (B, len(HINT_NAMES), 3)."""
        order = torch.randperm(len(self), generator=generator)
        margin = self.load_size - self.size
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            offsets = torch.randint(0, margin + 1, (len(index), 2), generator=generator)
            flips = torch.rand(len(index), generator=generator) < 0.5
            crops = []
            for item, (top, left), flip in zip(index.tolist(), offsets.tolist(), flips.tolist(), strict=True):
                crop = self.both[item, :, top : top + self.size, left : left + self.size]
                crops.append(crop.flip(-1) if self.flip and flip else crop)
            batch = to_model_range(torch.stack(crops))
            yield batch[:, : self.input_channels], batch[:, self.input_channels :], self.appearance[index]
