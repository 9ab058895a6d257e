"""Procedurally generated demo dataset: synthetic face photos and pencil sketches drawn from them.

The project must train and evaluate end to end without downloading any face database, so this
module paints CUFS-like pairs itself: a frontal, neutral, colour face on a plain light background,
and a greyscale pencil sketch rendered *from that photo* so the sketch shares its geometry.

Faces are deliberately diverse (six skin-tone groups, both genders, many hair colours and
styles, face shapes, feature geometry, facial hair) because per-group metrics are computed over
the attributes recorded here.  Each synthetic *subject* has fixed identity parameters and may
have several *views* that differ only in lighting, background, small pose jitter and noise, so
dataset splits can be subject-disjoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from sketch2face.colour import HAIR_COLOURS, hex_to_srgb
from sketch2face.data.records import EyeCentres

TONE_GROUPS: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")
GENDERS: tuple[str, ...] = ("male", "female")

# Base skin colours (RGB), Fitzpatrick-like from very light (I) to very dark (VI).
_SKIN_RGB: dict[str, tuple[float, float, float]] = {
    "I": (246, 218, 196),
    "II": (232, 194, 166),
    "III": (208, 160, 120),
    "IV": (170, 119, 80),
    "V": (122, 80, 52),
    "VI": (78, 50, 36),
}

# The named hair colours a user may give as a hint are the ones the demo faces are painted with.
_HAIR_RGB: dict[str, tuple[int, int, int]] = {name: hex_to_srgb(value) for name, value in HAIR_COLOURS.items()}
# Hair colour probabilities for the lightest and the darkest tone group; interpolated between.
_HAIR_P_LIGHT = {
    "black": 0.10,
    "dark_brown": 0.22,
    "brown": 0.22,
    "blonde": 0.22,
    "red": 0.12,
    "grey": 0.08,
    "white": 0.04,
}
_HAIR_P_DARK = {
    "black": 0.58,
    "dark_brown": 0.26,
    "brown": 0.06,
    "blonde": 0.0,
    "red": 0.0,
    "grey": 0.07,
    "white": 0.03,
}

_IRIS_RGB: dict[str, tuple[float, float, float]] = {
    "dark_brown": (58, 36, 24),
    "brown": (104, 64, 34),
    "hazel": (124, 104, 56),
    "green": (78, 116, 74),
    "blue": (78, 118, 168),
    "grey": (118, 128, 138),
}
_IRIS_P_LIGHT = {"dark_brown": 0.15, "brown": 0.25, "hazel": 0.15, "green": 0.12, "blue": 0.23, "grey": 0.10}
_IRIS_P_DARK = {"dark_brown": 0.75, "brown": 0.22, "hazel": 0.03, "green": 0.0, "blue": 0.0, "grey": 0.0}

_HAIR_STYLES: dict[str, dict[str, float]] = {
    "male": {"short": 0.44, "buzz": 0.15, "bald": 0.09, "curly": 0.16, "long": 0.10, "bob": 0.06},
    "female": {"short": 0.08, "curly": 0.20, "long": 0.40, "bob": 0.16, "bun": 0.16},
}
_FACIAL_HAIR: dict[str, float] = {"none": 0.48, "stubble": 0.20, "moustache": 0.10, "beard": 0.16, "goatee": 0.06}

# Face outline per shape: half width, forehead and jaw half heights, superellipse exponents,
# and how much the jaw tapers toward the chin.
_FACE_SHAPES: dict[str, dict[str, float]] = {
    "oval": {"a": 0.232, "bt": 0.35, "bb": 0.33, "n_top": 2.2, "n_jaw": 2.0, "taper": 0.25},
    "round": {"a": 0.252, "bt": 0.33, "bb": 0.30, "n_top": 2.3, "n_jaw": 2.3, "taper": 0.15},
    "long": {"a": 0.218, "bt": 0.37, "bb": 0.36, "n_top": 2.2, "n_jaw": 2.0, "taper": 0.22},
    "square": {"a": 0.244, "bt": 0.34, "bb": 0.32, "n_top": 2.6, "n_jaw": 3.2, "taper": 0.18},
    "heart": {"a": 0.244, "bt": 0.35, "bb": 0.33, "n_top": 2.5, "n_jaw": 1.8, "taper": 0.40},
}


@dataclass(frozen=True)
class DemoFace:
    """One synthetic photo/sketch pair with the ground truth later stages are checked against."""

    subject: str
    view: int
    photo: np.ndarray  # (size, size, 3) uint8 RGB
    sketch: np.ndarray  # (size, size) uint8 greyscale
    eyes: EyeCentres
    attributes: dict[str, str]


@dataclass(frozen=True)
class _Identity:
    """Everything that stays fixed across the views of one subject (face-frame units)."""

    attributes: dict[str, str]
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lip: np.ndarray
    clothes: np.ndarray
    head_scale: float
    shape: dict[str, float]
    eye_y: float
    eye_dx: float
    eye_w: float
    eye_h: float
    eye_tilt: float
    brow_gap: float
    brow_arch: float
    brow_thick: float
    nose_len: float
    nose_w: float
    mouth_gap: float
    mouth_w: float
    lip_up: float
    lip_low: float
    hairline: float
    parting: float
    fringe: bool
    neck_w: float
    neckline: float
    blush: float
    curls: np.ndarray  # (k, 5): angle, x/y jitter, radius, drop fraction (curly hair only)


def _choice(rng: np.random.Generator, probs: dict[str, float]) -> str:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _mix_probs(light: dict[str, float], dark: dict[str, float], t: float) -> dict[str, float]:
    return {k: (1 - t) * light[k] + t * dark[k] for k in light}


def _draw_identity(rng: np.random.Generator, gender: str | None, tone_group: str | None) -> _Identity:
    """Samples the fixed appearance of one subject."""
    gender = gender or GENDERS[int(rng.integers(2))]
    tone_group = tone_group or TONE_GROUPS[int(rng.integers(len(TONE_GROUPS)))]
    if gender not in GENDERS or tone_group not in TONE_GROUPS:
        raise ValueError(f"unknown gender {gender!r} or tone group {tone_group!r}")
    male = gender == "male"
    darkness = TONE_GROUPS.index(tone_group) / (len(TONE_GROUPS) - 1)

    # Skin: group colour, jittered in brightness and in warmth (red/yellow balance).
    skin = np.array(_SKIN_RGB[tone_group], np.float32) * rng.normal(1.0, 0.025)
    skin *= np.array([1 + rng.normal(0, 0.02), 1, 1 + rng.normal(0, 0.035)], np.float32)
    skin = np.clip(skin, 0, 255)

    hair_colour = _choice(rng, _mix_probs(_HAIR_P_LIGHT, _HAIR_P_DARK, darkness))
    hair = np.clip(np.array(_HAIR_RGB[hair_colour], np.float32) * rng.normal(1, 0.06), 0, 255)
    iris_colour = _choice(rng, _mix_probs(_IRIS_P_LIGHT, _IRIS_P_DARK, darkness))
    iris = np.clip(np.array(_IRIS_RGB[iris_colour], np.float32) * rng.normal(1, 0.08), 0, 255)

    hair_style = _choice(rng, _HAIR_STYLES[gender])
    facial_hair = _choice(rng, _FACIAL_HAIR) if male else "none"

    face_shape = _choice(rng, dict.fromkeys(_FACE_SHAPES, 1.0))
    shape = {k: v * rng.normal(1, 0.025) for k, v in _FACE_SHAPES[face_shape].items()}
    if male:  # wider, squarer jaw
        shape["a"] += 0.010
        shape["n_jaw"] += 0.4
        shape["taper"] = max(0.05, shape["taper"] - 0.06)

    # Lips: a darker, redder version of the skin; feminine faces more saturated (some lipstick).
    lip = skin * np.array([0.86, 0.62, 0.64], np.float32)
    if not male:
        lipstick = np.array([178, 58, 76], np.float32) * (0.55 + 0.45 * (1 - darkness))
        lip = lip + (lipstick - lip) * rng.uniform(0.15, 0.55)
    clothes_hue = int(rng.integers(0, 180))
    clothes_hsv = np.uint8([[[clothes_hue, rng.integers(20, 200), rng.integers(40, 230)]]])
    clothes = cv2.cvtColor(clothes_hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)

    attributes = {
        "gender": gender,
        "tone_group": tone_group,
        "hair_colour": hair_colour,
        "hair_style": hair_style,
        "face_shape": face_shape,
        "facial_hair": facial_hair,
        "iris_colour": iris_colour,
    }
    return _Identity(
        attributes=attributes,
        skin=skin,
        hair=hair,
        iris=iris,
        lip=lip.astype(np.float32),
        clothes=clothes,
        head_scale=float(rng.normal(1.0, 0.03)),
        shape=shape,
        eye_y=float(rng.normal(-0.03, 0.008)),
        eye_dx=float(rng.uniform(0.100, 0.118)),
        eye_w=float(rng.uniform(0.045, 0.054)),
        eye_h=float(rng.uniform(0.017, 0.023) * (1.06 if not male else 1.0)),
        eye_tilt=float(rng.normal(0.04, 0.05)),
        brow_gap=float(rng.uniform(0.045, 0.060)),
        brow_arch=float(rng.uniform(0.006, 0.016) * (1.0 if male else 1.3)),
        brow_thick=float(rng.uniform(0.011, 0.016) if male else rng.uniform(0.006, 0.010)),
        nose_len=float(rng.uniform(0.115, 0.150)),
        nose_w=float(rng.uniform(0.030, 0.040) + 0.008 * darkness + (0.003 if male else 0)),
        mouth_gap=float(rng.uniform(0.070, 0.090)),
        mouth_w=float(rng.uniform(0.056, 0.072) + (0.004 if male else 0)),
        lip_up=float(rng.uniform(0.011, 0.015) + (0 if male else 0.003) + 0.004 * darkness),
        lip_low=float(rng.uniform(0.015, 0.021) + (0 if male else 0.004) + 0.004 * darkness),
        hairline=float(rng.uniform(-0.26, -0.20) if male else rng.uniform(-0.24, -0.19)),
        parting=float(rng.uniform(-0.06, 0.06)),
        fringe=bool(not male and rng.random() < 0.35),
        neck_w=float(rng.uniform(0.095, 0.115) + (0.015 if male else 0)),
        neckline=float(rng.uniform(0.02, 0.08)),
        blush=float(rng.uniform(0.02, 0.06) if male else rng.uniform(0.06, 0.18)),
        curls=np.stack(
            [
                rng.uniform(math.pi - 0.8, 2 * math.pi + 0.8, 70),
                rng.normal(0, 0.01, 70),
                rng.normal(0, 0.01, 70),
                rng.uniform(0.025, 0.045, 70),
                rng.random(70),
            ],
            1,
        )
        if hair_style == "curly"
        else np.zeros((0, 5)),
    )


def _superellipse(a: float, b: float, n: float, t: np.ndarray) -> np.ndarray:
    c, s = np.cos(t), np.sin(t)
    return np.stack([a * np.sign(c) * np.abs(c) ** (2 / n), b * np.sign(s) * np.abs(s) ** (2 / n)], 1)


def _ellipse(cx: float, cy: float, ax: float, ay: float, angle: float = 0.0, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = ax * np.cos(t), ay * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], 1)


def _face_outline(shape: dict[str, float], grow: float = 1.0) -> np.ndarray:
    """Closed face contour: superellipse forehead plus a tapered superellipse jaw."""
    a, bt, bb = shape["a"] * grow, shape["bt"] * grow, shape["bb"] * grow
    jaw = _superellipse(a, bb, shape["n_jaw"], np.linspace(0, math.pi, 40))
    jaw[:, 0] *= 1 - shape["taper"] * (np.clip(jaw[:, 1], 0, None) / bb) ** 2
    top = _superellipse(a, bt, shape["n_top"], np.linspace(math.pi, 2 * math.pi, 40))
    return np.concatenate([jaw, top[1:-1]])


def _stroke(points: np.ndarray, half_widths: np.ndarray) -> np.ndarray:
    """Polygon of a variable-width stroke along a polyline, for tapered pencil-like lines."""
    tangent = np.gradient(points, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) * half_widths[:, None]
    return np.concatenate([points + normal, (points - normal)[::-1]])


def _support(mask: np.ndarray) -> tuple[slice, slice]:
    """Bounding box of a mask's non-zero pixels, so painting touches only where it matters."""
    x, y, w, h = cv2.boundingRect((mask > 1e-4).view(np.uint8))
    return slice(y, y + h), slice(x, x + w)


