"""Turning new sketches into photos with a trained generator, aligned exactly as its training data.

A sketch (a cropped face or a whole scan) is read, aligned to the canonical geometry stored in
the generator file (eye centres from a detector, or a centre crop), run through the generator in
batches and written as `<out>/<name>.png`, optionally with `<name>_side_by_side.png`
(sketch | photo). Every input is either written or listed with the reason it was not. A
generator trained with appearance hints takes each sketch's skin and hair colour when a user
gives them (for all sketches, or per file in a CSV); otherwise it guesses them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sketch2face.colour import Lab, parse_colour
from sketch2face.config import HINT_NAMES, AlignmentParams, DeviceKind, NoFacePolicy
from sketch2face.data.align import align_to_eyes, alignment_geometry, canonical_eyes, center_crop_resize
from sketch2face.data.images import (
    ColourMode,
    FaceSizeLimits,
    ImageReadError,
    as_rgb,
    is_image_file,
    min_face_side,
    read_image,
)
from sketch2face.data.records import EyeCentres
from sketch2face.data.walk import Skipped, classify, walk_folder
from sketch2face.io import write_image
from sketch2face.models.cpu import use_cpu_kernels
from sketch2face.models.generator import SKETCH_TO_PHOTO, SketchToPhoto, load_generator_file

AlignMode = Literal["detect", "center", "none"]
ALIGN_MODES: tuple[str, ...] = get_args(AlignMode)
DEVICE_CHOICES: tuple[str, ...] = get_args(DeviceKind)
EyeLocator = Callable[[np.ndarray], EyeCentres | None]

DETECTOR_MODULE = "sketch2face.data.detect"
PHOTO_SUFFIX = ".png"
SIDE_BY_SIDE_SUFFIX = "_side_by_side"
NO_FACE_FOUND = "no face found"
UNPICKLER_DETAIL = "WeightsUnpickler error:"  # in torch's message, before the reason its weights-only loader refused
# how a written sketch was aligned, as counted in the summary
BY_DETECTED_EYES, BY_CENTRE_CROP, AS_GIVEN = "detected eyes", "center crop", "as given"
BY_FACE_BOX = "eyes placed in the face box"  # a face was found but not its eyes
BY_GIVEN_EYES = "given eyes"  # placed by a person (the web app)
SketchHints = Mapping[str, Lab | None]  # a sketch's hints by name; None: no hint (the generator guesses)
HINTS_FILE_COLUMN = "file"


class UnusableSketch(ValueError):
    """An input that cannot become a photo; `reason` is short enough for the summary."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class GeneratorFileError(ValueError):
    """A model file that holds no generator this code can load; the message is one line for the user."""


class DetectorUnavailable(RuntimeError):
    """`--align detect` was asked for, but the face detector module is not installed."""


# ---- loading a generator -----------------------------------------------------------------------


