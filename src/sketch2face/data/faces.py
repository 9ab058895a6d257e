"""The crop/resize stage: raw sources -> aligned S x S photo and sketch files, manifest, rejects.

    <out>/photos/<id>.png, <out>/sketches/<id>.png   (ids may contain '/', giving sub-folders)
    <out>/manifest.csv    one row per face used, with its attributes and how it was aligned
    <out>/rejects.csv     one row per input not used, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sketch2face.config import AlignmentParams, CropResizeParams
from sketch2face.data.align import align_to_eyes, center_crop_resize
from sketch2face.data.images import ImageReadError, read_image
from sketch2face.data.records import EyeCentres, FaceRecord, Rejection
from sketch2face.data.sources import scan_sources
from sketch2face.io import write_csv, write_image

MANIFEST_FILE = "manifest.csv"
REJECTS_FILE = "rejects.csv"
PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"
REJECT_COLUMNS = ["source", "path", "reason"]


@dataclass(frozen=True)
class FacesReport:
    """Counts of one crop/resize run: every raw input is either used or rejected."""

    used: int
    rejected: int


def _normalise(
    image: np.ndarray, eyes: EyeCentres | None, alignment: AlignmentParams, size: int
) -> tuple[np.ndarray, str]:
    """Aligns on the eyes when known, else applies the no-landmarks policy; returns the method."""
    if eyes is not None:
        return align_to_eyes(image, eyes, alignment, size), "landmarks"
    if alignment.no_landmarks == "center_crop":
        return center_crop_resize(image, size), "center_crop"
    raise LookupError("no landmarks and no_landmarks policy is 'reject'")


def process_record(record: FaceRecord, params: CropResizeParams, out_dir: Path) -> dict | Rejection:
    """Aligns and writes one pair; returns its manifest row, or the reason it was rejected."""
    try:
        photo = read_image(record.photo_path, "rgb")
        sketch = read_image(record.sketch_path, "gray")
        photo, photo_method = _normalise(photo, record.photo_eyes, params.alignment, params.image_size)
        sketch, sketch_method = _normalise(sketch, record.sketch_eyes, params.alignment, params.image_size)
    except ImageReadError as exc:
        return Rejection(record.source, exc.path, exc.reason)
    except (LookupError, ValueError) as exc:
        return Rejection(record.source, str(record.photo_path), str(exc))

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


def build_faces(params: CropResizeParams, out_dir: Path) -> FacesReport:
    """Scans the configured sources, aligns every pair and writes the manifest and rejects."""
    scan = scan_sources(params.sources)
    rows: list[dict] = []
    rejections: list[Rejection] = list(scan.rejections)
    for record in scan.records:
        outcome = process_record(record, params, out_dir)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            rows.append(outcome)
    write_csv(out_dir / REJECTS_FILE, pd.DataFrame([vars(r) for r in rejections], columns=REJECT_COLUMNS))
    if not rows:
        raise ValueError(f"no usable face pairs in {[s.name for s in params.sources]}; see {out_dir / REJECTS_FILE}")
    write_csv(out_dir / MANIFEST_FILE, pd.DataFrame(rows))
    return FacesReport(used=len(rows), rejected=len(rejections))
