"""CUFS, the CUHK Face Sketch database: CUHK student, AR and XM2VTS subsets.

Files are found by their official names anywhere under the root (the MMLab zips unzip to
`photos/` and `sketches/` folders whose parents users rename freely):

| subset  | photo           | sketch                                                    |
|---------|-----------------|-----------------------------------------------------------|
| cuhk    | `f-005-01.jpg`  | training `F2-005-01-sz1.jpg` (`M2-` male), testing `f-005-01-sz1.jpg` |
| ar      | `m-002-1.jpg`   | `Mp-002-1-sz1.jpg` (`Wp-` for `w-` photos)                |
| xm2vts  | `000_1_1.jpg`   | `000_1_1_sz1.jpg`                                         |

Fiducial points (`<image stem>.dat`, one `x y` per line, eye centres at 0-based points 16
and 18) give the eyes when present. Without them, an image of the official cropped size
(200x250) gets the eye positions of the official crop; any other image goes to detection.
The official split comes from the CUHK sketch prefix, else (AR, XM2VTS) from a `training`/`testing` folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import OFFICIAL_SPLIT, EyeCentres, FaceRecord, Rejection, SourceScan
from sketch2face.data.sources.common import (
    LandmarkFileError,
    eyes_from_points,
    official_split_from_folders,
    read_points,
    source_files,
    unique_by_key,
)

FIDUCIAL_SUFFIX = ".dat"
FIDUCIAL_EYES = (16, 18)  # 0-based indices of the eye centres, as in bob.db.cuhk_cufs
CROPPED_SIZE = (200, 250)  # (w, h) of the official cropped images
# Eye centres in the official 200x250 crop, measured with the OpenCV detector on the CUHK crops
# (median of 47 photos; sketches agree within 1 px).
CROPPED_EYES = EyeCentres(left=(73.0, 126.0), right=(124.0, 126.0), estimated=True)  # the crop's, not this face's

CUHK_TRAIN_SKETCH = re.compile(r"(?P<prefix>f2|m2)-(?P<person>\d{3})-(?P<shot>\d{2})-sz1")
CUHK_TEST_SKETCH = re.compile(r"(?P<prefix>f|f1|m|m1)-(?P<person>\d{3})-(?P<shot>\d{2})-sz1")
AR_SKETCH = re.compile(r"(?P<prefix>[mw])p-(?P<person>\d{3})-(?P<shot>\d{1,2})-sz1")
XM2VTS_SKETCH = re.compile(r"(?P<person>\d{3})_(?P<session>\d)_(?P<shot>\d)_sz1")

GENDER_BY_PREFIX = {"f": "female", "f1": "female", "m": "male", "m1": "male", "w": "female"}
CUHK_TRAIN_PHOTO_PREFIX = {"f2": "f", "m2": "m"}


@dataclass(frozen=True)
class SketchName:
    """What an official sketch name tells: the photo it was drawn from, subset, person, gender, split."""

    photo_stem: str
    subset: str
    person: str
    gender: str | None = None
    split: str | None = None


def parse_sketch_name(stem: str) -> SketchName | None:
    """The subset is decided by the sketch name, which is unambiguous (photo names are not).

    Names are matched in lower case (`F2-005-01-SZ1.JPG` from a renaming tool still counts).
    """
    stem = stem.lower()
    if match := CUHK_TRAIN_SKETCH.fullmatch(stem):
        prefix = CUHK_TRAIN_PHOTO_PREFIX[match["prefix"]]
        photo = f"{prefix}-{match['person']}-{match['shot']}"
        return SketchName(photo, "cuhk", f"{prefix}-{match['person']}", GENDER_BY_PREFIX[prefix], "train")
    if match := CUHK_TEST_SKETCH.fullmatch(stem):
        prefix = match["prefix"]
        photo = f"{prefix}-{match['person']}-{match['shot']}"
        return SketchName(photo, "cuhk", f"{prefix}-{match['person']}", GENDER_BY_PREFIX[prefix], "test")
    if match := AR_SKETCH.fullmatch(stem):
        prefix = match["prefix"]
        photo = f"{prefix}-{match['person']}-{match['shot']}"
        return SketchName(photo, "ar", f"{prefix}-{match['person']}", GENDER_BY_PREFIX[prefix])
    if match := XM2VTS_SKETCH.fullmatch(stem):
        photo = f"{match['person']}_{match['session']}_{match['shot']}"
        return SketchName(photo, "xm2vts", match["person"])
    return None


def _eyes(image: Path, fiducials: dict[str, Path]) -> EyeCentres | None:
    """From the image's fiducial file, else the official crop's eyes for a 200x250 image, else None."""
    points_file = fiducials.get(image_stem(image).lower())
    if points_file is not None:
        points = read_points(points_file, minimum=max(FIDUCIAL_EYES) + 1)
        return eyes_from_points(points[FIDUCIAL_EYES[0]], points[FIDUCIAL_EYES[1]])
    return CROPPED_EYES if _header_size(image) == CROPPED_SIZE else None


def _pair_eyes(
    source: str, photo: Path, sketch: Path, fiducials: dict[str, Path]
) -> tuple[EyeCentres | None, EyeCentres | None] | Rejection:
    """Both images' eyes, or the rejection of an unusable fiducial file, with the pair as partner."""
    try:
        return _eyes(photo, fiducials), _eyes(sketch, fiducials)
    except LandmarkFileError as exc:
        return Rejection.of_pair(source, exc.path, f"unreadable landmarks ({exc.problem})", (photo, sketch))