class _Painter:
    """Paints face-frame shapes onto a supersampled, premultiplied float canvas.

    Face-frame coordinates are in units of the image width at head scale 1, centred on the face;
    one transform (translation, scale, small roll) maps them to canvas pixels for each view.
    """

    def __init__(self, canvas: int, origin: np.ndarray, scale: float, roll: float) -> None:
        self.n = canvas
        self.origin = origin
        self.scale = scale
        self.rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
        self.img = np.zeros((canvas, canvas, 3), np.float32)
        self.alpha = np.zeros((canvas, canvas), np.float32)

    def to_px(self, pts: np.ndarray) -> np.ndarray:
        frac = self.origin + self.scale * (np.asarray(pts, float).reshape(-1, 2) @ self.rot.T)
        return frac * self.n - 0.5

    def px(self, length: float) -> float:
        return length * self.scale * self.n

    def mask(self, *polys: np.ndarray, blur: float = 0.0) -> np.ndarray:
        m = np.zeros((self.n, self.n), np.uint8)
        for poly in polys:
            pts = np.round(self.to_px(poly) * 16).astype(np.int32)
            cv2.fillPoly(m, [pts], 255, cv2.LINE_AA, shift=4)
        out = m.astype(np.float32) * (1 / 255)
        if blur > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.px(blur))
        return out

    def paint(self, mask: np.ndarray, colour: np.ndarray, opacity: float = 1.0) -> None:
        roi = _support(mask)
        m = mask[roi] * opacity
        colour = colour[roi] if colour.ndim == 3 else colour.reshape(1, 1, 3)
        self.img[roi] += (colour - self.img[roi]) * m[..., None]
        self.alpha[roi] += (1 - self.alpha[roi]) * m

    def shade(self, mask: np.ndarray, factor: float | np.ndarray, opacity: float = 1.0) -> None:
        """Multiplies already painted colour (shadow if factor < 1, highlight if > 1).

        A per-channel factor lets skin shadows be warmer than a plain grey darkening.
        """
        roi = _support(mask)
        gain = np.asarray(factor, np.float32).reshape(1, 1, -1) - 1
        self.img[roi] *= 1 + gain * (opacity * mask[roi])[..., None]

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Face-frame coordinates of every canvas pixel."""
        c = (np.arange(self.n, dtype=np.float32) + 0.5) / self.n
        fx, fy = np.meshgrid(c - self.origin[0], c - self.origin[1])
        inv = self.rot.T / self.scale
        u = (inv[0, 0] * fx + inv[0, 1] * fy).astype(np.float32)
        return u, (inv[1, 0] * fx + inv[1, 1] * fy).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, sigma: tuple[float, float]) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed anisotropically (hair strands, pencil hatching)."""
    field = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), sigmaX=sigma[0], sigmaY=sigma[1])
    return field / (field.std() + 1e-6)


