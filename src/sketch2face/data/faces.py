"""The crop/resize stage: raw sources -> aligned S x S photo and sketch files, manifest, rejects.

    <out>/photos/<id>.png, <out>/sketches/<id>.png   (ids may contain '/', giving sub-folders)
    <out>/manifest.csv    one row per face used, with its attributes and how it was aligned
    <out>/rejects.csv     one row per input not used, with the reason
    <out>/contact_sheets/<source>.png   aligned pairs with the canonical eye positions marked
    <summary>             counts per source, attribute, alignment method and reject reason

Pairs are aligned in a process pool (one worker per core by default): decoding and eye
detection dominate, and every pair is independent. Workers are spawned, not forked: a fork of
a process whose OpenCV or BLAS thread pools are running can deadlock, so scripts that call
`build_faces` need the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from sketch2face.config import AlignmentParams, CropResizeParams
from sketch2face.data.align import align_to_eyes, center_crop_resize
from sketch2face.data.detect import detect_eyes
from sketch2face.data.faces_report import faces_summary, write_contact_sheets
from sketch2face.data.images import ColourMode, FaceSizeLimits, ImageReadError, min_face_side, read_image
from sketch2face.data.records import MANIFEST_FILE, EyeCentres, FaceRecord, Rejection, SourceError
from sketch2face.data.sources import scan_sources
from sketch2face.io import write_csv, write_image, write_json

REJECTS_FILE = "rejects.csv"
PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"
REJECT_COLUMNS = ["source", "path", "reason", "partner"]

# How an image was brought to the canonical geometry (manifest columns photo/sketch_alignment).
BY_LANDMARKS = "landmarks"
BY_DETECTION = "detected"
BY_FACE_BOX = "face_box"  # a face was detected but not its eyes: eyes at their typical place in the box
BY_CENTER_CROP = "center_crop"
BY_CROP_POSITION = "crop_position"  # eyes where the dataset's official crop puts them (CUFS 200x250)
AS_IS = "as_is"


@dataclass(frozen=True)
class FacesReport:
    """Counts of one crop/resize run: every raw input is either used or rejected."""

    used: int
    rejected: int
    summary: dict


class NoFaceError(LookupError):
    """Neither landmarks nor a detected face, and the policy says reject."""


def _normalise(
    image: np.ndarray, eyes: EyeCentres | None, alignment: AlignmentParams, size: int
) -> tuple[np.ndarray, str]:
    """Aligns on the shipped eyes, else on detected eyes, else applies the no-landmarks policy."""
    if eyes is not None:
        return align_to_eyes(image, eyes, alignment, size), BY_CROP_POSITION if eyes.estimated else BY_LANDMARKS
    if alignment.detect and (found := detect_eyes(image)) is not None:
        return align_to_eyes(image, found, alignment, size), BY_FACE_BOX if found.estimated else BY_DETECTION
    if alignment.no_landmarks == "center_crop":
        return center_crop_resize(image, size), BY_CENTER_CROP
    searched = "no face detected" if alignment.detect else "detection off"
    raise NoFaceError(f"no landmarks and {searched} (no_landmarks: reject)")


def size_limits(params: CropResizeParams) -> FaceSizeLimits:
    """What an input image must measure to hold a face, from `min_image_side` or the output size."""
    min_side = params.min_image_side if params.min_image_side is not None else min_face_side(params.image_size)
    return FaceSizeLimits(min_side, set_by="crop_resize.min_image_side")


def _ab_halves(record: FaceRecord, params: CropResizeParams) -> tuple[np.ndarray, np.ndarray]:
    """Photo and sketch halves of an already aligned AB image, each resized to S x S as they are."""
    both = read_image(record.photo_path, "rgb")
    height, width = both.shape[:2]
    if width % 2:
        raise ImageReadError(record.photo_path, f"odd AB image width, cannot split into two halves ({width} px)")
    size_limits(params).check(record.photo_path, width // 2, height)
    size = params.image_size
    left, right = both[:, : width // 2], both[:, width // 2 :]
    sketch, photo = (left, right) if record.ab_sketch_side == "left" else (right, left)
    interpolation = cv2.INTER_AREA if height > size else cv2.INTER_CUBIC
    resize = partial(cv2.resize, dsize=(size, size), interpolation=interpolation)
    return resize(photo), resize(cv2.cvtColor(sketch, cv2.COLOR_RGB2GRAY))


def _aligned_image(
    path: Path, colour: ColourMode, eyes: EyeCentres | None, params: CropResizeParams, what: str
) -> tuple[np.ndarray, str]:
    """One image read and aligned; whatever makes it unusable is an ImageReadError naming it.

    An alignment reason starts with `what`, so the summary's reason counts tell photos from sketches.
    """
    image = read_image(path, colour, limits=size_limits(params))
    try:
        return _normalise(image, eyes, params.alignment, params.image_size)
    except (NoFaceError, ValueError) as exc:  # no face; eye centres off the image, not finite or coinciding
        raise ImageReadError(path, f"{what}: {exc}") from None


def _aligned_pair(record: FaceRecord, params: CropResizeParams) -> tuple[np.ndarray, np.ndarray, str, str]:
    if record.ab_sketch_side is not None:
        return (*_ab_halves(record, params), AS_IS, AS_IS)
    photo, photo_method = _aligned_image(record.photo_path, "rgb", record.photo_eyes, params, "photo")
    sketch, sketch_method = _aligned_image(record.sketch_path, "gray", record.sketch_eyes, params, "sketch")
    return photo, sketch, photo_method, sketch_method


def process_record(record: FaceRecord, params: CropResizeParams, out_dir: Path) -> dict | Rejection:
    """Aligns and writes one pair; returns its manifest row, or the reason it was rejected."""
    try:
        photo, sketch, photo_method, sketch_method = _aligned_pair(record, params)
    except ImageReadError as exc:
        return Rejection.of_pair(record.source, exc.path, exc.reason, (record.photo_path, record.sketch_path))

    photo_file = Path(PHOTOS_DIR) / f"{record.id}.png"
    sketch_file = Path(SKETCHES_DIR) / f"{record.id}.png"
    write_image(out_dir / photo_file, photo)
    write_image(out_dir / sketch_file, sketch)
    return {
        "id": record.id,
        "source": record.source,
        "subject": record.subject,
        "photo": photo_file.as_posix(),
        "sketch": sketch_file.as_posix(),
        "photo_alignment": photo_method,
        "sketch_alignment": sketch_method,
        "raw_photo": str(record.photo_path),
        "raw_sketch": str(record.sketch_path),
        **record.attributes,
    }


def _single_threaded_worker() -> None:
    """Each worker process uses one thread: the pool already fills the cores."""
    cv2.setNumThreads(1)


def process_records(
    records: list[FaceRecord], params: CropResizeParams, out_dir: Path, progress: bool = True
) -> Iterator[dict | Rejection]:
    """Outcomes in record order; one worker process per core (`workers: 0`) or as configured."""
    workers = params.workers or os.cpu_count() or 1
    task = partial(process_record, params=params, out_dir=out_dir)
    bar = partial(tqdm, total=len(records), desc="crop_resize", unit="pair", disable=not progress)
    if workers == 1 or len(records) <= 1:
        yield from bar(map(task, records))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_single_threaded_worker) as pool:
        yield from bar(pool.map(task, records, chunksize=params.chunk_size))


def _table(rows: Iterable[dict], columns: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns)


def build_faces(
    params: CropResizeParams, out_dir: Path, summary_path: Path | None = None, progress: bool = True
) -> FacesReport:
    """Scans the configured sources, aligns every pair, writes manifest, rejects, summary and sheets."""
    scan = scan_sources(params.sources)
    rows: list[dict] = []
    rejections: list[Rejection] = list(scan.rejections)
    for outcome in process_records(scan.records, params, out_dir, progress):
        (rejections if isinstance(outcome, Rejection) else rows).append(outcome)
    rejects = _table((vars(r) for r in rejections), REJECT_COLUMNS)
    write_csv(out_dir / REJECTS_FILE, rejects)
    manifest = _table(rows)
    summary = faces_summary(manifest, rejects, records_found=len(scan.records), files_rejected=len(scan.rejections))
    if summary_path is not None:
        write_json(summary_path, summary)
    if not rows:
        raise SourceError(f"no usable face pairs in {[s.name for s in params.sources]}; see {out_dir / REJECTS_FILE}")
    write_csv(out_dir / MANIFEST_FILE, manifest)
    write_contact_sheets(manifest, out_dir, params.alignment, params.image_size, params.contact_sheet_pairs)
    return FacesReport(used=len(rows), rejected=len(rejections), summary=summary)