def _first_sentence(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line.split(". ", 1)[0].strip().removesuffix(".")


def _load_problem(exc: Exception) -> str:
    """Why torch could not load a generator file, in one line.

    A file torch will not unpickle as plain weights gets torch's own detail, without its advice
    to retry with `weights_only=False`: that would run whatever code the file holds.
    """
    if isinstance(exc, pickle.UnpicklingError):
        detail = str(exc).split(UNPICKLER_DETAIL, 1)[-1]
        return f"not a file of plain PyTorch weights ({_first_sentence(detail)})"
    if isinstance(exc, (KeyError, TypeError)):  # a torch file, but not a generator's payload
        return f"it holds no generator ({type(exc).__name__}: {exc})"
    return _first_sentence(str(exc)) or type(exc).__name__


def load_sketch_to_photo(path: Path | str, device: str | torch.device = "cpu") -> SketchToPhoto:
    """A generator file (e.g. `models/generator.pt`) ready for uint8 sketches; GeneratorFileError if it is none."""
    try:
        generator, preprocessing = load_generator_file(path, map_location=device)
    except OSError:
        raise
    except Exception as exc:
        raise GeneratorFileError(_load_problem(exc)) from exc
    if generator.config.direction != SKETCH_TO_PHOTO:
        raise GeneratorFileError(f"a {generator.config.direction} generator cannot turn sketches into photos")
    if torch.device(device).type == "cpu":
        use_cpu_kernels(generator)
    return SketchToPhoto(generator, preprocessing).to(device)


# ---- alignment of new sketches ----------------------------------------------------------------


def detector_available() -> bool:
    return importlib.util.find_spec(DETECTOR_MODULE) is not None


def face_detector() -> EyeLocator:
    """The pipeline's eye detector, imported only when detection is asked for."""
    if not detector_available():
        raise DetectorUnavailable(
            f"face detection needs the module {DETECTOR_MODULE}, which this installation lacks; "
            "use --align center for sketches framed like the training data (face centred, "
            "filling the square) or --align none for sketches already aligned by crop_resize"
        )
    return importlib.import_module(DETECTOR_MODULE).detect_eyes


@dataclass(frozen=True)
class SketchAligner:
    """Brings a sketch file to the generator's input: S x S, its channels, the training geometry."""

    size: int
    channels: int
    geometry: AlignmentParams
    mode: AlignMode
    locate_eyes: EyeLocator | None = None
    no_face: NoFacePolicy = "reject"

    def __post_init__(self) -> None:
        if self.mode == "detect" and self.locate_eyes is None:
            raise ValueError("align mode 'detect' needs an eye locator")

    @property
    def size_limits(self) -> FaceSizeLimits:
        """The same limits as crop_resize's by default, for the model's output size."""
        return FaceSizeLimits(min_face_side(self.size))

    @classmethod
    def for_model(cls, model: SketchToPhoto, mode: AlignMode, **options) -> SketchAligner:
        config = model.config
        return cls(config.image_size, config.input_channels, alignment_geometry(model.preprocessing), mode, **options)

    @property
    def colour_mode(self) -> ColourMode:
        return "gray" if self.channels == 1 else "rgb"

    def __call__(self, path: Path) -> tuple[np.ndarray, str]:
        """The aligned sketch file and how it was aligned; raises ImageReadError or UnusableSketch."""
        aligned, method, _ = self.align(read_image(path, self.colour_mode, limits=self.size_limits), path)
        return aligned, method

    def find_eyes(self, image: np.ndarray, label: Path | str) -> tuple[EyeCentres, str]:
        """The eyes `align` lines up when it is given none, and how they were found.

        A centre crop (or a sketch used as given) gets the eyes that the crop puts on the
        training positions, marked estimated: nobody looked for them, so a person may correct them.
        """
        if self.mode == "none":
            height, width = image.shape[:2]
            if height != width:
                raise UnusableSketch(label, f"not square ({width}x{height}): --align none needs aligned sketches")
            return self._centre_crop_eyes(image), AS_GIVEN
        if self.mode == "detect":
            eyes = self.locate_eyes(image)
            if eyes is not None:
                return eyes, BY_FACE_BOX if eyes.estimated else BY_DETECTED_EYES
            if self.no_face == "reject":
                raise UnusableSketch(label, NO_FACE_FOUND)
        return self._centre_crop_eyes(image), BY_CENTRE_CROP

    def align(
        self, image: np.ndarray, label: Path | str, eyes: EyeCentres | None = None
    ) -> tuple[np.ndarray, str, EyeCentres]:
        """An image (read with `colour_mode`) aligned on `eyes` when given, else as `find_eyes` says.

        Returns the aligned sketch, how it was aligned and the eyes it was aligned on. `label`
        names the image in an `UnusableSketch`; given eyes must lie on the image, the left one
        (smaller x) first.
        """
        if eyes is not None:
            if eyes.left[0] >= eyes.right[0]:  # a flipped pair would turn the face upside down
                raise UnusableSketch(
                    label,
                    f"eyes in the wrong order: the left eye (x={eyes.left[0]:g}) must have a smaller x "
                    f"than the right eye (x={eyes.right[0]:g})",
                )
            return self._aligned_on(image, eyes, label, "given"), BY_GIVEN_EYES, eyes
        found, method = self.find_eyes(image, label)
        if method in (BY_CENTRE_CROP, AS_GIVEN):
            return center_crop_resize(image, self.size), method, found
        return self._aligned_on(image, found, label, "detected"), method, found

    def _aligned_on(self, image: np.ndarray, eyes: EyeCentres, label: Path | str, origin: str) -> np.ndarray:
        try:
            return align_to_eyes(image, eyes, self.geometry, self.size)
        except ValueError as exc:
            raise UnusableSketch(label, f"cannot align on the {origin} eyes ({exc})") from None

    def _centre_crop_eyes(self, image: np.ndarray) -> EyeCentres:
        """Where the eyes of `image` must be for `center_crop_resize` to put them on the training positions."""
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        step = side / self.size  # input pixels per output pixel, pixel centres at integers

        def back(point: tuple[float, float]) -> tuple[float, float]:
            return left + (point[0] + 0.5) * step - 0.5, top + (point[1] + 0.5) * step - 0.5

        target = canonical_eyes(self.geometry, self.size)
        return EyeCentres(back(target.left), back(target.right), estimated=True)


# ---- inputs and outputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class SketchInput:
    path: Path
    name: str  # output path relative to the output folder, without suffix
    relative: str | None = None  # the path within the folder it was found in (None: a file given as such)

    def names(self) -> set[str]:
        """How a hints file may name this input: its path as given, or relative to its folder."""
        return {os.path.normpath(text) for text in (str(self.path), self.relative) if text}


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


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


def collect_sketches(arguments: Sequence[Path], out_dir: Path) -> tuple[list[SketchInput], list[Failure]]:
    """Files as given, folders walked recursively (keeping sub-folders in the output names).

    Non-image files, missing paths, entries the folder walk could not read (broken links, link
    loops, hidden files), two inputs that would write the same output, and files that this run
    writes itself (when `-o` lies in an input folder) are failures, so the summary accounts for
    everything the user pointed at.
    """
    inputs: list[SketchInput] = []
    failures: list[Failure] = []
    seen: set[Path] = set()  # a file given twice (itself and inside a folder also given) counts once

    def first_time(path: Path) -> bool:
        key = Path(os.path.abspath(path))  # not resolve(): a link loop has no real path
        if key in seen:
            return False
        seen.add(key)
        return True

    for argument in arguments:
        found = classify(argument)
        if isinstance(found, Skipped):
            unreadable = [found]
            candidates = []
        elif found[0] == "folder":
            walk = walk_folder(argument)
            unreadable = walk.skipped
            candidates = [(path, path.relative_to(argument)) for path in walk.files]
        else:
            unreadable = []
            candidates = [(argument, None)]
        failures.extend(Failure(str(entry.path), entry.reason) for entry in unreadable if first_time(entry.path))
        for path, relative in candidates:
            if not first_time(path.resolve()):
                continue
            if is_image_file(path):
                name = path.stem if relative is None else relative.with_suffix("").as_posix()
                inputs.append(SketchInput(path, name, None if relative is None else relative.as_posix()))
            else:
                failures.append(Failure(str(path), f"not an image file (suffix {path.suffix or 'none'!r})"))

    unique: dict[str, SketchInput] = {}
    for item in inputs:
        if item.name in unique:
            failures.append(Failure(str(item.path), f"same output name as {unique[item.name].path}"))
        else:
            unique[item.name] = item
    return _not_overwritten(list(unique.values()), out_dir, failures)


def _not_overwritten(
    inputs: list[SketchInput], out_dir: Path, failures: list[Failure]
) -> tuple[list[SketchInput], list[Failure]]:
    """Takes out, as failures that say why, the inputs at a path this run writes to.

    With `-o` inside an input folder, the photos (and side-by-sides) of an earlier run are found
    there again: they are not sketches to read back. With `-o` the input folder itself, `a.png`
    would be replaced by its own photo.
    """
    writers: dict[Path, SketchInput] = {}
    for item in inputs:
        for output in (photo_path(out_dir, item), side_by_side_path(out_dir, item)):
            writers.setdefault(output.resolve(), item)
    kept: list[SketchInput] = []
    for item in inputs:
        path = item.path.resolve()
        if photo_path(out_dir, item).resolve() == path:
            reason = f"its photo would overwrite it (choose an -o folder other than {out_dir})"
            failures.append(Failure(str(item.path), reason))
        elif path in writers:
            failures.append(
                Failure(str(item.path), f"named like the output of {writers[path].path}: not read as a sketch")
            )
        else:
            kept.append(item)
    return kept, failures


def side_by_side(sketch: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The aligned sketch left of the generated photo, as one RGB image."""
    return np.concatenate([as_rgb(sketch), as_rgb(photo)], axis=1)


def photo_path(out_dir: Path, item: SketchInput) -> Path:
    return out_dir / f"{item.name}{PHOTO_SUFFIX}"


def side_by_side_path(out_dir: Path, item: SketchInput) -> Path:
    return out_dir / f"{item.name}{SIDE_BY_SIDE_SUFFIX}{PHOTO_SUFFIX}"


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


# ---- appearance hints given by the user ---------------------------------------------------------


class HintsError(ValueError):
    """Hints a user gave that cannot be used: a bad colour, a hints file row naming no input, ..."""


def check_hints_for_model(model: SketchToPhoto, given: Iterable[str], where: str) -> None:
    """HintsError when colours are given for a hint the generator was not trained with."""
    extra = sorted(set(given) - set(model.config.hints))
    if extra:
        hints = model.config.hints
        takes = f"takes only {', '.join(hints)} hints" if hints else "was trained without hints"
        raise HintsError(f"{where} gives {' and '.join(extra)} colours, but this generator {takes}")


def parse_hint(text: str, where: str) -> Lab | None:
    """A colour a user gave; HintsError names `where` it was given and what is allowed."""
    try:
        return parse_colour(text)
    except ValueError as exc:
        raise HintsError(f"{where}: {exc}") from None


def read_hints_file(path: Path, inputs: Sequence[SketchInput]) -> dict[str, dict[str, Lab | None]]:
    """Per-input hints from a CSV with columns `file` and any of the hint names (`skin`, `hair`).

    A `file` names an input as given or relative to a folder given; every row must name one
    (a row for a file that is not among the inputs is an error naming the row), and no input may
    be named twice. An empty cell gives no hint for that file from the CSV. Returns, by input
    path, the colours each row gives.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HintsError(f"{path}: cannot read it as CSV ({detail})") from None
    table.columns = [column.strip().lower() for column in table.columns]
    unknown = [column for column in table.columns if column != HINTS_FILE_COLUMN and column not in HINT_NAMES]
    problems = [f"no '{HINTS_FILE_COLUMN}' column"] if HINTS_FILE_COLUMN not in table.columns else []
    problems += [f"unknown columns {unknown}"] if unknown else []
    if problems:
        allowed = f"the columns are {HINTS_FILE_COLUMN} and any of {', '.join(HINT_NAMES)}"
        raise HintsError(f"{path}: {' and '.join(problems)}; {allowed}")
    by_name: dict[str, list[SketchInput]] = {}
    for item in inputs:
        for name in item.names():
            by_name.setdefault(name, []).append(item)
    hints: dict[str, dict[str, Lab | None]] = {}
    named_on: dict[str, int] = {}
    for index, row in table.iterrows():
        line = int(index) + 2  # the header is line 1
        where = f"{path} line {line}"
        named = row[HINTS_FILE_COLUMN].strip()
        matches = by_name.get(os.path.normpath(named)) if named else None
        if not matches:
            raise HintsError(f"{where}: file '{row[HINTS_FILE_COLUMN]}' is not one of the sketches given")
        colours = {name: parse_hint(row[name], f"{where}, {name}") for name in HINT_NAMES if row.get(name, "").strip()}
        for item in matches:
            key = str(item.path)
            if key in named_on:
                raise HintsError(f"{where}: {item.path} already has hints on line {named_on[key]}")
            named_on[key] = line
            hints[key] = colours
    return hints


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