def _hair_texture(p: _Painter, rng: np.random.Generator, colour: np.ndarray, curly: bool) -> np.ndarray:
    sig = (p.px(0.004), p.px(0.004)) if curly else (p.px(0.0025), p.px(0.02))
    tex = 1 + 0.20 * _noise(rng, p.n, sig) + 0.08 * _noise(rng, p.n, (p.px(0.0012), p.px(0.0012)))
    return colour.reshape(1, 1, 3) * np.clip(tex, 0.5, 1.6)[..., None]


def _paint_back_hair(p: _Painter, ident: _Identity, tex: np.ndarray, style: str) -> None:
    """Hair behind the head: long/bob curtains, curly volume, bun."""
    s = ident.shape
    a, bt = s["a"], s["bt"]
    if style in ("long", "bob"):
        end, half = (0.62, a + 0.085) if style == "long" else (0.19, a + 0.06)
        arc = _superellipse(a + 0.055, bt + 0.05, s["n_top"], np.linspace(math.pi, 2 * math.pi, 30))
        bottom_x = np.linspace(half, -half, 15)
        if style == "long":
            bottom_y = end + 0.012 * np.cos(bottom_x * 31 + ident.parting * 50)
        else:  # a bob curls under toward the chin
            bottom_y = end - 0.05 * (np.abs(bottom_x) / half) ** 4 + 0.03 * (1 - (bottom_x / half) ** 2)
        side = np.array([[a + 0.06, 0.05], [half, end - 0.10]])
        poly = np.concatenate([arc, side, np.stack([bottom_x, bottom_y], 1), side[::-1] * [-1, 1]])
        p.paint(p.mask(poly, blur=0.002), tex)
    elif style == "curly":
        down = 0.42 if ident.attributes["gender"] == "female" else 0.02
        base = np.concatenate(
            [
                _superellipse(a + 0.05, bt + 0.05, 2.2, np.linspace(math.pi, 2 * math.pi, 30)),
                [[a + 0.04, down - 0.04], [-(a + 0.04), down - 0.04]],
            ]
        )
        # Bumpy silhouette: the subject's curls over the crown, and down the sides to `down`.
        curls = [base]
        for t, jx, jy, r, drop in ident.curls:
            if math.sin(t) > 0:
                x, y = (a + 0.05) * math.copysign(1, math.cos(t)), drop * down
            else:
                x, y = (a + 0.06) * math.cos(t), (bt + 0.05) * math.sin(t)
            curls.append(_ellipse(x + jx, y + jy, r, r, n=16))
        p.paint(p.mask(*curls, blur=0.002), tex)
    elif style == "bun":
        p.paint(p.mask(_ellipse(0, -(bt + 0.055), 0.07, 0.062)), tex)


