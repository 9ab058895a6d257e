"""The generic layout: `<root>/photos/` and `<root>/sketches/` holding files with matching stems.

Any common image format (also bzip2-compressed, `a.ppm.bz2`); a photo without a sketch (or the
reverse), or a stem that appears twice in one folder, is rejected with its reason. Each stem is
its own subject. No landmarks are shipped: crop_resize finds the eyes with the detector.
"""

from __future__ import annotations

from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import unique_by_key

PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"


def _images_by_stem(folder: Path, source: str, rejections: list[Rejection]) -> dict[str, Path]:
    """Image files of `folder` keyed by stem; other entries and repeated stems become rejections."""
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for path in entries:
        if path.is_dir():
            rejections.append(Rejection(source, str(path), "sub-folder not read (the pairs layout is flat)"))
        elif not is_image_file(path):
            rejections.append(Rejection(source, str(path), "not an image file extension"))
    return unique_by_key(filter(is_image_file, entries), image_stem, source, rejections, what="id")


def scan(params: SourceParams) -> SourceScan:
    photos_dir, sketches_dir = params.root / PHOTOS_DIR, params.root / SKETCHES_DIR
    for folder in (photos_dir, sketches_dir):
        if not folder.is_dir():
            raise SourceError(f"source '{params.name}': expected folder {folder}")
    result = SourceScan()
    photos = _images_by_stem(photos_dir, params.name, result.rejections)
    sketches = _images_by_stem(sketches_dir, params.name, result.rejections)
    for stem in sorted(photos.keys() - sketches.keys()):
        result.rejections.append(Rejection(params.name, str(photos[stem]), "photo without a sketch"))
    for stem in sorted(sketches.keys() - photos.keys()):
        result.rejections.append(Rejection(params.name, str(sketches[stem]), "sketch without a photo"))
    for stem in sorted(photos.keys() & sketches.keys()):
        result.records.append(
            FaceRecord(
                id=f"{params.name}/{stem}",
                source=params.name,
                subject=f"{params.name}/{stem}",
                photo_path=photos[stem],
                sketch_path=sketches[stem],
            )
        )
    return result
