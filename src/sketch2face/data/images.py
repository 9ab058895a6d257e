"""Reading face images from users' disks into uint8 arrays, with errors that name the file.

Every stage that reads images goes through `read_image` (an upload held in memory through
`read_image_bytes`), so this is the one place that decides what a usable image is. An input is
either decoded completely and correctly or rejected with a short reason for `rejects.csv`; it
never comes back half-decoded:

- truncated files are errors (PIL's `LOAD_TRUNCATED_IMAGES` stays False, which would otherwise
  fill the missing rows with grey);
- a JPEG whose compressed pixels are damaged (bytes zeroed or flipped) is an error: libjpeg
  decodes it into a visibly broken picture and only warns, and Pillow drops the warning, so the
  JPEG is decoded once more by libjpeg-turbo in strict mode, where a warning about the pixel data
  is an error;
- transparent images (RGBA, LA, palette or greyscale with a transparent colour) are composited
  on white, because sketches are drawn on white paper and transparent pixels would otherwise
  turn black;
- 16-bit greyscale is scaled to 8 bits (PIL's own conversion clips everything above 255); 32-bit
  integer and float greyscale (TIFF) are scaled by the range their values show: float in 0..1
  (PIL would turn it black), 0..255, or 0..65535 for integers; any other range, or a NaN, is
  rejected rather than guessed, and so is a colour space PIL cannot convert (CIELAB, HSV);
- CMYK is converted to RGB, EXIF orientation is applied;
- images over `max_pixels` are refused from their header, before any decoding (decompression
  bombs: a few kB of PNG can claim gigapixels), and so are images that cannot hold a face
  (`FaceSizeLimits`: a 1x1 dot, a 4000x2 strip);
- bzip2-compressed images (`x.ppm.bz2`, as FERET ships them) are decompressed while reading.
"""

from __future__ import annotations

import bz2
import errno
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import simplejpeg
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ColourMode = Literal["rgb", "gray"]
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp"})
DEFAULT_MAX_PIXELS = 64_000_000  # 8000 x 8000: far beyond any face photo, far below a bomb
# A portrait is 3:4, a scanned page 1:1.4, each half of an AB pair 1:1: beyond 4:1 a picture is a strip, not a face.
MAX_ASPECT_RATIO = 4.0
MIN_FACE_SIDE_FLOOR = 8  # px: no image with a shorter side than this holds a face, whatever the output size
OUTPUT_PER_MIN_SIDE = 4  # by default the shortest side is a quarter of the S x S output
PAPER_WHITE = (255, 255, 255, 255)
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
WIDE_MODES = SIXTEEN_BIT_MODES | {"I", "F"}  # one grey channel wider than 8 bits: 16 or 32-bit integer, float
UNCONVERTIBLE_MODES = frozenset({"LAB", "HSV"})  # PIL would copy their channels into RGB as they are
TRANSPARENT_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
EIGHT_BIT_TARGET = {"rgb": "RGB", "gray": "L"}
BZIP2_SUFFIX = ".bz2"  # FERET ships its images bzip2-compressed (`00001_930831_fa.ppm.bz2`)
JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a phone's multi-picture JPEG, read as its first picture
STRICT_JPEG_COLOURSPACE = {"L": "GRAY", "CMYK": "CMYK"}  # else RGB
# libjpeg warnings (jerror.h) that mean the pixels are damaged; others (an unknown JFIF version...) are harmless
DAMAGED_JPEG_WARNINGS = (
    "Corrupt JPEG data",
    "Premature end of JPEG file",
    "Inconsistent progression sequence",
    "Invalid SOS parameters",
)