def _paint_cap(p: _Painter, ident: _Identity, tex: np.ndarray, style: str) -> None:
    """Hair on top of the head that overlaps the forehead, with a style-specific hairline."""
    s = ident.shape
    a, bt = s["a"], s["bt"]
    if style == "bald":
        sides = [_ellipse(sign * a * 0.97, ident.eye_y - 0.035, 0.028, 0.065, n=24) for sign in (-1, 1)]
        p.paint(p.mask(*sides, blur=0.003), tex)
        return
    volume = {"short": 0.035, "buzz": 0.006, "curly": 0.07, "long": 0.04, "bob": 0.04, "bun": 0.014}[style]
    drop = {
        "short": ident.eye_y - 0.02,
        "buzz": ident.eye_y - 0.04,
        "curly": ident.eye_y + 0.02,
        "long": 0.20,
        "bob": 0.16,
        "bun": ident.eye_y - 0.05,
    }[style]
    inset = 0.90 if style in ("long", "bob") else 0.985
    line_y = -0.13 if ident.fringe else ident.hairline
    arc = _superellipse(a + volume, bt + volume * 1.2, s["n_top"], np.linspace(math.pi, 2 * math.pi, 40))
    hx = np.linspace(a * 0.9, -a * 0.9, 30)
    hy = line_y + 0.03 * (hx / a) ** 2 + 0.07 * np.clip(np.abs(hx) / a - 0.6, 0, None) / 0.3 + ident.parting * hx / a
    if style == "curly":
        hy = hy + 0.012 * np.abs(np.sin(hx * 70))
    elif ident.fringe:
        hy = hy + 0.008 * np.abs(np.sin(hx * 55))
    inner = np.concatenate([[[a * inset, drop]], np.stack([hx, hy], 1), [[-a * inset, drop]]])
    outer_drop = max(drop, 0.0)
    poly = np.concatenate([arc, [[a + volume, outer_drop]], inner, [[-(a + volume), outer_drop]]])
    cap = p.mask(poly, blur=0.002)
    if style == "buzz":
        p.paint(cap, tex * 0.9 + ident.skin.reshape(1, 1, 3) * 0.1, opacity=0.75)
    else:
        p.paint(cap, tex)
        p.shade(cap * (1 - cv2.GaussianBlur(cap, (0, 0), p.px(0.02))), 0.6)  # volume: darker rim


