"""The embedded demo layout written by the `synthesize` stage.

    <root>/metadata.csv            one row per face: id, subject, eye centres, attributes
    <root>/photos/<id>.png
    <root>/sketches/<id>.png

Eye centres are known exactly because the faces are drawn procedurally, so the demo goes
through the same landmark alignment as a real dataset that ships fiducial points.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sketch2face.config import SourceParams, SynthesizeParams
from sketch2face.data.records import EyeCentres, FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.io import write_csv, write_image

METADATA_FILE = "metadata.csv"
PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"
EYE_COLUMNS = ("left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y")
ATTRIBUTE_COLUMNS = ("gender", "tone_group", "hair_colour", "hair_style", "face_shape", "facial_hair")
REQUIRED_COLUMNS = ("id", "subject", *EYE_COLUMNS, *ATTRIBUTE_COLUMNS)


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
                **{column: round(value, 2) for column, value in zip(EYE_COLUMNS, eyes)},
                **{column: face.attributes[column] for column in ATTRIBUTE_COLUMNS},
            }
        )
    write_csv(out_dir / METADATA_FILE, pd.DataFrame(rows))
    return len(rows)


def eyes_from_row(row: pd.Series) -> EyeCentres:
    left_x, left_y, right_x, right_y = (float(row[column]) for column in EYE_COLUMNS)
    return EyeCentres(left=(left_x, left_y), right=(right_x, right_y))


def scan(params: SourceParams) -> SourceScan:
    metadata_path = params.root / METADATA_FILE
    if not metadata_path.is_file():
        raise SourceError(f"source '{params.name}': {metadata_path} not found (is this a demo folder?)")
    metadata = pd.read_csv(metadata_path, dtype=str)
    missing = [column for column in REQUIRED_COLUMNS if column not in metadata.columns]
    if missing:
        raise SourceError(f"{metadata_path}: missing columns {missing}")

    scan_result = SourceScan()
    for _, row in metadata.iterrows():
        photo = params.root / PHOTOS_DIR / f"{row['id']}.png"
        sketch = params.root / SKETCHES_DIR / f"{row['id']}.png"
        absent = [path for path in (photo, sketch) if not path.is_file()]
        if absent:
            for path in absent:
                scan_result.rejections.append(Rejection(params.name, str(path), "listed in metadata.csv but missing"))
            continue
        eyes = eyes_from_row(row)
        scan_result.records.append(
            FaceRecord(
                id=f"{params.name}/{row['id']}",
                source=params.name,
                subject=f"{params.name}/{row['subject']}",
                photo_path=photo,
                sketch_path=sketch,
                photo_eyes=eyes,
                sketch_eyes=eyes,
                attributes={column: str(row[column]) for column in ATTRIBUTE_COLUMNS},
            )
        )
    return scan_result
