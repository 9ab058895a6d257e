"""Colours as people name them and as the model takes them: sRGB hex, named palettes, CIELAB.

One home for colour maths and colour names, below every other layer: the data stages measure
appearance hints in CIELAB, the generator (also when pickled into MLflow, without the data
pipeline) parses the colours a user gives, and the CLI checks them. NumPy only, for that reason;
the sRGB transfer curves also take torch tensors, for the training photos.

CIELAB here is CIE 1976 L*a*b* of sRGB under D65 (L 0..100, a and b about -128..127), what
OpenCV's `cvtColor(float RGB in 0..1, COLOR_RGB2Lab)` computes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

import numpy as np

Lab = tuple[float, float, float]
Array = TypeVar("Array")  # a NumPy array or a torch tensor: the functions that say so use array operators only

AUTO = "auto"  # no hint: the model guesses, as without hints
# The Monk Skin Tone scale (Monk 2019; Google's published swatches), lightest to darkest.
MONK_SKIN_TONES: Mapping[str, str] = {
    "monk-01": "#f6ede4",
    "monk-02": "#f3e7db",
    "monk-03": "#f7d7c4",
    "monk-04": "#eadaba",
    "monk-05": "#d7bd96",
    "monk-06": "#a07e56",
    "monk-07": "#825c43",
    "monk-08": "#604134",
    "monk-09": "#3a312a",
    "monk-10": "#292420",
}
# Hair colours by name (typical sRGB swatches; the demo faces are painted with these).
HAIR_COLOURS: Mapping[str, str] = {
    "black": "#1a1614",
    "dark_brown": "#3a261a",
    "brown": "#6c482a",
    "blonde": "#caa66a",
    "red": "#96421e",
    "grey": "#96948f",
    "white": "#dedcd4",
}
NAMED_COLOURS: Mapping[str, str] = {**MONK_SKIN_TONES, **HAIR_COLOURS}
ALLOWED_COLOURS = (
    f"a hex sRGB colour (#rrggbb), a Monk Skin Tone (monk-01 .. monk-10), a hair colour "
    f"({', '.join(HAIR_COLOURS)}) or {AUTO} (no hint)"
)

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")
_MONK = re.compile(r"monk-0?([1-9]|10)")
# linear sRGB -> CIE XYZ (IEC 61966-2-1), and the D65 white point
_SRGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_D65_WHITE = _SRGB_TO_XYZ.sum(axis=1)
_EPSILON = (6 / 29) ** 3
_L_OFFSET = np.array([16.0, 0.0, 0.0])  # L + 16 is what scales with the cube root of Y


def srgb_to_linear(srgb: Array) -> Array:
    """sRGB values 0..1 -> linear light 0..1 (the sRGB transfer curve undone).

    Written with array operators only, so it takes NumPy arrays and torch tensors alike.
    """
    low = srgb <= 0.04045
    return low * (srgb / 12.92) + ~low * ((srgb.clip(0.04045) + 0.055) / 1.055) ** 2.4


def linear_to_srgb(linear: Array) -> Array:
    """Linear light 0..1 -> sRGB values 0..1; NumPy arrays or torch tensors."""
    low = linear <= 0.0031308
    return low * (linear * 12.92) + ~low * (1.055 * linear.clip(0.0031308) ** (1 / 2.4) - 0.055)


def exposed_lab(lab: np.ndarray, gain: np.ndarray | float) -> np.ndarray:
    """CIELAB (..., 3) of colours whose linear light is scaled by `gain` (shape (...)), as a darker exposure does.

    Linear light scales X, Y and Z alike, so L + 16, a and b scale by the cube root of the gain:
    exact while X, Y and Z stay above CIELAB's linear segment near black (a gain of at most 1
    keeps it in gamut); for the darkest skin at a third of its light, b is off by 0.01.
    """
    scale = np.cbrt(np.asarray(gain, np.float64))[..., None]
    return (np.asarray(lab, np.float64) + _L_OFFSET) * scale - _L_OFFSET


def srgb_to_lab(pixels: np.ndarray) -> np.ndarray:
    """sRGB values 0..255 (uint8 or float), shape (..., 3) -> CIELAB (..., 3), float64."""
    xyz = srgb_to_linear(np.asarray(pixels, np.float64) / 255) @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3) -> sRGB 0..255 floats; colours outside the sRGB gamut are clipped to it."""
    lab = np.asarray(lab, np.float64)
    f_y = (lab[..., 0] + 16) / 116
    f = np.stack([f_y + lab[..., 1] / 500, f_y, f_y - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _D65_WHITE
    return np.clip(linear_to_srgb(xyz @ np.linalg.inv(_SRGB_TO_XYZ).T), 0, 1) * 255


def hex_to_srgb(text: str) -> tuple[int, int, int]:
    digits = _HEX.fullmatch(text.strip())
    if digits is None:
        raise ValueError(f"'{text}' is not a #rrggbb hex colour")
    value = digits.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def lab_to_hex(lab: Lab) -> str:
    red, green, blue = (round(channel) for channel in lab_to_srgb(np.asarray(lab)))
    return f"#{red:02x}{green:02x}{blue:02x}"


def parse_colour(text: str) -> Lab | None:
    """A colour as a user writes it -> CIELAB; None for `auto` (no hint).

    Hex with or without `#` (`#8d5524`, `8d5524`), a Monk Skin Tone (`monk-05` or `monk-5`), a
    hair colour name, or `auto`; case and surrounding spaces do not matter. Anything else is a
    ValueError that names the value and says what is allowed.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a colour: give {ALLOWED_COLOURS}")
    key = text.strip().lower()
    if key == AUTO:
        return None
    if (monk := _MONK.fullmatch(key)) is not None:
        key = f"monk-{int(monk.group(1)):02d}"
    named = NAMED_COLOURS.get(key)
    if named is None and _HEX.fullmatch(key) is None:
        raise ValueError(f"'{text}' is not a colour: give {ALLOWED_COLOURS}")
    lab = srgb_to_lab(np.array(hex_to_srgb(named or key)))
    return float(lab[0]), float(lab[1]), float(lab[2])


def delta_e(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIE76 colour difference: the Euclidean distance in CIELAB (about 2.3 is just noticeable)."""
    return np.linalg.norm(np.asarray(first, np.float64) - np.asarray(second, np.float64), axis=-1)