def _paint_eye(p: _Painter, ident: _Identity, side: int) -> None:
    """Paints one eye (side -1 = image left) centred at (side * eye_dx, eye_y)."""
    cx, cy = side * ident.eye_dx, ident.eye_y
    w, h = ident.eye_w, ident.eye_h
    t = np.linspace(0, 1, 25)
    x = -w + 2 * w * t
    upper = np.stack([x, -h * np.sin(math.pi * t) ** 0.8], 1)
    lower = np.stack([x, 0.75 * h * np.sin(math.pi * t) ** 1.1], 1)
    tilt = -side * ident.eye_tilt  # outer corners slightly higher

    def place(pts: np.ndarray) -> np.ndarray:
        c, s = math.cos(tilt), math.sin(tilt)
        return np.stack([cx + c * pts[:, 0] - s * pts[:, 1], cy + s * pts[:, 0] + c * pts[:, 1]], 1)

    skin = ident.skin
    # Socket shadow and eyelid crease give the eye depth.
    p.shade(p.mask(_ellipse(cx, cy - h * 0.9, w * 1.25, h * 2.0), blur=0.012), 0.86, 0.8)
    p.shade(p.mask(_stroke(place(upper * [1.05, 1.9] + [0, -0.002]), np.full(25, 0.0025)), blur=0.002), 0.78, 0.7)
    eye = p.mask(np.concatenate([place(upper), place(lower[::-1])]))
    p.paint(eye, np.array([236, 232, 226], np.float32) * 0.97)
    r = h * 1.05
    iris = p.mask(_ellipse(cx, cy, r, r, n=32)) * eye
    p.paint(iris, ident.iris)
    p.paint(p.mask(_ellipse(cx, cy, r * 0.62, r * 0.62, n=24), blur=0.002) * iris, ident.iris * 0.6)
    p.paint(p.mask(_ellipse(cx, cy, r * 0.46, r * 0.46, n=24)) * eye, np.array([12, 10, 10], np.float32))
    catchlight = p.mask(_ellipse(cx + r * 0.5, cy - r * 0.5, r * 0.16, r * 0.16, n=12))
    p.paint(catchlight, np.array([250, 250, 250], np.float32), 0.8)
    # Upper lid shadow on the eyeball, then the lid lines (lashes thicker for feminine faces).
    p.shade(p.mask(_stroke(place(upper + np.array([0, 0.003])), np.full(25, 0.003)), blur=0.002) * eye, 0.7)
    lash = 0.0030 + (0.0016 if ident.attributes["gender"] == "female" else 0)
    lid_w = lash * (0.5 + 0.5 * np.sin(math.pi * np.clip(t * 1.15, 0, 1)) + 0.4 * t)
    p.paint(p.mask(_stroke(place(upper), lid_w)), skin * 0.18 + 8)
    p.paint(p.mask(_stroke(place(lower), np.full(25, 0.0012)), blur=0.001), skin * 0.62, 0.8)


def _paint_brow(p: _Painter, ident: _Identity, side: int) -> None:
    t = np.linspace(0, 1, 20)
    x = side * (ident.eye_dx - ident.eye_w * 0.95 + t * ident.eye_w * 2.25)
    y = ident.eye_y - ident.brow_gap - ident.brow_arch * np.sin(math.pi * t**0.75) + 0.006 * t
    widths = ident.brow_thick * (1.0 - 0.55 * t**1.5) * (0.75 + 0.25 * np.sin(math.pi * np.clip(t * 3, 0, 1) / 2))
    brow_colour = ident.hair * 0.8 if ident.hair.mean() < 120 else ident.hair * 0.55
    p.paint(p.mask(_stroke(np.stack([x, y], 1), widths), blur=0.0015), brow_colour, 0.92)


