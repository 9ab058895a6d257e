"""CUFSF (CUHK Face Sketch FERET): sketches by FERET subject, photos from a colorFERET tree.

    <root>/.../00001.jpg ...                                 sketches, named by subject id
    <root>/.../names_of_photos_used_for_drawing_sketches.txt greyscale FERET names, one a line
    <root>/.../sketch_points/00001.3pts                      `x y` lines: eye, eye, mouth
    <root>/.../photo_points/00001fb010_930831.tif.pos        `le_x le_y re_x re_y` on the 256x384 greyscale image
    <photos_root>/.../00001_930831_fb.ppm.bz2                colorFERET (512x768), optional `_a` suffix flag
    <photos_root>/.../ground_truths/xml/00001/00001.xml      Gender, Race
    <photos_root>/.../ground_truths/name_value/00001/00001_930831_fb.txt   left_eye_coordinates=X Y ...

The list gives the photo each sketch was drawn from in greyscale naming
(`<subject><pose><shot>[d]_<date>`); the colour photo is `<subject>_<date>_<pose>`. A sketch
without a colour photo is rejected, saying why: greyscale-only (the `ba` series and `d`
images), or no colour file of that name (about 4 of the 1194: greyscale and colour FERET names
are not one-to-one, NIST renamed or dropped some images). Photo eyes come from the FERET
ground truth (on the colour image), else from the `.tif.pos` file scaled to the colour size.
The standard split trains on the first 250 listed sketches and tests on the other 944.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import OFFICIAL_SPLIT, EyeCentres, FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import (
    LandmarkFileError,
    eyes_from_points,
    files_under,
    read_landmark_text,
    read_points,
    source_files,
    stem_matching,
    unique_by_key,
)

NAMES_FILE = "names_of_photos_used_for_drawing_sketches.txt"
SKETCH_POINTS_SUFFIX = ".3pts"
PHOTO_POINTS_SUFFIX = ".tif.pos"
GROUND_TRUTH_XML_SUFFIX = ".xml"
GROUND_TRUTH_TEXT_SUFFIX = ".txt"
STANDARD_TRAIN_COUNT = 250  # the first 250 listed sketches train, the other 944 test
GREY_TO_COLOUR_SCALE = 2.0  # greyscale FERET 256x384 -> colorFERET 512x768
# why a listed photo that has a colour series can still lack a colour file of its name
NAMES_NOT_ONE_TO_ONE = (
    "greyscale-to-colour FERET names are not one-to-one: NIST renamed or dropped some, see its fates list"
)

SUBJECT = re.compile(r"\d{5}")
GREY_NAME = re.compile(r"(?P<subject>\d{5})(?P<pose>[a-z]{2})(?P<shot>\d{3})(?P<duplicate>d?)_(?P<date>\d{6})")
COLOUR_NAME = re.compile(r"(?P<subject>\d{5})_(?P<date>\d{6})_(?P<pose>[a-z]{2})(?:_(?P<flag>[a-z]))?")
EYE_KEYS = ("left_eye_coordinates", "right_eye_coordinates")


@dataclass(frozen=True)
class Annotations:
    """Landmark and ground-truth files found under the roots, by the name each is looked up with."""

    sketch_points: dict[str, Path]  # subject id
    photo_points: dict[str, Path]  # greyscale FERET name
    truth_eyes: dict[str, Path]  # colour image stem (`name_value/<subj>/<image>.txt`)
    truth_subjects: dict[str, Path]  # subject id (`xml/<subj>/<subj>.xml`)


@dataclass(frozen=True)
class ListedPhoto:
    """One line of the names list: the greyscale FERET image a sketch was drawn from."""

    grey_name: str
    subject: str
    colour_key: str  # `<subject>_<date>_<pose>`, the colorFERET name without its suffix flag
    greyscale_only: bool  # the `ba` series and the `d` images were never taken in colour


def parse_listed_photo(line: str, names_file: Path, number: int) -> ListedPhoto:
    grey_name = line.strip().rsplit(".", 1)[0]
    match = GREY_NAME.fullmatch(grey_name)
    if match is None:
        raise SourceError(
            f"{names_file}:{number}: '{line.strip()}' is not a greyscale FERET name like 00001fb010_930831.jpg"
        )
    colour_key = f"{match['subject']}_{match['date']}_{match['pose']}"
    return ListedPhoto(
        grey_name, match["subject"], colour_key, greyscale_only=match["pose"] == "ba" or bool(match["duplicate"])
    )


def _colour_photos(files: list[Path]) -> dict[str, Path]:
    """colorFERET images by `<subject>_<date>_<pose>`; the unflagged file wins over `_a`, `_b`..."""
    found: dict[str, tuple[str, Path]] = {}
    for path in files:
        match = COLOUR_NAME.fullmatch(image_stem(path)) if is_image_file(path) else None
        if match is None:
            continue
        key = f"{match['subject']}_{match['date']}_{match['pose']}"
        rank = match["flag"] or ""
        if key not in found or rank < found[key][0]:
            found[key] = (rank, path)
    return {key: path for key, (_, path) in found.items()}


def _name_values(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in read_landmark_text(path).splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def ground_truth_eyes(path: Path) -> EyeCentres | None:
    """Eyes from a FERET `name_value` file, or None when it has no eye coordinates."""
    values = _name_values(path)
    if not all(key in values for key in EYE_KEYS):
        return None
    try:
        points = [tuple(float(number) for number in values[key].split()) for key in EYE_KEYS]
    except ValueError as exc:
        raise LandmarkFileError(path, f"eye coordinates are not numbers ({exc})") from None
    if any(len(point) != 2 for point in points):
        raise LandmarkFileError(path, "eye coordinates must be 'X Y'")
    return eyes_from_points(*points)


def ground_truth_attributes(path: Path) -> dict[str, str]:
    """Gender and race (lower case) from a FERET subject xml file; tags matched case-insensitively."""
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError as exc:
        raise LandmarkFileError(path, f"not valid XML ({exc})") from None
    except OSError as exc:
        raise LandmarkFileError(path, f"cannot read ({exc.strerror or exc})") from None
    attributes = {}
    for element in tree.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in ("gender", "race"):
            value = element.get("value") or (element.text or "").strip()
            if value:
                attributes[tag] = value.lower()
    return attributes


def pos_eyes(path: Path) -> EyeCentres:
    """Eyes from a `.tif.pos` file (greyscale coordinates), scaled to the colour image."""
    points = read_points(path, minimum=2)
    scaled = [(x * GREY_TO_COLOUR_SCALE, y * GREY_TO_COLOUR_SCALE) for x, y in points[:2]]
    return eyes_from_points(*scaled)


def _in_folder(path: Path, folder: str) -> bool:
    return folder in path.parts


def _sketch_subject(path: Path) -> str | None:
    """The FERET subject a sketch is named by (`00001.jpg`); None for any other file."""
    return image_stem(path) if is_image_file(path) and SUBJECT.fullmatch(image_stem(path)) else None


def scan(params: SourceParams) -> SourceScan:
    result = SourceScan()
    files = source_files(params.root, params.name, result.rejections)
    names_files = [path for path in files if path.name == NAMES_FILE]
    if len(names_files) != 1:
        raise SourceError(
            f"source '{params.name}': expected one {NAMES_FILE} under {params.root}, found {len(names_files)}"
        )
    names_file = names_files[0]
    listed = [
        parse_listed_photo(line, names_file, number)
        for number, line in enumerate(names_file.read_text().splitlines(), start=1)
        if line.strip()
    ]

    sketch_points_key, photo_points_key = (
        stem_matching(SUBJECT, SKETCH_POINTS_SUFFIX),
        stem_matching(GREY_NAME, PHOTO_POINTS_SUFFIX),
    )
    for path in files:
        if path != names_file and all(
            key(path) is None for key in (_sketch_subject, sketch_points_key, photo_points_key)
        ):
            result.rejections.append(
                Rejection(params.name, str(path), "not a CUFSF sketch, landmark file or name list")
            )
    sketches = unique_by_key(files, _sketch_subject, params.name, result.rejections, "sketch")
    photo_files = files_under(params.photos_root)
    if not photo_files:
        raise SourceError(
            f"source '{params.name}': photos_root {params.photos_root} holds no files (colorFERET expected)"
        )
    colour = _colour_photos(photo_files)
    annotations = Annotations(
        sketch_points=unique_by_key(files, sketch_points_key, params.name, result.rejections, "sketch points"),
        photo_points=unique_by_key(files, photo_points_key, params.name, result.rejections, "photo points"),
        truth_eyes={
            path.stem: path
            for path in photo_files
            if _in_folder(path, "name_value") and path.suffix == GROUND_TRUTH_TEXT_SUFFIX
        },
        truth_subjects={
            path.stem: path
            for path in photo_files
            if _in_folder(path, "xml") and path.suffix == GROUND_TRUTH_XML_SUFFIX
        },
    )

    listed_subjects = {photo.subject for photo in listed}
    for subject in sorted(sketches.keys() - listed_subjects):
        result.rejections.append(Rejection(params.name, str(sketches[subject]), f"sketch not listed in {NAMES_FILE}"))
    for index, photo in enumerate(listed):
        split = "train" if index < STANDARD_TRAIN_COUNT else "test"
        sketch = sketches.get(photo.subject)
        if sketch is None:
            result.rejections.append(
                Rejection(
                    params.name,
                    f"{names_file}:{photo.grey_name}",
                    f"no sketch for listed photo (expected {photo.subject}.*)",
                )
            )
            continue
        colour_photo = colour.get(photo.colour_key)
        if colour_photo is None:
            looked_for = f"{photo.colour_key}[_flag].ppm[.bz2] for {photo.grey_name}"
            reason = (
                f"no colour photo, greyscale-only in FERET ({looked_for})"
                if photo.greyscale_only
                else f"no colour counterpart of this name under photos_root ({looked_for}; {NAMES_NOT_ONE_TO_ONE})"
            )
            result.rejections.append(Rejection(params.name, str(sketch), reason))
            continue
        try:
            record = _record(params, photo, sketch, colour_photo, split, annotations)
        except LandmarkFileError as exc:
            reason = f"unreadable landmarks ({exc.problem})"
            result.rejections.append(Rejection.of_pair(params.name, exc.path, reason, (colour_photo, sketch)))
            continue
        result.records.append(record)
    return result


def _record(
    params: SourceParams,
    photo: ListedPhoto,
    sketch: Path,
    colour_photo: Path,
    split: str,
    annotations: Annotations,
) -> FaceRecord:
    """One pair with its eyes (ground truth first: it is on the colour image itself) and attributes."""
    sketch_eyes = None
    if photo.subject in annotations.sketch_points:
        sketch_eyes = eyes_from_points(*read_points(annotations.sketch_points[photo.subject], minimum=3)[:2])
    photo_eyes = None
    truth = annotations.truth_eyes.get(image_stem(colour_photo))
    if truth is not None:
        photo_eyes = ground_truth_eyes(truth)
    if photo_eyes is None and photo.grey_name in annotations.photo_points:
        photo_eyes = pos_eyes(annotations.photo_points[photo.grey_name])
    attributes = {"subset": "feret", OFFICIAL_SPLIT: split}
    if photo.subject in annotations.truth_subjects:
        attributes.update(ground_truth_attributes(annotations.truth_subjects[photo.subject]))
    return FaceRecord(
        id=f"{params.name}/{photo.grey_name}",
        source=params.name,
        subject=f"{params.name}/{photo.subject}",
        photo_path=colour_photo,
        sketch_path=sketch,
        photo_eyes=photo_eyes,
        sketch_eyes=sketch_eyes,
        attributes=attributes,
    )
