"""`read_image` on every kind of bad or unusual file: each is decoded correctly or rejected with its reason."""

from __future__ import annotations

import bz2
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import png_claiming
from PIL import Image, ImageFile

from sketch2face.data.images import (
    DEFAULT_MAX_PIXELS,
    FaceSizeLimits,
    ImageReadError,
    min_face_side,
    read_image,
    read_image_bytes,
)

EXIF_ORIENTATION = 0x0112
ROTATE_90_CLOCKWISE = 6


def _noise(height: int = 24, width: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


# --- writers: each makes one kind of file at the given path -------------------------------


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _truncated(fmt: str) -> Callable[[Path], None]:
    whole = _encoded(Image.fromarray(_noise()), fmt)
    return _write(whole[: len(whole) // 2])


def _truncated_bzip2_ppm(path: Path) -> None:
    """A FERET-style `.ppm.bz2` whose compressed stream was cut short (an interrupted copy)."""
    whole = bz2.compress(_encoded(Image.fromarray(_noise()), "PPM"))
    path.write_bytes(whole[: len(whole) // 2])


def _zeroed_middle(fmt: str, **options) -> Callable[[Path], None]:
    """200 bytes in the middle of the compressed pixels zeroed, as by a bad sector; the header is intact."""
    data = bytearray(_encoded(Image.fromarray(_noise(96, 96)), fmt, **options))
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)
    return _write(bytes(data))


def _smooth_jpeg(mode: str = "RGB", **options) -> Callable[[Path], None]:
    """Smooth ramps (red left to right, green top to bottom): decoding damage would show as a jump."""
    ramp = np.linspace(0, 255, 48).round().astype(np.uint8)
    red, green = np.broadcast_to(ramp[None, :], (48, 48)), np.broadcast_to(ramp[:, None], (48, 48))
    image = Image.fromarray(np.dstack([red, green, np.full((48, 48), 128, np.uint8)])).convert(mode)
    return _write(_encoded(image, "JPEG", quality=95, **options))


def _cmyk_jpeg(path: Path) -> None:
    image = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white paper
    image.paste((0, 255, 255, 0), (0, 0, 8, 16))  # magenta + yellow ink: red
    image.save(path, format="JPEG", quality=95)


def _sixteen_bit_png(path: Path) -> None:
    levels = np.array([[0, 257 * 128, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(levels).save(path, format="PNG")


def _sixteen_bit_png_with_transparency(path: Path) -> None:
    levels = np.array([[0, 257 * 128, 65535, 100]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(levels).save(path, format="PNG", transparency=100)  # only the value 100 is see-through


def _tiff(values: list, dtype: str, mode: str | None = None) -> Callable[[Path], None]:
    """A one-row greyscale TIFF of `values` stored as `dtype` (float32: PIL mode F, int32: mode I)."""
    return lambda path: Image.fromarray(np.array([values], dtype=dtype), mode).save(path, format="TIFF")


def _lab_tiff(path: Path) -> None:
    Image.new("LAB", (4, 4), (50, 20, 200)).save(path, format="TIFF")


def _rgba_png(path: Path) -> None:
    pixels = np.zeros((8, 8, 4), dtype=np.uint8)  # transparent black on the left ...
    pixels[:, 4:] = (0, 0, 255, 255)  # ... opaque blue on the right
    Image.fromarray(pixels, "RGBA").save(path, format="PNG")


def _la_png(path: Path) -> None:
    pixels = np.zeros((8, 8, 2), dtype=np.uint8)
    pixels[:, 4:] = (60, 255)
    Image.fromarray(pixels, "LA").save(path, format="PNG")


def _palette_png_with_transparency(path: Path) -> None:
    image = Image.new("P", (8, 8), 1)
    image.putpalette([255, 0, 0, 0, 0, 0])  # index 0 red, index 1 black (declared transparent)
    image.paste(0, (4, 0, 8, 8))
    image.save(path, format="PNG", transparency=1)


def _exif_rotated_jpeg(path: Path) -> None:
    """Stored 32 wide x 16 high with a white block top-left; the tag says: turn 90 degrees clockwise."""
    pixels = np.zeros((16, 32, 3), dtype=np.uint8)
    pixels[:6, :6] = 255
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_90_CLOCKWISE
    Image.fromarray(pixels).save(path, format="JPEG", quality=95, exif=exif)


def _directory(path: Path) -> None:
    path.mkdir()


# --- checks on the decoded pixels ----------------------------------------------------------


def _smooth_ramp_intact(pixels: np.ndarray) -> None:
    ramp = np.linspace(0, 255, 48)
    red, green = np.broadcast_to(ramp[None, :], (48, 48)), np.broadcast_to(ramp[:, None], (48, 48))
    expected = (
        np.dstack([red, green, np.full((48, 48), 128.0)])
        if pixels.ndim == 3
        else (0.299 * red + 0.587 * green + 0.114 * 128)
    )
    assert pixels.shape == expected.shape
    assert np.abs(pixels - expected).max() < 12, "a valid JPEG decodes to its picture"


def _cmyk_is_red_on_white(rgb: np.ndarray) -> None:
    assert rgb.shape == (16, 16, 3)
    np.testing.assert_allclose(rgb[8, 2], (255, 0, 0), atol=12)
    np.testing.assert_allclose(rgb[8, 13], (255, 255, 255), atol=12)


def _sixteen_bit_is_scaled_not_clipped(grey: np.ndarray) -> None:
    assert grey.shape == (4, 3)
    assert list(grey[0]) == [0, 128, 255]


def _sixteen_bit_is_scaled_with_its_transparent_value_white(grey: np.ndarray) -> None:
    assert list(grey[0]) == [0, 128, 255, 255], "values near the transparent one stay opaque, e.g. 0"


def _grey_row(expected: list[int]) -> Callable[[np.ndarray], None]:
    def check(pixels: np.ndarray) -> None:
        grey = pixels if pixels.ndim == 2 else pixels[..., 0]
        assert grey.tolist() == [expected], "the full scale of the values must map to 0..255, not clip to black"

    return check


def _transparent_half_is_white_paper(rgb: np.ndarray) -> None:
    assert (rgb[:, :4] == 255).all(), "transparent pixels must be white, not the colour under the alpha"
    assert not (rgb[:, 4:] == 255).all()


def _la_is_white_then_grey(grey: np.ndarray) -> None:
    assert (grey[:, :4] == 255).all() and (grey[:, 4:] == 60).all()


def _rotated_upright(rgb: np.ndarray) -> None:
    assert rgb.shape == (32, 16, 3), "EXIF orientation 6 turns a 32x16 landscape into a 16x32 portrait"
    assert rgb[:6, -6:].mean() > 200, "the top-left block must end up top-right"
    assert rgb[:6, :6].mean() < 50


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    write: Callable[[Path], None]
    mode: str = "rgb"
    check: Callable[[np.ndarray], None] | None = None  # used, with these pixels ...
    reason: str | None = None  # ... or rejected, with a reason starting like this


CASES = [
    Case("zero-byte file", "a.png", _write(b""), reason="empty file"),
    Case("truncated JPEG", "a.jpg", _truncated("JPEG"), reason="truncated image"),
    Case("truncated PNG", "a.png", _truncated("PNG"), reason="truncated image"),
    Case("truncated bzip2 PPM", "a.ppm.bz2", _truncated_bzip2_ppm, reason="truncated image"),
    Case("text file named .jpg", "a.jpg", _write(b"name,age\nann,31\n"), reason="not a readable image"),
    Case(
        "JPEG with zeroed entropy-coded data",
        "a.jpg",
        _zeroed_middle("JPEG", quality=90),
        reason="corrupt image (Corrupt JPEG data",
    ),
    Case(
        "progressive JPEG with zeroed data",
        "a.jpg",
        _zeroed_middle("JPEG", quality=90, progressive=True),
        reason="corrupt image (Corrupt JPEG data",
    ),
    Case("baseline JPEG", "a.jpg", _smooth_jpeg(), check=_smooth_ramp_intact),
    Case("progressive JPEG", "a.jpg", _smooth_jpeg(progressive=True), check=_smooth_ramp_intact),
    Case(
        "progressive greyscale JPEG",
        "a.jpg",
        _smooth_jpeg("L", progressive=True),
        mode="gray",
        check=_smooth_ramp_intact,
    ),
    Case(
        "JPEG with restart markers and 4:4:4 chroma",
        "a.jpg",
        _smooth_jpeg(restart_marker_blocks=2, subsampling=0),
        check=_smooth_ramp_intact,
    ),
    Case("CMYK JPEG", "a.jpg", _cmyk_jpeg, check=_cmyk_is_red_on_white),
    Case("16-bit greyscale PNG", "a.png", _sixteen_bit_png, mode="gray", check=_sixteen_bit_is_scaled_not_clipped),
    Case(
        "16-bit greyscale PNG with a transparent value",
        "a.png",
        _sixteen_bit_png_with_transparency,
        mode="gray",
        check=_sixteen_bit_is_scaled_with_its_transparent_value_white,
    ),
    Case("float TIFF in 0..1", "a.tif", _tiff([0.0, 0.5, 1.0], "float32"), mode="gray", check=_grey_row([0, 128, 255])),
    Case("float TIFF in 0..1, read as RGB", "a.tif", _tiff([0.0, 0.25, 1.0], "float32"), check=_grey_row([0, 64, 255])),
    Case(
        "float TIFF in 0..255",
        "a.tif",
        _tiff([0.0, 100.4, 255.0], "float32"),
        mode="gray",
        check=_grey_row([0, 100, 255]),
    ),
    Case(
        "float TIFF with NaN",
        "a.tif",
        _tiff([0.0, float("nan"), 1.0], "float32"),
        reason="unsupported pixel values (mode F, not all finite",
    ),
    Case(
        "float TIFF beyond 0..255",
        "a.tif",
        _tiff([-1.0, 3000.0], "float32"),
        reason="unsupported pixel values (mode F, -1 to 3000",
    ),
    Case(
        "32-bit integer TIFF in 0..255",
        "a.tif",
        _tiff([0, 128, 255], "int32"),
        mode="gray",
        check=_grey_row([0, 128, 255]),
    ),
    Case(
        "32-bit integer TIFF in 0..65535",
        "a.tif",
        _tiff([0, 257 * 128, 65535], "int32"),
        mode="gray",
        check=_grey_row([0, 128, 255]),
    ),
    Case(
        "32-bit integer TIFF beyond 0..65535",
        "a.tif",
        _tiff([0, 70000], "int32"),
        reason="unsupported pixel values (mode I, 0 to 70000",
    ),
    Case("CIELAB TIFF", "a.tif", _lab_tiff, reason="unsupported pixel format 'LAB'"),
    Case("RGBA PNG", "a.png", _rgba_png, check=_transparent_half_is_white_paper),
    Case("LA PNG (grey + alpha)", "a.png", _la_png, mode="gray", check=_la_is_white_then_grey),
    Case(
        "palette PNG with transparency", "a.png", _palette_png_with_transparency, check=_transparent_half_is_white_paper
    ),
    Case("EXIF-rotated JPEG", "a.jpg", _exif_rotated_jpeg, check=_rotated_upright),
    Case("header over max_pixels", "a.png", _write(png_claiming(9000, 9000)), reason="too large (9000x9000"),
    Case(
        "decompression bomb",
        "a.png",
        _write(png_claiming(60000, 60000)),
        reason="too large, possible decompression bomb",
    ),
    Case("directory named x.png", "x.png", _directory, reason="is a directory"),
    Case("missing file", "a.png", lambda path: None, reason="file not found"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_or_unusual_input_is_used_correctly_or_rejected_with_its_reason(case: Case, tmp_path):
    path = tmp_path / case.filename
    case.write(path)
    if case.reason is None:
        pixels = read_image(path, case.mode)
        assert pixels.dtype == np.uint8
        case.check(pixels)
    else:
        with pytest.raises(ImageReadError) as error:
            read_image(path, case.mode)
        assert error.value.reason.startswith(case.reason), error.value.reason
        assert error.value.path == str(path) and str(path) in str(error.value)


FILE_ONLY_CASES = {"truncated bzip2 PPM", "directory named x.png", "missing file"}  # what only a path can be


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.name not in FILE_ONLY_CASES],
    ids=[case.name for case in CASES if case.name not in FILE_ONLY_CASES],
)
def test_bytes_in_memory_are_read_exactly_like_the_same_file(case: Case, tmp_path):
    path = tmp_path / case.filename
    case.write(path)
    if case.reason is None:
        from_bytes = read_image_bytes(path.read_bytes(), "upload", case.mode)
        np.testing.assert_array_equal(from_bytes, read_image(path, case.mode))
    else:
        with pytest.raises(ImageReadError) as error:
            read_image_bytes(path.read_bytes(), "upload", case.mode)
        assert error.value.reason.startswith(case.reason), error.value.reason
        assert error.value.path == "upload"


def test_bytes_pixel_budget_is_configurable():
    data = _encoded(Image.fromarray(_noise(24, 32)), "PNG")
    assert read_image_bytes(data, "upload", "gray", max_pixels=24 * 32).shape == (24, 32)
    with pytest.raises(ImageReadError, match="upload: too large \\(32x24 pixels, limit 767\\)"):
        read_image_bytes(data, "upload", "gray", max_pixels=24 * 32 - 1)


def test_unreadable_file_is_rejected_as_permission_denied(shared_tmp, unprivileged):
    path = shared_tmp / "locked.png"
    Image.fromarray(_noise()).save(path)
    path.chmod(0o000)
    with pytest.raises(ImageReadError) as error:
        unprivileged(lambda: read_image(path, "rgb"))
    assert error.value.reason == "permission denied"


def test_pixel_budget_is_configurable(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(_noise(24, 32)).save(path)
    assert read_image(path, "gray", max_pixels=24 * 32).shape == (24, 32)
    with pytest.raises(ImageReadError, match="too large \\(32x24 pixels, limit 767\\)"):
        read_image(path, "gray", max_pixels=24 * 32 - 1)
    assert DEFAULT_MAX_PIXELS >= 4000 * 4000, "ordinary camera photos must pass"


def test_truncated_images_are_never_filled_in(tmp_path):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
            read_image(tmp_path / "any.png", "rgb")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def _valid_encodings() -> list[bytes]:
    image = Image.fromarray(_noise(12, 10))
    return [_encoded(image, "PNG"), _encoded(image, "JPEG", quality=90), _encoded(image.convert("P"), "PNG")]


def _fuzz_inputs(count: int, seed: int = 7) -> list[bytes]:
    """Random bytes, and valid PNG/JPEG files with random bytes flipped, cut or inserted."""
    rng = np.random.default_rng(seed)
    valid = _valid_encodings()
    inputs = []
    for index in range(count):
        if index % 4 == 0:
            inputs.append(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes())
            continue
        data = bytearray(valid[index % len(valid)])
        for _ in range(int(rng.integers(1, 6))):
            position = int(rng.integers(0, len(data)))
            action = rng.integers(0, 3)
            if action == 0:
                data[position] = int(rng.integers(0, 256))
            elif action == 1:
                del data[position : position + int(rng.integers(1, 64))]
            else:
                data[position:position] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        inputs.append(bytes(data))
    return inputs


def test_fuzzed_bytes_decode_to_valid_pixels_or_raise_image_read_error(tmp_path):
    outcomes = {"used": 0, "rejected": 0}
    for index, data in enumerate(_fuzz_inputs(300)):
        path = tmp_path / f"{index}.png"
        path.write_bytes(data)
        for mode, channels in (("rgb", (3,)), ("gray", ())):
            try:
                pixels = read_image(path, mode)
            except ImageReadError as exc:
                assert exc.reason and "\n" not in exc.reason
                outcomes["rejected"] += 1
                continue
            assert pixels.dtype == np.uint8 and pixels.ndim == 2 + len(channels)
            assert pixels.shape[2:] == channels and min(pixels.shape[:2]) >= 1
            outcomes["used"] += 1
    assert outcomes["rejected"] > 0 and outcomes["used"] > 0, outcomes


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ((1, 1), "too small to hold a face (1x1 px; shorter side under 16 px, set by min_side_setting)"),
        ((4000, 2), "too small to hold a face (4000x2 px; shorter side under 16 px, set by min_side_setting)"),
        ((15, 200), "too small to hold a face (15x200 px; shorter side under 16 px, set by min_side_setting)"),
        ((500, 100), "extreme aspect ratio (500x100 px; the longer side is over 4 times the shorter)"),
        ((20, 81), "extreme aspect ratio (20x81 px; the longer side is over 4 times the shorter)"),
    ],
    ids=["1x1", "4000x2", "narrow", "5:1", "just over 4:1"],
)
def test_an_image_that_cannot_hold_a_face_is_rejected_from_its_header(tmp_path, size, reason):
    path = tmp_path / "a.png"
    path.write_bytes(png_claiming(*size)[:-12])  # the header alone: nothing is decoded
    limits = FaceSizeLimits(min_side=16, set_by="min_side_setting")
    with pytest.raises(ImageReadError) as error:
        read_image(path, "gray", limits=limits)
    assert error.value.reason == reason


@pytest.mark.parametrize("size", [(16, 16), (20, 80), (80, 20), (300, 400)], ids=str)
def test_an_image_within_the_limits_is_read(tmp_path, size):
    path = tmp_path / "a.png"
    Image.new("L", size, 7).save(path)
    assert read_image(path, "gray", limits=FaceSizeLimits(min_side=16)).shape == size[::-1]


def test_the_default_shortest_side_is_a_quarter_of_the_output_but_at_least_8_px():
    assert [min_face_side(size) for size in (16, 32, 64, 256, 1024)] == [8, 8, 16, 64, 256]