def _paint_nose(p: _Painter, ident: _Identity) -> None:
    y0, yt, w = ident.eye_y, ident.eye_y + ident.nose_len, ident.nose_w
    for side in (-1, 1):
        bridge = np.stack([side * np.linspace(0.022, w * 0.62, 12), np.linspace(y0 + 0.01, yt - 0.012, 12)], 1)
        p.shade(p.mask(_stroke(bridge, np.linspace(0.005, 0.007, 12)), blur=0.007), 0.8)
        wing = _ellipse(side * w * 0.78, yt - 0.004, w * 0.33, 0.016, n=24)[6:20]
        p.shade(p.mask(_stroke(wing, np.full(len(wing), 0.0022)), blur=0.002), 0.72)
        p.paint(
            p.mask(_ellipse(side * w * 0.42, yt + 0.004, 0.011, 0.0055, side * 0.35, n=20), blur=0.001),
            ident.skin * 0.32,
            0.9,
        )
    p.shade(p.mask(_ellipse(0, yt + 0.012, w * 0.9, 0.010), blur=0.006), 0.78)
    p.shade(p.mask(_ellipse(0, yt - 0.012, w * 0.35, 0.016), blur=0.006), 1.12)
    p.shade(p.mask(_ellipse(0, y0 + 0.05, 0.010, 0.035), blur=0.006), 1.06)


def _paint_mouth(p: _Painter, ident: _Identity) -> None:
    ym = ident.eye_y + ident.nose_len + ident.mouth_gap
    w, up, low = ident.mouth_w, ident.lip_up, ident.lip_low
    x = np.linspace(-w, w, 31)
    u = x / w
    line_y = ym + 0.002 * (1 - u**2)
    bow = up * (1 - u**2) ** 0.6 * (1 - 0.35 * np.exp(-((u / 0.12) ** 2)))
    upper = np.concatenate([np.stack([x, line_y - bow], 1), np.stack([x, line_y], 1)[::-1]])
    lower = np.concatenate([np.stack([x, line_y], 1), np.stack([x, line_y + low * (1 - u**2) ** 0.7], 1)[::-1]])
    p.shade(p.mask(_ellipse(0, ym + low + 0.012, w * 0.6, 0.008), blur=0.006), 0.84)
    p.paint(p.mask(upper, lower, blur=0.0012), ident.lip)
    p.shade(p.mask(upper, blur=0.001), 0.88)
    p.shade(p.mask(_ellipse(0, ym + low * 0.45, w * 0.35, low * 0.2), blur=0.004), 1.12)
    p.paint(p.mask(_stroke(np.stack([x, line_y + 0.0005], 1), 0.0022 * (1 - 0.6 * u**2))), ident.lip * 0.42)


def _paint_facial_hair(p: _Painter, ident: _Identity, rng: np.random.Generator, kind: str) -> None:
    if kind == "none":
        return
    u, v = p.grid()
    s = ident.shape
    ym = ident.eye_y + ident.nose_len + ident.mouth_gap
    yt = ident.eye_y + ident.nose_len
    speckle = np.clip(1 + 0.35 * _noise(rng, p.n, (p.px(0.0015), p.px(0.0015))), 0.3, 1.7)
    colour = ident.hair * (0.75 if ident.hair.mean() < 120 else 0.6)
    outline = p.mask(_face_outline(s, 1.04))
    if kind in ("stubble", "beard"):
        boundary = yt + 0.035 - 0.13 * (u / s["a"]) ** 2
        region = outline * np.clip((v - boundary) / 0.02, 0, 1)
        if kind == "stubble":
            p.paint(region * np.clip(speckle - 0.3, 0, 1), colour * 0.8, 0.3)
        else:
            p.paint(cv2.GaussianBlur(region, (0, 0), p.px(0.003)), colour.reshape(1, 1, 3) * speckle[..., None])
    if kind in ("moustache", "beard", "goatee"):
        x = np.linspace(-ident.mouth_w * 1.08, ident.mouth_w * 1.08, 20)
        r = x / ident.mouth_w
        centre = np.stack([x, ym - 0.014 - 0.006 * (1 - r**2) + 0.012 * np.abs(r) ** 4], 1)
        shapes = [_stroke(centre, 0.0085 * (1 - 0.5 * np.abs(r) ** 3))]
        if kind == "goatee":
            shapes.append(_ellipse(0, ym + 0.065, ident.mouth_w * 0.55, 0.05))
        hair_mask = p.mask(*shapes, blur=0.002) * (outline if kind == "goatee" else 1)
        p.paint(hair_mask, colour.reshape(1, 1, 3) * speckle[..., None])