class ImageReadError(ValueError):
    """An input image that cannot be used; `reason` is short enough for a rejects table."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self) -> tuple:
        """Picklable, so the error survives the trip back from a worker process."""
        return type(self), (self.path, self.reason)


def min_face_side(output_size: int) -> int:
    """The default shortest side of an input for S x S outputs: S / 4, and at least 8 px.

    A face in a smaller image would be enlarged more than four times even if it filled the
    image: the output would show the blur of the enlargement, not a face.
    """
    return max(MIN_FACE_SIDE_FLOOR, output_size // OUTPUT_PER_MIN_SIDE)


@dataclass(frozen=True)
class FaceSizeLimits:
    """The sizes an image that is to hold a face may have; `set_by` names the setting of `min_side`."""

    min_side: int
    max_aspect: float = MAX_ASPECT_RATIO
    set_by: str = ""

    def check(self, path: Path | str, width: int, height: int) -> None:
        """Raises ImageReadError when a width x height image is too small or too narrow for a face."""
        if min(width, height) < self.min_side:
            setting = f", set by {self.set_by}" if self.set_by else ""
            reason = f"too small to hold a face ({width}x{height} px; shorter side under {self.min_side} px{setting})"
            raise ImageReadError(path, reason)
        if max(width, height) > self.max_aspect * min(width, height):
            ratio = f"the longer side is over {self.max_aspect:g} times the shorter"
            raise ImageReadError(path, f"extreme aspect ratio ({width}x{height} px; {ratio})")


def _uncompressed_name(path: Path) -> Path:
    return Path(path.stem) if path.suffix.lower() == BZIP2_SUFFIX else Path(path.name)


def is_image_file(path: Path) -> bool:
    """An image by its extension, also when bzip2-compressed (`x.ppm.bz2`)."""
    return path.is_file() and _uncompressed_name(path).suffix.lower() in IMAGE_SUFFIXES


def image_stem(path: Path) -> str:
    """The name without its image extension: `a.jpg` and `a.ppm.bz2` both give `a`."""
    return _uncompressed_name(path).stem


def _on_white(image: Image.Image) -> Image.Image:
    """Composites a transparent image on white paper; opaque images pass unchanged."""
    if image.mode not in TRANSPARENT_MODES and "transparency" not in image.info:
        return image
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, PAPER_WHITE), rgba).convert("RGB")


LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as MATLAB's rgb2gray


def luma(pixels: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 1) grey uint8, rounded; greyscale (..., 1) is returned as is."""
    if pixels.shape[-1] == 1:
        return pixels
    red, green, blue = (pixels[..., channel].astype(np.float64) for channel in range(3))
    weighted = LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue
    return np.round(weighted).astype(np.uint8)[..., None]


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """Greyscale (H, W) or (..., 1) replicated to (..., 3); RGB is returned as is."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def _white_level(path: Path | str, mode: str, wide: np.ndarray) -> float:
    """The value that stands for white: 65535 for 16-bit modes, else read off the range of the values.

    32-bit integer and float images carry no nominal range: float in 0..1 and integers in 0..65535
    are the common ones besides 0..255; values fitting none of them are not guessed at.
    """
    if mode in SIXTEEN_BIT_MODES:
        return 65535.0
    if not np.isfinite(wide).all():
        raise ImageReadError(path, f"unsupported pixel values (mode {mode}, not all finite: NaN or infinity)")
    low, high = float(wide.min()), float(wide.max())
    ranges = (1.0, 255.0) if mode == "F" else (255.0, 65535.0)
    if low >= 0:
        for white in ranges:
            if high <= white:
                return white
    expected = " or ".join(f"0 to {white:g}" for white in ranges)
    raise ImageReadError(path, f"unsupported pixel values (mode {mode}, {low:g} to {high:g}; expected {expected})")


def _eight_bit(path: Path | str, image: Image.Image) -> Image.Image:
    """A greyscale image wider than 8 bits scaled down to 0..255 ("L") instead of letting PIL clip it.

    A transparent grey value becomes an alpha mask ("LA") taken from the wide pixels, so
    `_on_white` still sees exactly the transparent pixels.
    """
    if image.mode in UNCONVERTIBLE_MODES:
        raise ImageReadError(path, f"unsupported pixel format {image.mode!r} (no conversion to RGB here)")
    if image.mode not in WIDE_MODES:
        return image
    wide = np.asarray(image, dtype=np.float64)
    white = _white_level(path, image.mode, wide)
    grey = Image.fromarray(np.clip(np.round(wide * (255.0 / white)), 0, 255).astype(np.uint8), "L")
    if "transparency" not in image.info:
        return grey
    opaque = np.where(wide == image.info["transparency"], 0, 255).astype(np.uint8)
    return Image.merge("LA", (grey, Image.fromarray(opaque, "L")))


def _check_jpeg_pixels(label: Path | str, data: bytes, mode: str) -> None:
    """Raises ImageReadError when libjpeg warns that the compressed pixels of `data` are damaged."""
    try:
        simplejpeg.decode_jpeg(data, colorspace=STRICT_JPEG_COLOURSPACE.get(mode, "RGB"), strict=True)
    except ValueError as exc:
        if str(exc).startswith(DAMAGED_JPEG_WARNINGS):
            raise ImageReadError(label, f"corrupt image ({exc})") from None


def _decode(path: Path, max_pixels: int, limits: FaceSizeLimits | None) -> Image.Image:
    """Opens and fully decodes the file `path` (bzip2-compressed when its name says so)."""
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    if path.is_file() and path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    compressed = path.suffix.lower() == BZIP2_SUFFIX
    with bz2.open(path) if compressed else open(path, "rb") as stream:
        return _decode_stream(stream, path, max_pixels, limits)


def _decode_stream(stream: BinaryIO, label: Path | str, max_pixels: int, limits: FaceSizeLimits | None) -> Image.Image:
    """Fully decodes an open image stream; the pixel budget and the size limits are checked from the header alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(stream) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageReadError(label, f"too large ({width}x{height} pixels, limit {max_pixels})")
            if limits is not None:
                limits.check(label, width, height)
            image.load()
            if image.format in JPEG_FORMATS:
                stream.seek(0)
                _check_jpeg_pixels(label, stream.read(), image.mode)
            return ImageOps.exif_transpose(image)


