"""The generic layout: `<root>/photos/` and `<root>/sketches/` holding files with matching stems.

Any common image format (also bzip2-compressed, `a.ppm.bz2`); a photo without a sketch (or the
reverse), or a stem that appears twice in one folder, is rejected with its reason, and so is
every other file under the root (outside the two folders, in a sub-folder of one, not an
image). Each stem is its own subject. No landmarks are shipped: crop_resize finds the eyes
with the detector.
"""

from __future__ import annotations

from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import source_files, unique_by_key

PHOTOS_DIR = "photos"
SKETCHES_DIR = "sketches"


def _images_by_folder(root: Path, source: str, rejections: list[Rejection]) -> dict[str, list[Path]]:
    """The image files directly in photos/ and sketches/; every other file under `root` is a rejection."""
    images: dict[str, list[Path]] = {PHOTOS_DIR: [], SKETCHES_DIR: []}
    for path in source_files(root, source, rejections):
        folder, *below = path.relative_to(root).parts
        if folder not in images or not below:
            rejections.append(Rejection(source, str(path), f"not in {PHOTOS_DIR}/ or {SKETCHES_DIR}/"))
        elif len(below) > 1:
            rejections.append(Rejection(source, str(path), "in a sub-folder, not read (the pairs layout is flat)"))
        elif not is_image_file(path):
            rejections.append(Rejection(source, str(path), "not an image file extension"))
        else:
            images[folder].append(path)
    return images


def scan(params: SourceParams) -> SourceScan:
    for folder in (params.root / PHOTOS_DIR, params.root / SKETCHES_DIR):
        if not folder.is_dir():
            raise SourceError(f"source '{params.name}': expected folder {folder}")
    result = SourceScan()
    images = _images_by_folder(params.root, params.name, result.rejections)
    photos = unique_by_key(images[PHOTOS_DIR], image_stem, params.name, result.rejections, what="id")
    sketches = unique_by_key(images[SKETCHES_DIR], image_stem, params.name, result.rejections, what="id")
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
