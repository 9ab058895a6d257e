"""Property-based fuzzing of what users put in a `pairs` source, through the real crop_resize and predict.

Hypothesis builds small folders of image files (valid, truncated, bit-flipped, with zeroed
regions, random bytes, empty; odd modes and sizes; names with spaces, non-UTF-8 bytes or a
leading dot; symbolic links to files, broken ones and loops) and runs `build_faces` and
`sketch2face predict` on them. Whatever the folder holds: no traceback, every entry is in the
manifest or in rejects.csv (or in predict's summary) exactly once, and the counts add up.

Under CI (`CI` set) the examples are derandomized, so a run is reproducible; locally each run
tries new ones and Hypothesis prints the failing example it shrank to.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sketch2face import cli
from sketch2face.config import CropResizeParams, SourceParams
from sketch2face.data.faces import MANIFEST_FILE, REJECTS_FILE, build_faces
from sketch2face.data.records import PARTNER_SEPARATOR, SourceError
from sketch2face.data.walk import printable

SIZE = 32  # crop_resize output and the tiny generator's side
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".webp": "WEBP", ".ppm": "PPM"}
MODES = ("L", "RGB", "RGBA", "P", "1", "LA", "I;16", "I", "F", "CMYK")
# mostly valid UTF-8 (`\xc3\xa9` is é), sometimes not (`\xe9` is Latin-1 é): most pairs should get through
NAME_PARTS = (b"a", b"b", b"face", b"1", b"-", b" ", b"\xc3\xa9") * 3 + (b"\xe9", b"\xff")
SUMMARY = re.compile(r"processed (\d+), failed (\d+)")
FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=timedelta(seconds=20),  # far above the usual fraction of a second: only a hang fails here
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Damage:
    kind: str  # none, truncate, flip, zero, random, empty
    where: float  # fraction of the file where the damage starts
    amount: int  # bits flipped, bytes zeroed, or the length of random bytes (truncate keeps `where` of the file)


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    mode: str
    suffix: str
    seed: int
    damage: Damage


@dataclass(frozen=True)
class Link:
    kind: str  # to_file (another entry), broken, loop (back to a folder above), self


@dataclass(frozen=True)
class Entry:
    folder: str  # "photos", "sketches", "" (the root) or "photos/sub"
    name: bytes
    content: Picture | Link


damages = st.builds(
    Damage,
    kind=st.sampled_from(["none"] * 5 + ["truncate", "flip", "zero", "random", "empty"]),
    where=st.floats(0.0, 0.95),
    amount=st.integers(1, 200),
)
pictures = st.builds(
    Picture,
    width=st.integers(8, 48) | st.integers(1, 48),  # mostly big enough for a face, not always
    height=st.integers(8, 48) | st.integers(1, 48),
    mode=st.sampled_from(MODES),
    suffix=st.sampled_from(sorted(FORMATS) * 3 + [".jpeg", ".PNG", ".txt", ""]),
    seed=st.integers(0, 2**16),
    damage=damages,
)
names = st.builds(
    lambda hidden, parts: (b"." if hidden else b"") + b"".join(parts),
    st.sampled_from([False] * 7 + [True]),  # now and then a hidden file, `.a.png`
    st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=3),
)


@st.composite
def sources(draw) -> list[Entry]:
    """Pairs sharing a stem in photos/ and sketches/, then stray files and links anywhere."""
    entries = []
    for stem in draw(st.lists(names, min_size=1, max_size=4, unique=True)):
        entries.extend(Entry(folder, stem, draw(pictures)) for folder in ("photos", "sketches"))
    folders = st.sampled_from(["photos", "sketches", "", "photos/sub"])
    links = st.builds(Link, st.sampled_from(["to_file", "broken", "loop", "self"]))
    entries += draw(st.lists(st.builds(Entry, folders, names, pictures | links), max_size=4))
    return entries


def _pixels(spec: Picture) -> Image.Image:
    rng = np.random.default_rng(spec.seed)
    shape = (spec.height, spec.width)
    if spec.mode == "F":
        scale = rng.choice([1.0, 255.0, 1e6, np.nan])
        return Image.fromarray((rng.random(shape) * scale).astype(np.float32), "F")
    if spec.mode in ("I;16", "I"):
        return Image.fromarray(rng.integers(0, 65536, shape).astype(np.uint16 if spec.mode == "I;16" else np.int32))
    return Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).convert(spec.mode)


def _encoded(spec: Picture) -> bytes:
    image, fmt = _pixels(spec), FORMATS.get(spec.suffix.lower(), "PNG")
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):  # a mode this format cannot hold
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def _damaged(data: bytes, damage: Damage, seed: int) -> bytes:
    start = int(damage.where * len(data))
    if damage.kind == "truncate":
        return data[:start]
    if damage.kind == "zero":
        return data[:start] + bytes(min(damage.amount, len(data) - start)) + data[start + damage.amount :]
    if damage.kind == "flip":
        flipped = bytearray(data)
        for position in np.random.default_rng(seed).integers(0, len(data), damage.amount):
            flipped[position] ^= 1 << int(position % 8)
        return bytes(flipped)
    if damage.kind == "random":
        return np.random.default_rng(seed).integers(0, 256, damage.amount, dtype=np.uint8).tobytes()
    return b"" if damage.kind == "empty" else data


def _write(root: Path, entries: list[Entry]) -> None:
    """The entries on disk; a name already taken is skipped. A link to a file points at the last
    picture written (at itself when there is none yet), a loop at a folder above it."""
    written: list[bytes] = []
    for entry in entries:
        folder = bytes(root) + (b"/" + entry.folder.encode() if entry.folder else b"")
        os.makedirs(folder, exist_ok=True)
        content = entry.content
        path = folder + b"/" + entry.name + (content.suffix.encode() if isinstance(content, Picture) else b".png")
        if os.path.lexists(path):
            continue
        if isinstance(content, Picture):
            with open(path, "wb") as stream:
                stream.write(_damaged(_encoded(content), content.damage, content.seed))
            written.append(path)
        else:
            target = {
                "to_file": written[-1] if written else path,
                "broken": bytes(root) + b"/nowhere.png",
                "loop": folder if entry.folder.count("/") else bytes(root),
                "self": path,
            }[content.kind]
            os.symlink(target, path)


def _entries(root: Path) -> list[Path]:
    """Every file and link under `root`, links to folders included, without following any link."""
    found = []
    for folder, folders, files in os.walk(root):
        found += [Path(folder, name) for name in files]
        found += [Path(folder, name) for name in folders if os.path.islink(os.path.join(folder, name))]
    return found


def _is_read(path: Path) -> bool:
    """A file predict reads (then a link to it is the same sketch), not one it skips (hidden)."""
    return path.is_file() and not path.name.startswith(".")


def _listed_once(manifest: pd.DataFrame, rejects: pd.DataFrame) -> Counter:
    listed = Counter(manifest.get("raw_photo", [])) + Counter(manifest.get("raw_sketch", []))
    listed += Counter(rejects["path"])
    listed += Counter(partner for cell in rejects["partner"] if cell for partner in cell.split(PARTNER_SEPARATOR))
    return listed


@FUZZ_SETTINGS
@given(entries=sources())
def test_crop_resize_uses_or_rejects_every_entry_of_a_fuzzed_pairs_source(entries):
    with tempfile.TemporaryDirectory() as temporary:
        root, out = Path(temporary, "raw"), Path(temporary, "faces")
        _write(root, entries)
        params = CropResizeParams(
            image_size=SIZE,
            sources=(SourceParams(name="p", kind="pairs", root=root),),
            workers=1,
            contact_sheet_pairs=2,
        )
        try:
            report = build_faces(params, out, Path(temporary, "faces.json"), progress=False)
        except SourceError as exc:  # nothing usable: a one-line user error, with rejects.csv written
            assert str(exc).startswith("no usable face pairs")
            report = None

        rejects = pd.read_csv(out / REJECTS_FILE, keep_default_na=False, dtype=str)
        manifest = pd.read_csv(out / MANIFEST_FILE, dtype=str) if report else pd.DataFrame()
        listed = _listed_once(manifest, rejects)
        assert listed == Counter(printable(path) for path in _entries(root)), "each entry listed exactly once"
        assert report is None or (report.used, report.rejected) == (len(manifest), len(rejects))
        for row in manifest.itertuples():
            assert Image.open(out / row.photo).size == Image.open(out / row.sketch).size == (SIZE, SIZE)


@FUZZ_SETTINGS
@given(entries=sources(), align=st.sampled_from(["detect", "center", "none"]))
def test_predict_writes_or_reports_every_entry_of_a_fuzzed_folder(entries, align, tiny_generator_file):
    with tempfile.TemporaryDirectory() as temporary:
        root, out = Path(temporary, "raw"), Path(temporary, "photos")
        _write(root, entries)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(
                [
                    "predict",
                    str(root),
                    "-o",
                    str(out),
                    "--model",
                    str(tiny_generator_file),
                    "--align",
                    align,
                    "--no-face",
                    "center_crop",
                ]
            )

        summary = stdout.getvalue()
        summary.encode("utf-8")  # printable on any terminal: no lone surrogates from odd names
        written, failed = map(int, SUMMARY.search(summary).groups())
        # a link to a file that is read anyway is that file again: one photo (README, "given twice")
        given = {Path(os.path.realpath(path)) if _is_read(path) else path for path in _entries(root)}
        assert written + failed == len(given)
        assert code == (cli.EXIT_OK if written else cli.EXIT_NOTHING_PROCESSED)
        assert len(list(out.rglob("*.png"))) == written
        failures = [line[2:].split(": ", 1)[0] for line in summary.splitlines() if line.startswith("  ")]
        assert set(failures) <= {printable(path) for path in _entries(root)}
