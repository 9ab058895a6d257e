import bz2
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketch2face.config import SourceParams
from sketch2face.data.faces_report import reason_key
from sketch2face.data.images import read_image
from sketch2face.data.records import PARTNER_SEPARATOR, EyeCentres
from sketch2face.data.sources import cufsf

FERET_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Subjects>
  <Subject id="cfrS00002">
    <Gender value="Female"/>
    <YOB value="1960"/>
    <Race value="Asian"/>
  </Subject>
</Subjects>
"""
NAME_VALUE = """id=cfrR00002
subject=cfrS00002
capture_date=08/31/1993
left_eye_coordinates=330 380
right_eye_coordinates=190 382
nose_coordinates=260 450
"""


def _ppm_bz2(path: Path, colour=(10, 120, 200)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 8, 3), colour, dtype=np.uint8)).save(buffer, format="PPM")
    path.write_bytes(bz2.compress(buffer.getvalue()))


def _jpg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((15, 10), 200, dtype=np.uint8)).save(path)


@pytest.fixture
def layout(tmp_path):
    cufsf_root, feret = tmp_path / "CUFSF", tmp_path / "colorferet"
    for subject in ("00001", "00002", "00003", "00004"):
        _jpg(cufsf_root / "original_sketch" / f"{subject}.jpg")
    (cufsf_root / cufsf.NAMES_FILE).write_text(
        "00001fb010_930831.jpg\n00002fa010_930831.jpg\n00003ba010_940128.jpg\n00005fa010_940128.jpg\n"
    )
    (cufsf_root / "sketch_points").mkdir()
    (cufsf_root / "sketch_points/00001.3pts").write_text(
        "312.000000 348.000000\n450.000000 352.000000\n387.000000 497.000000\n"
    )
    (cufsf_root / "photo_points").mkdir()
    (cufsf_root / "photo_points/00001fb010_930831.tif.pos").write_text("158 177 95 179")  # no trailing newline
    _ppm_bz2(feret / "dvd1/data/images/00001/00001_930831_fb_a.ppm.bz2")
    _ppm_bz2(feret / "dvd1/data/images/00002/00002_930831_fa.ppm.bz2", colour=(1, 2, 3))
    _ppm_bz2(feret / "dvd1/data/images/00002/00002_930831_fa_a.ppm.bz2")
    (feret / "dvd1/data/ground_truths/xml/00002").mkdir(parents=True)
    (feret / "dvd1/data/ground_truths/xml/00002/00002.xml").write_text(FERET_XML)
    (feret / "dvd1/data/ground_truths/name_value/00002").mkdir(parents=True)
    (feret / "dvd1/data/ground_truths/name_value/00002/00002_930831_fa.txt").write_text(NAME_VALUE)
    return SourceParams(name="cufsf", kind="cufsf", root=cufsf_root, photos_root=feret)


def test_sketches_meet_their_colour_photos_landmarks_and_ground_truth(layout):
    scan = cufsf.scan(layout)

    by_id = {record.id: record for record in scan.records}
    assert sorted(by_id) == ["cufsf/00001fb010_930831", "cufsf/00002fa010_930831"]
    first = by_id["cufsf/00001fb010_930831"]
    assert first.photo_path.name == "00001_930831_fb_a.ppm.bz2" and first.subject == "cufsf/00001"
    assert first.sketch_eyes == EyeCentres(left=(312.0, 348.0), right=(450.0, 352.0))
    assert first.photo_eyes == EyeCentres(left=(190.0, 358.0), right=(316.0, 354.0))  # .tif.pos x2, sorted by x
    assert first.attributes == {"subset": "feret", "official_split": "train"}
    second = by_id["cufsf/00002fa010_930831"]
    assert second.photo_path.name == "00002_930831_fa.ppm.bz2"  # the unflagged file wins
    assert second.photo_eyes == EyeCentres(left=(190.0, 382.0), right=(330.0, 380.0))
    assert second.sketch_eyes is None
    assert second.attributes == {"subset": "feret", "official_split": "train", "gender": "female", "race": "asian"}
    assert read_image(second.photo_path, "rgb")[0, 0].tolist() == [1, 2, 3]
    assert len(scan.rejections) == 3
    assert any("greyscale-only in FERET (00003_940128_ba[_flag]" in r.reason for r in scan.rejections)
    assert any(r.reason == "no sketch for listed photo (expected 00005.*)" for r in scan.rejections)
    assert any(Path(r.path).name == "00004.jpg" and "not listed" in r.reason for r in scan.rejections)
    # one metric key per kind of problem, not per file (faces.json counts rejects by reason_key)
    assert {reason_key(r.reason) for r in scan.rejections} == {
        "no_colour_photo_greyscale_only_in_feret",
        "no_sketch_for_listed_photo",
        "sketch_not_listed_in_names_of_photos_used_for_drawing_sketches_txt",
    }


def test_a_colour_photo_missing_from_photos_root_is_not_called_greyscale_only(layout):
    (layout.photos_root / "dvd1/data/images/00002/00002_930831_fa.ppm.bz2").unlink()
    (layout.photos_root / "dvd1/data/images/00002/00002_930831_fa_a.ppm.bz2").unlink()

    rejected = {Path(r.path).name: r.reason for r in cufsf.scan(layout).rejections}

    reason = rejected["00002.jpg"]
    assert reason.startswith(
        "no colour counterpart of this name under photos_root (00002_930831_fa[_flag].ppm[.bz2] for 00002fa010_930831;"
    )
    assert "not one-to-one" in reason and "renamed or dropped" in reason  # FERET's doing, not necessarily a bad copy
    assert reason_key(reason) == "no_colour_counterpart_of_this_name_under_photos_root"


def test_an_unreadable_landmark_file_is_the_rejected_path_with_the_pair_as_partner(layout):
    points = layout.root / "sketch_points/00001.3pts"
    points.write_text("312 348\n")

    [rejection] = [r for r in cufsf.scan(layout).rejections if "landmarks" in r.reason]

    assert rejection.path == str(points)
    photo = layout.photos_root / "dvd1/data/images/00001/00001_930831_fb_a.ppm.bz2"
    assert rejection.partner.split(PARTNER_SEPARATOR) == [str(photo), str(layout.root / "original_sketch/00001.jpg")]
    assert rejection.reason == "unreadable landmarks (expected at least 3 'x y' points, found 2 numbers)"


def test_a_ground_truth_file_that_is_not_text_is_rejected_not_a_crash(layout):
    truth = layout.photos_root / "dvd1/data/ground_truths/name_value/00002/00002_930831_fa.txt"
    truth.write_bytes(b"\xff\xfe\x00left_eye")

    scan = cufsf.scan(layout)

    assert [record.id for record in scan.records] == ["cufsf/00001fb010_930831"]
    assert [(r.path, r.reason) for r in scan.rejections if "landmarks" in r.reason] == [
        (str(truth), "unreadable landmarks (not a text file)")
    ]


def test_files_that_play_no_part_are_listed_not_skipped(layout):
    (layout.root / "LICENSE.bob").write_text("licence")
    _jpg(layout.root / "original_sketch/00001_small.jpg")
    (layout.root / "original_sketch/.DS_Store").write_bytes(b"\0")

    rejected = {Path(r.path).name: r.reason for r in cufsf.scan(layout).rejections}

    assert rejected["LICENSE.bob"] == rejected["00001_small.jpg"] == "not a CUFSF sketch, landmark file or name list"
    assert rejected[".DS_Store"] == "hidden file, not read"


def test_standard_split_trains_on_the_first_listed_sketches(layout, monkeypatch):
    monkeypatch.setattr(cufsf, "STANDARD_TRAIN_COUNT", 1)
    splits = [record.attributes["official_split"] for record in cufsf.scan(layout).records]
    assert splits == ["train", "test"]


def test_malformed_list_line_is_a_clear_error(layout):
    (layout.root / cufsf.NAMES_FILE).write_text("00001fb010_930831.jpg\nphoto.jpg\n")
    with pytest.raises(
        ValueError, match=r"names_of_photos_used_for_drawing_sketches.txt:2: 'photo.jpg' is not a greyscale FERET name"
    ):
        cufsf.scan(layout)


def test_photos_root_is_required_for_cufsf(tmp_path):
    with pytest.raises(ValueError, match="needs photos_root"):
        SourceParams(name="c", kind="cufsf", root=tmp_path)
