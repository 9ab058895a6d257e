"""Turning sketch files into photo files: align, generate in batches, write, and report every input."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sketch2face.data.images import (
    ImageReadError,
    as_rgb,
)
from sketch2face.inference.alignment import SketchAligner, UnusableSketch
from sketch2face.inference.hints import SketchHints
from sketch2face.inference.inputs import Failure, SketchInput, photo_path, side_by_side_path
from sketch2face.io import write_image
from sketch2face.models.sketch_to_photo import SketchToPhoto


@dataclass
class PredictReport:
    """Every input, either written (with how it was aligned) or failed (with why)."""

    written: list[tuple[SketchInput, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def alignment_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, method in self.written:
            counts[method] = counts.get(method, 0) + 1
        return counts


def side_by_side(sketch: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The aligned sketch left of the generated photo, as one RGB image."""
    return np.concatenate([as_rgb(sketch), as_rgb(photo)], axis=1)


def _channels_first(images: list[np.ndarray]) -> torch.Tensor:
    """(H, W) or (H, W, C) uint8 arrays -> one (N, C, H, W) tensor."""
    stacked = np.stack(images)
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stacked))


def _channels_last(images: torch.Tensor) -> np.ndarray:
    array = images.permute(0, 2, 3, 1).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def generate_photos(
    model: SketchToPhoto, aligned: list[np.ndarray], hints: Sequence[SketchHints] | None = None
) -> np.ndarray:
    """Aligned uint8 sketches (H, W) or (H, W, C) -> uint8 photos (N, H, W[, C]), in one forward pass.

    `hints`: each sketch's colours (name -> CIELAB, or None for no hint); none given: no hints.
    """
    device = next(model.parameters()).device
    by_name = {}
    for name in {name for sketch_hints in hints or [] for name in sketch_hints}:
        rows = [sketch_hints.get(name) for sketch_hints in hints]
        by_name[name] = np.array([[np.nan] * 3 if lab is None else lab for lab in rows], np.float32)
    return _channels_last(model(_channels_first(aligned).to(device), **by_name))


def _aligned_batches(
    inputs: Iterable[SketchInput], align: SketchAligner, batch_size: int, on_failure: Callable[[Failure], None]
) -> Iterator[list[tuple[SketchInput, np.ndarray, str]]]:
    """Groups usable sketches into batches; unusable ones are handed to `on_failure` as they are met."""
    batch: list[tuple[SketchInput, np.ndarray, str]] = []
    for item in inputs:
        try:
            batch.append((item, *align(item.path)))
        except (ImageReadError, UnusableSketch) as exc:
            on_failure(Failure(str(item.path), exc.reason))
            continue
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_sketches(
    inputs: Sequence[SketchInput],
    model: SketchToPhoto,
    align: SketchAligner,
    out_dir: Path,
    *,
    batch_size: int = 16,
    with_side_by_side: bool = False,
    on_failure: Callable[[Failure], None] = lambda _failure: None,
    progress: bool = False,
    hints: Callable[[SketchInput], SketchHints] | None = None,
) -> PredictReport:
    """Aligns, generates and writes every input; the report lists what was written and what failed.

    `hints` gives each input's appearance hints (for a generator trained with them).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    report = PredictReport()
    with tqdm(total=len(inputs), desc="sketches", unit="sketch", disable=not progress) as bar:

        def failed(failure: Failure) -> None:
            report.failures.append(failure)
            on_failure(failure)
            bar.update()

        for batch in _aligned_batches(inputs, align, batch_size, failed):
            batch_hints = None if hints is None else [hints(item) for item, _, _ in batch]
            photos = generate_photos(model, [aligned for _, aligned, _ in batch], batch_hints)
            for (item, aligned, method), photo in zip(batch, photos, strict=True):
                write_image(photo_path(out_dir, item), photo)
                if with_side_by_side:
                    write_image(side_by_side_path(out_dir, item), side_by_side(aligned, photo))
                report.written.append((item, method))
            bar.update(len(batch))
    return report
