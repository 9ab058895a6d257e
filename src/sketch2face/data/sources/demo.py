"""The embedded demo layout written by the `synthesize` stage.

    <root>/metadata.csv            one row per face: id, subject, eye centres, attributes
    <root>/photos/<id>.png
    <root>/sketches/<id>.png

Eye centres are known exactly because the faces are drawn procedurally, so the demo goes
through the same landmark alignment as a real dataset that ships fiducial points. A damaged
metadata.csv (a repeated id, an eye cell that is not a number) is an error naming the line;
a file it does not list is rejected.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sketch2face.config import SourceParams, SynthesizeParams
from sketch2face.data.records import EyeCentres, FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import source_files
from sketch2face.io import write_csv, write_image

METADATA_FILE = "metadata.csv"
PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"
EYE_COLUMNS = ("left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y")
ATTRIBUTE_COLUMNS = ("gender", "tone_group", "hair_colour", "hair_style", "face_shape", "facial_hair")
REQUIRED_COLUMNS = ("id", "subject", *EYE_COLUMNS, *ATTRIBUTE_COLUMNS)
FIRST_ROW_LINE = 2  # the line of metadata.csv holding row 0, after the header


def face_id(subject: str, view: int) -> str:
    return f"{subject}-v{view}"


def write_demo_dataset(params: SynthesizeParams, out_dir: Path) -> int:
    """Renders the procedural demo faces into the demo layout; returns the number of faces."""
    from sketch2face.data.synthetic import generate_demo_faces

    rows = []
    for face in generate_demo_faces(params.count, params.image_size, params.seed, params.views_per_subject):
        identifier = face_id(face.subject, face.view)
        write_image(out_dir / PHOTOS_DIR / f"{identifier}.png", face.photo)
        write_image(out_dir / SKETCHES_DIR / f"{identifier}.png", face.sketch)
        eyes = (*face.eyes.left, *face.eyes.right)
        rows.append(
            {
                "id": identifier,
                "subject": face.subject,
                **{column: round(value, 2) for column, value in zip(EYE_COLUMNS, eyes, strict=True)},
                **{column: face.attributes[column] for column in ATTRIBUTE_COLUMNS},
            }
        )
    write_csv(out_dir / METADATA_FILE, pd.DataFrame(rows))
    return len(rows)


def _number(metadata_path: Path, line: int, row: pd.Series, column: str) -> float:
    """A finite eye coordinate; anything else names the file, line, id and column (the file is damaged)."""
    value = row[column]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise SourceError(f"{metadata_path}: line {line} (id '{row['id']}'): {column} '{value}' is not a finite number")
    return number


def _eyes(metadata_path: Path, line: int, row: pd.Series) -> EyeCentres:
    left_x, left_y, right_x, right_y = (_number(metadata_path, line, row, column) for column in EYE_COLUMNS)
    return EyeCentres(left=(left_x, left_y), right=(right_x, right_y))


def _read_metadata(metadata_path: Path) -> pd.DataFrame:
    """The metadata table, with every column this source needs and each id once.

    Empty cells stay '' (not NaN), so an empty eye cell is reported rather than aligned on.
    """
    try:
        metadata = pd.read_csv(metadata_path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SourceError(f"{metadata_path}: not a readable CSV table ({exc})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in metadata.columns]
    if missing:
        raise SourceError(f"{metadata_path}: missing columns {missing}")
    repeated = metadata["id"][metadata["id"].duplicated(keep=False)]
    if not repeated.empty:
        shown = ", ".join(
            f"'{face}' on lines {', '.join(str(index + FIRST_ROW_LINE) for index in rows.index)}"
            for face, rows in repeated.groupby(repeated, sort=True)
        )
        raise SourceError(f"{metadata_path}: ids must be unique (one output per id): {shown}")
    return metadata


def scan(params: SourceParams) -> SourceScan:
    metadata_path = params.root / METADATA_FILE
    if not metadata_path.is_file():
        raise SourceError(f"source '{params.name}': {metadata_path} not found (is this a demo folder?)")
    metadata = _read_metadata(metadata_path)

    scan_result = SourceScan()
    files = set(source_files(params.root, params.name, scan_result.rejections))
    listed: set[Path] = {metadata_path}
    for index, row in metadata.iterrows():
        photo = params.root / PHOTOS_DIR / f"{row['id']}.png"
        sketch = params.root / SKETCHES_DIR / f"{row['id']}.png"
        eyes = _eyes(metadata_path, index + FIRST_ROW_LINE, row)
        listed.update((photo, sketch))
        present = [path for path in (photo, sketch) if path in files]
        if len(present) < 2:
            scan_result.rejections.extend(
                Rejection.of_pair(params.name, path, f"listed in {METADATA_FILE} but missing", present)
                for path in (photo, sketch)
                if path not in present
            )
            continue
        scan_result.records.append(
            FaceRecord(
                id=f"{params.name}/{row['id']}",
                source=params.name,
                subject=f"{params.name}/{row['subject']}",
                photo_path=photo,
                sketch_path=sketch,
                photo_eyes=eyes,
                sketch_eyes=eyes,
                attributes={column: row[column] for column in ATTRIBUTE_COLUMNS},
            )
        )
    for path in sorted(files - listed):
        scan_result.rejections.append(Rejection(params.name, str(path), f"not listed in {METADATA_FILE}"))
    return scan_result