def _reason(exc: Exception) -> str:
    """A short, stable reason for an exception raised while opening or decoding an image."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large, possible decompression bomb ({exc})"
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image"
    if isinstance(exc, OSError) and exc.errno not in (None, 0):
        return f"cannot read file ({errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror})"
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():  # EOFError: a bzip2 stream cut short
        return "truncated image"
    return f"corrupt image ({type(exc).__name__}: {exc})"


def read_image(
    path: Path | str, mode: ColourMode, max_pixels: int = DEFAULT_MAX_PIXELS, limits: FaceSizeLimits | None = None
) -> np.ndarray:
    """Decodes `path` as RGB (H, W, 3) or greyscale (H, W) uint8, or raises `ImageReadError`.

    With `limits`, an image that cannot hold a face is refused before it is decoded.
    """
    path = Path(path)
    return _checked_pixels(lambda: _decode(path, max_pixels, limits), path, mode)


def read_image_bytes(
    data: bytes,
    label: str,
    mode: ColourMode,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    limits: FaceSizeLimits | None = None,
) -> np.ndarray:
    """Decodes an image held in memory (an upload) as `read_image` decodes a file; `label` names it in errors."""
    if not data:
        raise ImageReadError(label, "empty file (0 bytes)")
    return _checked_pixels(lambda: _decode_stream(io.BytesIO(data), label, max_pixels, limits), label, mode)


def _checked_pixels(decode: Callable[[], Image.Image], label: Path | str, mode: ColourMode) -> np.ndarray:
    """The pixels of what `decode` returns, converted to `mode`; every failure is an `ImageReadError`."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated images would pass as grey")
    try:
        image = decode()
    except ImageReadError:
        raise
    except Exception as exc:  # PIL's format plugins raise many types on malformed bytes
        raise ImageReadError(label, _reason(exc)) from None
    eight_bit = _eight_bit(label, image)
    try:
        pixels = np.asarray(_on_white(eight_bit).convert(EIGHT_BIT_TARGET[mode]))
    except (OSError, ValueError) as exc:
        raise ImageReadError(label, f"unsupported pixel format {image.mode!r} ({exc})") from None
    if pixels.size == 0:
        raise ImageReadError(label, "image has no pixels")
    return pixels
