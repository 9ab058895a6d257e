"""Differentiable augmentation of what the discriminator sees (DiffAugment, Zhao et al. 2020).

With 80 to 1200 training pairs, a discriminator soon memorises the real photos and its gradients
stop helping the generator. Augmenting every pair it judges, real and generated alike, with
transforms the generator's gradient can pass through keeps it honest without teaching the
generator to produce augmented photos. A draw is applied to the sketch and the photo of a pair
together (the same shift, the same hole, the same brightness), so the pair stays aligned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sketch2face.config import Augmentation

TRANSLATION_RATIO = 0.125  # shift by up to 1/8 of the side, as DiffAugment
CUTOUT_RATIO = 0.5  # a hole half the side wide
BRIGHTNESS, SATURATION, CONTRAST = 0.5, (0.0, 2.0), (0.5, 1.5)  # DiffAugment's colour ranges, on [0, 1] images
RGB = 3


@dataclass(frozen=True)
class AugmentDraw:
    """One batch's random transform parameters; None where that augmentation is off."""

    shift: torch.Tensor | None = None  # (N, 2) rows and columns to move by
    hole: torch.Tensor | None = None  # (N, 2) top-left corner of the cutout
    brightness: torch.Tensor | None = None  # (N, 1, 1, 1) offsets
    saturation: torch.Tensor | None = None  # (N, 1, 1, 1) factors
    contrast: torch.Tensor | None = None  # (N, 1, 1, 1) factors

    @property
    def changes_nothing(self) -> bool:
        return all(value is None for value in (self.shift, self.hole, self.brightness))


def draw(augmentations: tuple[Augmentation, ...], batch: int, size: int, device: torch.device) -> AugmentDraw:
    """Random parameters for a batch of S x S pairs, from torch's generator on `device` (checkpointed)."""
    if not augmentations:
        return AugmentDraw()
    shift = hole = brightness = saturation = contrast = None
    if "translation" in augmentations:
        reach = int(size * TRANSLATION_RATIO + 0.5)
        shift = torch.randint(-reach, reach + 1, (batch, 2), device=device)
    if "cutout" in augmentations:
        side = int(size * CUTOUT_RATIO + 0.5)
        hole = torch.randint(0, size - side + 1, (batch, 2), device=device)
    if "colour" in augmentations:
        factors = torch.rand(batch, 3, 1, 1, device=device)
        brightness = (factors[:, :1] - 0.5) * 2 * BRIGHTNESS
        saturation = SATURATION[0] + factors[:, 1:2] * (SATURATION[1] - SATURATION[0])
        contrast = CONTRAST[0] + factors[:, 2:3] * (CONTRAST[1] - CONTRAST[0])
    return AugmentDraw(shift, hole, brightness, saturation, contrast)


def augment(sketch: torch.Tensor, photo: torch.Tensor, parameters: AugmentDraw) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair with `parameters` applied to both halves alike; differentiable in both."""
    if parameters.changes_nothing:
        return sketch, photo
    if parameters.brightness is not None:
        sketch, photo = (_colour(half, parameters) for half in (sketch, photo))
    pair = torch.cat([sketch, photo], dim=1)
    if parameters.shift is not None:
        pair = _translate(pair, parameters.shift)
    if parameters.hole is not None:
        pair = _cut_out(pair, parameters.hole)
    return pair[:, : sketch.shape[1]], pair[:, sketch.shape[1] :]


def _colour(images: torch.Tensor, parameters: AugmentDraw) -> torch.Tensor:
    """Brightness, saturation (colour images only) and contrast, on the [0, 1] scale of [-1, 1] images."""
    images = (images + 1) / 2 + parameters.brightness
    if images.shape[1] == RGB:
        grey = images.mean(dim=1, keepdim=True)
        images = grey + (images - grey) * parameters.saturation
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = mean + (images - mean) * parameters.contrast
    return images * 2 - 1


def _translate(pair: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Moves each pair by its (rows, columns) shift; what moves in from outside is 0 (mid-grey)."""
    batch, _, height, width = pair.shape
    reach = int(shift.abs().max())
    padded = torch.nn.functional.pad(pair, [reach, reach, reach, reach])
    rows = torch.arange(height, device=pair.device)[None, :] + reach - shift[:, :1]  # (N, H)
    columns = torch.arange(width, device=pair.device)[None, :] + reach - shift[:, 1:]  # (N, W)
    samples = torch.arange(batch, device=pair.device)[:, None, None]
    moved = padded.permute(0, 2, 3, 1)[samples, rows[:, :, None], columns[:, None, :]]  # (N, H, W, C)
    return moved.permute(0, 3, 1, 2)


def _cut_out(pair: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Sets a square of side CUTOUT_RATIO x S at each pair's corner `hole` to 0 (mid-grey)."""
    _, _, height, width = pair.shape
    side = int(height * CUTOUT_RATIO + 0.5)
    rows = torch.arange(height, device=pair.device)[None, :]
    columns = torch.arange(width, device=pair.device)[None, :]
    inside_rows = (rows >= hole[:, :1]) & (rows < hole[:, :1] + side)  # (N, H)
    inside_columns = (columns >= hole[:, 1:]) & (columns < hole[:, 1:] + side)  # (N, W)
    keep = ~(inside_rows[:, :, None] & inside_columns[:, None, :])
    return pair * keep[:, None].to(pair.dtype)
