"""What a crop/resize run did, for people and for `dvc metrics diff`: summary counts and contact sheets."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from sketch2face.config import AlignmentParams
from sketch2face.data.align import canonical_eyes
from sketch2face.data.images import as_rgb, read_image
from sketch2face.io import write_image

CONTACT_SHEETS_DIR = "contact_sheets"
SUMMARY_ATTRIBUTES = ("subset", "gender", "race", "official_split", "folder_split")
SHEET_COLUMNS = 8
SHEET_TILE_MIN = 128  # tiles are enlarged to at least this side so that eyes can be judged
SHEET_GAP = 4
EYE_MARK = (255, 0, 0)


def reason_key(reason: str) -> str:
    """A stable metric name for a reject reason: the text before any detail in brackets or quotes."""
    general = re.split(r"[('\[]", reason, maxsplit=1)[0]
    return re.sub(r"[^a-z0-9]+", "_", general.lower()).strip("_") or "other"


def faces_summary(manifest: pd.DataFrame, rejects: pd.DataFrame, records_found: int, files_rejected: int) -> dict:
    """Flat counts: `inputs == used + rejected`, per source, attribute, alignment method and reason."""
    summary: dict[str, int] = {
        "inputs": records_found + files_rejected,
        "used": len(manifest),
        "rejected": len(rejects),
        "pairs_found": records_found,
        "pairs_rejected": records_found - len(manifest),
        "files_rejected_before_pairing": files_rejected,
    }
    for source in sorted(set(manifest.get("source", [])) | set(rejects["source"])):
        summary[f"source.{source}.used"] = int((manifest.get("source", pd.Series(dtype=str)) == source).sum())
        summary[f"source.{source}.rejected"] = int((rejects["source"] == source).sum())
    for column in ("photo_alignment", "sketch_alignment", *SUMMARY_ATTRIBUTES):
        if column in manifest:
            for value, count in manifest[column].dropna().value_counts().sort_index().items():
                summary[f"{column}.{value}"] = int(count)
    for reason, count in rejects["reason"].map(reason_key).value_counts().sort_index().items():
        summary[f"reason.{reason}"] = int(count)
    return summary


def _tile(image: np.ndarray, eyes: list[tuple[int, int]], side: int) -> np.ndarray:
    tile = cv2.resize(as_rgb(image), (side, side), interpolation=cv2.INTER_NEAREST)
    for x, y in eyes:
        cv2.drawMarker(tile, (x, y), EYE_MARK, markerType=cv2.MARKER_CROSS, markerSize=max(7, side // 16), thickness=1)
    return tile


def contact_sheet(faces_dir: Path, rows: pd.DataFrame, alignment: AlignmentParams, size: int) -> np.ndarray:
    """Each pair as the photo above its sketch, canonical eye positions crossed in red on both."""
    side = max(size, SHEET_TILE_MIN)
    target = canonical_eyes(alignment, side)
    eyes = [(round(x), round(y)) for x, y in (target.left, target.right)]
    columns = min(SHEET_COLUMNS, len(rows))
    lines = -(-len(rows) // columns)
    sheet = np.full((lines * (2 * side + SHEET_GAP), columns * (side + SHEET_GAP), 3), 255, dtype=np.uint8)
    for index, (_, row) in enumerate(rows.iterrows()):
        top, left = (index // columns) * (2 * side + SHEET_GAP), (index % columns) * (side + SHEET_GAP)
        sheet[top : top + side, left : left + side] = _tile(read_image(faces_dir / row["photo"], "rgb"), eyes, side)
        sheet[top + side : top + 2 * side, left : left + side] = _tile(
            read_image(faces_dir / row["sketch"], "gray"), eyes, side
        )
    return sheet


def write_contact_sheets(
    manifest: pd.DataFrame, faces_dir: Path, alignment: AlignmentParams, size: int, pairs: int
) -> None:
    """`<faces>/contact_sheets/<source>.png` with the first `pairs` aligned pairs of each source."""
    if pairs == 0:
        return
    for source, rows in manifest.groupby("source", sort=True):
        write_image(
            faces_dir / CONTACT_SHEETS_DIR / f"{source}.png",
            contact_sheet(faces_dir, rows.head(pairs), alignment, size),
        )