def _background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plain light backdrop with a gentle two-colour gradient, like a photo studio wall."""
    hue = rng.uniform(0, 180)
    colours = []
    for _ in range(2):
        hsv = np.uint8([[[(hue + rng.normal(0, 8)) % 180, rng.uniform(0, 70), rng.uniform(165, 248)]]])
        colours.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32))
    angle = rng.uniform(0, 2 * math.pi)
    c = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    t = np.clip(0.5 + c[None, :] * math.cos(angle) + c[:, None] * math.sin(angle), 0, 1)
    return colours[0] + (colours[1] - colours[0]) * t[..., None]


def _render_view(rng: np.random.Generator, ident: _Identity, size: int) -> tuple[np.ndarray, EyeCentres]:
    """Paints one view of a subject; only pose jitter, lighting, background and noise vary."""
    supersample = max(2, math.ceil(256 / size))
    n = size * supersample
    origin = np.array([0.5 + rng.normal(0, 0.018), 0.47 + rng.normal(0, 0.015)])
    p = _Painter(n, origin, 0.88 * ident.head_scale * rng.normal(1, 0.035), float(rng.normal(0, 0.035)))
    s = ident.shape
    style = ident.attributes["hair_style"]
    skin = ident.skin
    tex = _hair_texture(p, rng, ident.hair, curly=style == "curly")

    _paint_back_hair(p, ident, tex, style)
    nw = ident.neck_w
    neck_y = np.linspace(0.05, 0.47, 12)
    neck_x = nw * (1 + 0.5 * (np.clip(neck_y - 0.30, 0, None) / 0.17) ** 2)
    neck = p.mask(np.concatenate([np.stack([-neck_x, neck_y], 1), np.stack([neck_x, neck_y], 1)[::-1]]))
    p.paint(neck, skin * 0.9)
    p.shade(p.mask(_ellipse(0, s["bb"] + 0.005, s["a"] * 0.75, 0.06), blur=0.025) * neck, 0.62)
    shoulders = np.array([[-0.58, 1.0], [-0.52, 0.62], [-0.45, 0.53], [-0.30, 0.465], [-0.15, 0.435], [0, 0.43]])
    body = p.mask(np.concatenate([shoulders, shoulders[-2::-1] * [-1, 1]]), blur=0.002)
    neckline = p.mask(_ellipse(0, 0.425, nw * 1.25, ident.neckline))
    p.paint(body * (1 - neckline), ident.clothes)
    p.shade(body * (1 - cv2.GaussianBlur(body, (0, 0), p.px(0.03))), 0.7)
    for side in (-1, 1):
        ear_y = ident.eye_y + ident.nose_len * 0.45
        p.paint(p.mask(_ellipse(side * (s["a"] - 0.004), ear_y, 0.030, 0.058, side * 0.12)), skin * 0.93)
        p.shade(p.mask(_ellipse(side * (s["a"] + 0.006), ear_y, 0.013, 0.036), blur=0.004), 0.78)
    face = p.mask(_face_outline(s))
    skin_tex = skin.reshape(1, 1, 3) * (1 + 0.008 * _noise(rng, n, (p.px(0.01), p.px(0.01))))[..., None]
    p.paint(face, skin_tex)
    # Rounded, soft-shadowed face: darker toward the contour, plus cheek blush.
    rim = cv2.GaussianBlur(face, (0, 0), p.px(0.05))
    p.shade(face * (1 - rim), np.array([0.66, 0.56, 0.52]))
    for side in (-1, 1):
        p.paint(
            p.mask(_ellipse(side * 0.12, ident.eye_y + 0.09, 0.05, 0.032), blur=0.02),
            np.array([214, 92, 100], np.float32) * (skin.mean() / 200) ** 0.5,
            ident.blush,
        )
    for side in (-1, 1):
        _paint_eye(p, ident, side)
        _paint_brow(p, ident, side)
    _paint_nose(p, ident)
    _paint_facial_hair(p, ident, rng, ident.attributes["facial_hair"])
    _paint_mouth(p, ident)
    _paint_cap(p, ident, tex, style)

    # Directional light over the whole person, with a soft cast shadow on the backdrop.
    light = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0.10, 0.30)
    ambient = rng.uniform(0.92, 1.06)
    u, v = p.grid()
    lit = ambient * (1 + strength * np.clip((u * math.cos(light) + v * math.sin(light)) / 0.3, -1.2, 1.2))
    background = _background(rng, n)
    offset = np.float32([[1, 0, -math.cos(light) * p.px(0.04)], [0, 1, -math.sin(light) * p.px(0.04)]])
    shadow = cv2.GaussianBlur(cv2.warpAffine(p.alpha, offset, (n, n)), (0, 0), p.px(0.04))
    background *= (1 - 0.22 * shadow)[..., None]
    image = background * (1 - p.alpha[..., None]) + p.img * lit[..., None]
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    image += rng.normal(0, 1.6, image.shape).astype(np.float32)
    photo = np.clip(image + 0.5, 0, 255).astype(np.uint8)

    # Canvas pixel centres map to output pixel centres through the supersampling factor.
    eyes = (p.to_px(np.array([[-ident.eye_dx, ident.eye_y], [ident.eye_dx, ident.eye_y]])) + 0.5) / supersample - 0.5
    left, right = eyes
    return photo, EyeCentres(left=(float(left[0]), float(left[1])), right=(float(right[0]), float(right[1])))


def photo_to_sketch(photo_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Renders a greyscale pencil sketch of an RGB photo.

    Classic recipe: colour-dodge the greyscale photo with its blurred inverse (which keeps
    only local contrast on white paper; grey / blur(grey) is that same dodge written directly), darken it with edge strokes and hatched tone in the
    dark regions, then add paper grain.  Stroke strength is normalised per image so low-contrast
    (for example very dark-skinned) faces are drawn as clearly as light ones.
    """
    if photo_rgb.ndim != 3 or photo_rgb.shape[2] != 3 or photo_rgb.dtype != np.uint8:
        raise ValueError("photo_rgb must be an (H, W, 3) uint8 RGB image")
    h, w = photo_rgb.shape[:2]
    k = min(h, w) / 128
    grey = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2GRAY)
    # Local contrast equalisation makes features of dark or dimly lit faces as legible as light ones.
    local = cv2.createCLAHE(clipLimit=1.6, tileGridSize=(4, 4)).apply(grey).astype(np.float32)
    grey = grey.astype(np.float32)
    dodge = np.clip(local / np.maximum(cv2.GaussianBlur(local, (0, 0), 4 * k), 1), 0, 1)
    soft = cv2.GaussianBlur(local, (0, 0), 0.6 * k)
    mag = cv2.magnitude(cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3))
    lines = np.clip(mag / (np.percentile(mag, 98) + 1e-6), 0, 1) ** 1.4 * 0.8
    size = max(h, w)
    length = max(3, int(7 * k)) | 1
    hatch = cv2.filter2D(
        rng.standard_normal((size, size)).astype(np.float32)[:h, :w],
        -1,
        np.eye(length, dtype=np.float32)[::-1] / length,
    )
    hatch /= hatch.std() + 1e-6
    tone = np.clip((170 - (grey + local) / 2) / 170, 0, 1) ** 1.4
    shading = np.clip(tone * 0.5 * (1 + 0.6 * hatch), 0, 0.85)
    paper = 1 - 0.012 * np.abs(_noise(rng, size, (6 * k, 6 * k))[:h, :w])
    sketch = 255 * dodge * (1 - lines) * (1 - shading) * paper + rng.normal(0, 2.5, (h, w))
    return np.clip(sketch + 0.5, 0, 255).astype(np.uint8)


