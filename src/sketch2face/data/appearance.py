"""Appearance hints measured on an aligned photo: its skin and hair colour, in CIELAB.

A pencil sketch carries shape and almost no colour, so a generator has to guess skin tone and
hair colour. A witness can say them, and for training they can be read off every aligned
photo without labels: alignment puts the eyes at known positions, and the regions are placed
relative to them (in units of the eye distance `d`, from the eye line and the face's midline):

- skin: the cheeks and nose, from 0.25 d to 0.6 d below the eye line and 0.6 d either side of
  the midline (below the lower lids, above the mouth and most beards);
- hair: a band from 1.2 d to 0.85 d above the eye line (above the brows, where the hairline and
  a fringe are) and 0.7 d either side of the midline, clipped to the image.

Each colour is the per-channel median of its region's CIELAB values, so the nose's shading,
a few dark pores or a stray eyebrow do not move it. Hair pixels within SKIN_LIKE of the skin
colour (forehead showing under a high hairline) are left out when enough others remain; a bald
head's "hair" is then the colour of its scalp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2face.colour import Lab, delta_e, srgb_to_lab
from sketch2face.config import HINT_NAMES, AlignmentParams
from sketch2face.data.align import canonical_eyes

# Boxes in eye distances: (top, bottom) from the eye line (down is positive), half width from the midline.
SKIN_ROWS, SKIN_HALF_WIDTH = (0.25, 0.6), 0.6
HAIR_ROWS, HAIR_HALF_WIDTH = (-1.2, -0.85), 0.7
SKIN_LIKE = 15.0  # CIELAB distance from the skin colour under which a hair-band pixel counts as skin
MIN_HAIR_SHARE = 0.25  # of the band's pixels that must differ from skin for them alone to give the hair colour
HINT_COLUMNS: dict[str, tuple[str, str, str]] = {name: (f"{name}_L", f"{name}_a", f"{name}_b") for name in HINT_NAMES}
"""pairs.csv columns holding each hint's CIELAB values, measured on the aligned photo."""
DECIMALS = 1


@dataclass(frozen=True)
class Appearance:
    skin: Lab
    hair: Lab

    def columns(self) -> dict[str, float]:
        """As pairs.csv columns (`skin_L`, ..., `hair_b`), rounded to 0.1."""
        values = {"skin": self.skin, "hair": self.hair}
        return {
            column: round(float(value), DECIMALS)
            for name in HINT_NAMES
            for column, value in zip(HINT_COLUMNS[name], values[name], strict=True)
        }


def _box(rows: tuple[float, float], half_width: float, geometry: AlignmentParams, size: int) -> tuple[slice, slice]:
    """Pixel rows and columns of a box given in eye distances, clipped to the S x S image, never empty."""
    eyes = canonical_eyes(geometry, size)
    distance = eyes.right[0] - eyes.left[0]
    eye_y, centre_x = eyes.left[1], (eyes.left[0] + eyes.right[0]) / 2

    def span(low: float, high: float) -> slice:
        start = min(max(0, round(low)), size - 1)
        return slice(start, max(start + 1, min(size, round(high))))

    vertical = span(eye_y + rows[0] * distance, eye_y + rows[1] * distance)
    horizontal = span(centre_x - half_width * distance, centre_x + half_width * distance)
    return vertical, horizontal


def skin_region(geometry: AlignmentParams, size: int) -> tuple[slice, slice]:
    return _box(SKIN_ROWS, SKIN_HALF_WIDTH, geometry, size)


def hair_region(geometry: AlignmentParams, size: int) -> tuple[slice, slice]:
    return _box(HAIR_ROWS, HAIR_HALF_WIDTH, geometry, size)


def _median(lab: np.ndarray) -> Lab:
    values = np.median(lab.reshape(-1, 3), axis=0)
    return float(values[0]), float(values[1]), float(values[2])


def measure_appearance(photo: np.ndarray, geometry: AlignmentParams) -> Appearance:
    """Skin and hair colour (CIELAB) of an aligned S x S RGB uint8 photo with the eyes where `geometry` puts them."""
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.shape[0] != photo.shape[1]:
        raise ValueError(f"an aligned photo is S x S x 3 RGB, got shape {photo.shape}")
    size = photo.shape[0]
    skin = _median(srgb_to_lab(photo[skin_region(geometry, size)]))
    band = srgb_to_lab(photo[hair_region(geometry, size)]).reshape(-1, 3)
    not_skin = band[delta_e(band, skin) >= SKIN_LIKE]
    hair = _median(not_skin if len(not_skin) >= MIN_HAIR_SHARE * len(band) else band)
    return Appearance(skin=skin, hair=hair)