def _header_size(image: Path) -> tuple[int, int] | None:
    """(w, h) from the header; None if unreadable, since crop_resize's read_image rejects it with its reason."""
    try:
        with Image.open(image) as header:
            return header.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def scan(params: SourceParams) -> SourceScan:
    result = SourceScan()
    files = source_files(params.root, params.name, result.rejections)
    images = [path for path in files if is_image_file(path)]
    names = {path: parse_sketch_name(image_stem(path)) for path in images}
    fiducials = unique_by_key(
        (path for path in files if path.suffix.lower() == FIDUCIAL_SUFFIX),
        lambda path: path.stem.lower(),
        params.name,
        result.rejections,
        "fiducial file",
    )
    sketches = unique_by_key(
        (path for path in images if names[path] is not None),
        lambda path: names[path].photo_stem,
        params.name,
        result.rejections,
        "sketch of photo",
    )
    photos = unique_by_key(
        (path for path in images if names[path] is None),
        lambda path: image_stem(path).lower(),
        params.name,
        result.rejections,
        "photo",
    )
    for path in files:
        if not is_image_file(path) and path.suffix.lower() != FIDUCIAL_SUFFIX:
            result.rejections.append(Rejection(params.name, str(path), "not an image or fiducial (.dat) file"))
    for stem in sorted(fiducials.keys() - {image_stem(path).lower() for path in images}):
        result.rejections.append(
            Rejection(params.name, str(fiducials[stem]), f"fiducial file without an image '{stem}.*'")
        )
    for stem in sorted(photos.keys() - sketches.keys()):
        result.rejections.append(Rejection(params.name, str(photos[stem]), "photo without a sketch"))
    for stem in sorted(sketches.keys() - photos.keys()):
        result.rejections.append(
            Rejection(params.name, str(sketches[stem]), f"sketch without a photo (expected '{stem}')")
        )

    for stem in sorted(photos.keys() & sketches.keys()):
        photo, sketch = photos[stem], sketches[stem]
        name = names[sketch]
        eyes = _pair_eyes(params.name, photo, sketch, fiducials)
        if isinstance(eyes, Rejection):
            result.rejections.append(eyes)
            continue
        photo_eyes, sketch_eyes = eyes
        split = name.split or official_split_from_folders(sketch, params.root)
        attributes = {"subset": name.subset, "gender": name.gender, OFFICIAL_SPLIT: split}
        result.records.append(
            FaceRecord(
                id=f"{params.name}/{name.subset}/{stem}",
                source=params.name,
                subject=f"{params.name}/{name.subset}/{name.person}",
                photo_path=photo,
                sketch_path=sketch,
                photo_eyes=photo_eyes,
                sketch_eyes=sketch_eyes,
                attributes={key: value for key, value in attributes.items() if value is not None},
            )
        )
    return result