def render_subject(
    rng: np.random.Generator,
    subject: str,
    size: int,
    views: int,
    *,
    gender: str | None = None,
    tone_group: str | None = None,
) -> list[DemoFace]:
    """Renders `views` photo/sketch pairs of one new random subject.

    Identity is drawn from `rng` first and views after it, so asking for fewer views yields a
    prefix of the same faces.  `gender` / `tone_group` pin those attributes (for stratified
    generation); left as None they are drawn at random.
    """
    if size < 16 or views < 0:
        raise ValueError("size must be >= 16 and views >= 0")
    ident = _draw_identity(rng, gender, tone_group)
    faces = []
    for view in range(views):
        photo, eyes = _render_view(rng, ident, size)
        faces.append(
            DemoFace(
                subject=subject,
                view=view,
                photo=photo,
                sketch=photo_to_sketch(photo, rng),
                eyes=eyes,
                attributes=dict(ident.attributes),
            )
        )
    return faces


def generate_demo_faces(count: int, size: int, seed: int, views_per_subject: int) -> Iterator[DemoFace]:
    """Yields exactly `count` faces: subjects s0000, s0001, ... with up to `views_per_subject` views
    each (the last subject may have fewer), deterministic for a given seed.

    Groups are stratified rather than drawn at random so that even small demo sets cover them:
    tone groups cycle with the subject index and gender alternates with a shift every cycle, so
    every 12 consecutive subjects hold each (tone group, gender) pair exactly once.  Each subject
    gets its own generator seeded by (seed, index), so subject k does not depend on `count`.
    """
    if count < 0 or views_per_subject < 1:
        raise ValueError("count must be >= 0 and views_per_subject >= 1")
    produced, index = 0, 0
    while produced < count:
        views = min(views_per_subject, count - produced)
        tone = TONE_GROUPS[index % len(TONE_GROUPS)]
        gender = GENDERS[(index + index // len(TONE_GROUPS)) % len(GENDERS)]
        rng = np.random.default_rng([seed, index])
        yield from render_subject(rng, f"s{index:04d}", size, views, gender=gender, tone_group=tone)
        produced += views
        index += 1
