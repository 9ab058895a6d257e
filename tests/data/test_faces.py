import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sketch2face.config import CropResizeParams, SourceParams
from sketch2face.data import detect
from sketch2face.data.faces import MANIFEST_FILE, REJECTS_FILE, build_faces, process_record
from sketch2face.data.faces_report import CONTACT_SHEETS_DIR, SHEET_TILE_MIN, reason_key
from sketch2face.data.records import EyeCentres, FaceRecord
from sketch2face.data.synthetic import generate_demo_faces


def _pairs_folder(root, names, corrupt=()):
    for folder in ("photos", "sketches"):
        (root / folder).mkdir(parents=True)
        for index, name in enumerate(names):
            path = root / folder / f"{name}.png"
            if name in corrupt and folder == "photos":
                path.write_bytes(b"\x89PNG truncated")
            else:
                Image.fromarray(np.full((30, 40, 3), 20 * index, dtype=np.uint8)).save(path)


def _params(*sources, **settings) -> CropResizeParams:
    return CropResizeParams(sources=sources, **{"image_size": 32, "workers": 1, **settings})


def test_counts_add_up_and_outputs_are_square_with_a_process_pool(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a", "b", "c"], corrupt={"c"})
    (raw / "sketches" / "orphan.png").write_bytes((raw / "sketches" / "a.png").read_bytes())
    params = _params(SourceParams(name="p", kind="pairs", root=raw), workers=2, chunk_size=1)

    report = build_faces(params, tmp_path / "faces", tmp_path / "faces.json", progress=False)

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert (report.used, report.rejected) == (2, 2)
    assert list(manifest["id"]) == ["p/a", "p/b"]
    assert set(manifest["photo_alignment"]) == {"center_crop"}  # flat images: no face to detect
    assert sorted(rejects["reason"].str.split(" ").str[0]) == [
        "not",
        "sketch",
    ]  # "not a readable image", "sketch without a photo"
    photo = np.asarray(Image.open(tmp_path / "faces" / manifest["photo"][0]))
    sketch = np.asarray(Image.open(tmp_path / "faces" / manifest["sketch"][0]))
    assert photo.shape == (32, 32, 3) and sketch.shape == (32, 32)
    summary = json.loads((tmp_path / "faces.json").read_text())
    assert summary["inputs"] == summary["used"] + summary["rejected"] == 4
    assert (
        summary["pairs_found"] == 3 and summary["pairs_rejected"] == 1 and summary["files_rejected_before_pairing"] == 1
    )
    assert summary["source.p.used"] == 2 and summary["reason.not_a_readable_image"] == 1


def test_reject_policy_names_the_image_without_a_face(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])
    params = _params(SourceParams(name="p", kind="pairs", root=raw), alignment={"no_landmarks": "reject"})
    with pytest.raises(ValueError, match="no usable face pairs"):
        build_faces(params, tmp_path / "faces", progress=False)
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert list(rejects["reason"]) == ["photo: no landmarks and no face detected (no_landmarks: reject)"]
    assert rejects["path"][0].endswith("photos/a.png")


def test_a_sketch_with_unusable_landmarks_is_the_file_rejected(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])
    record = FaceRecord(
        id="p/a",
        source="p",
        subject="a",
        photo_path=raw / "photos/a.png",
        sketch_path=raw / "sketches/a.png",
        sketch_eyes=EyeCentres(left=(10.0, 12.0), right=(10.0, 12.0)),  # a landmark file with both eyes in one place
    )

    rejection = process_record(record, _params(SourceParams(name="p", kind="pairs", root=raw)), tmp_path / "faces")

    assert rejection.path == str(raw / "sketches/a.png") and rejection.partner == str(raw / "photos/a.png")
    assert rejection.reason.startswith("sketch: eye centres coincide")


@pytest.mark.parametrize(
    ("eyes", "reason"),
    [
        (
            (float("nan"), 12.0),
            "photo: eye centres are not finite numbers (left (nan, 12), right (28, 12); image 40x30 px)",
        ),
        (
            (float("inf"), 12.0),
            "photo: eye centres are not finite numbers (left (inf, 12), right (28, 12); image 40x30 px)",
        ),
        ((-3.0, 12.0), "photo: eye centres outside the image (left (-3, 12), right (28, 12); image 40x30 px)"),
        ((12.0, 31.5), "photo: eye centres outside the image (left (12, 31.5), right (28, 12); image 40x30 px)"),
    ],
    ids=["nan", "inf", "left of the image", "below the image"],
)
def test_eyes_that_are_not_finite_or_off_the_image_reject_the_pair(tmp_path, eyes, reason):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])  # 40 x 30 images
    record = FaceRecord(
        id="p/a",
        source="p",
        subject="a",
        photo_path=raw / "photos/a.png",
        sketch_path=raw / "sketches/a.png",
        photo_eyes=EyeCentres(left=eyes, right=(28.0, 12.0)),
    )

    rejection = process_record(record, _params(SourceParams(name="p", kind="pairs", root=raw)), tmp_path / "faces")

    assert (rejection.path, rejection.reason, rejection.partner) == (
        str(raw / "photos/a.png"),
        reason,
        str(raw / "sketches/a.png"),
    )
    assert not (tmp_path / "faces").exists()


def test_fiducials_of_the_original_next_to_a_cropped_image_are_rejected_and_counted(tmp_path):
    """A CUFS .dat in 1024x768 coordinates beside a 200x250 crop would warp to a blank face."""
    raw = tmp_path / "cufs"
    for name in (
        "photos/f-005-01.jpg",
        "sketches/f-005-01-sz1.jpg",
        "photos/f-006-01.jpg",
        "sketches/f-006-01-sz1.jpg",
    ):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((250, 200, 3), 128, dtype=np.uint8)).save(raw / name)
    points = [(0.0, 0.0)] * 20
    points[16], points[18] = (430.0, 390.0), (590.0, 392.0)  # where the eyes are in the original photo
    (raw / "f-005-01.dat").write_text("".join(f"{x} {y}\n" for x, y in points))
    params = _params(SourceParams(name="cufs", kind="cufs", root=raw))

    report = build_faces(params, tmp_path / "faces", tmp_path / "faces.json", progress=False)

    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert list(rejects["path"]) == [str(raw / "photos/f-005-01.jpg")]
    assert list(rejects["reason"]) == [
        "photo: eye centres outside the image (left (430, 390), right (590, 392); image 200x250 px)"
    ]
    summary = json.loads((tmp_path / "faces.json").read_text())
    assert (report.used, report.rejected) == (1, 1) and summary["inputs"] == summary["used"] + summary["rejected"]
    assert summary["reason.photo_eye_centres_outside_the_image"] == 1


def test_eyes_from_an_official_crop_are_told_apart_from_measured_landmarks(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])
    record = FaceRecord(
        id="p/a",
        source="p",
        subject="a",
        photo_path=raw / "photos/a.png",
        sketch_path=raw / "sketches/a.png",
        photo_eyes=EyeCentres(left=(12.0, 12.0), right=(28.0, 12.0), estimated=True),  # where the crop puts them
        sketch_eyes=EyeCentres(left=(12.0, 13.0), right=(28.0, 12.0)),  # from a fiducial file
    )

    row = process_record(record, _params(SourceParams(name="p", kind="pairs", root=raw)), tmp_path / "faces")

    assert (row["photo_alignment"], row["sketch_alignment"]) == ("crop_position", "landmarks")


def test_faces_without_landmarks_are_aligned_on_detected_eyes(tmp_path):
    raw = tmp_path / "raw"
    for face in generate_demo_faces(2, 256, seed=0, views_per_subject=1):
        for folder, image in (("photos", face.photo), ("sketches", face.sketch)):
            (raw / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(raw / folder / f"{face.subject}.png")
    params = _params(SourceParams(name="p", kind="pairs", root=raw), alignment={"no_landmarks": "reject"})

    build_faces(params, tmp_path / "faces", progress=False)

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert len(manifest) >= 1 and len(manifest) + len(rejects) == 2, "each pair is used or rejected"
    assert set(manifest["photo_alignment"]) == set(manifest["sketch_alignment"]) == {"detected"}
    assert set(rejects["reason"]) <= {
        "photo: no landmarks and no face detected (no_landmarks: reject)",
        "sketch: no landmarks and no face detected (no_landmarks: reject)",
    }


def test_eyes_placed_in_the_face_box_are_told_apart_from_detected_ones(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    for face in generate_demo_faces(2, 256, seed=0, views_per_subject=1):
        for folder, image in (("photos", face.photo), ("sketches", face.sketch)):
            (raw / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(raw / folder / f"{face.subject}.png")
    monkeypatch.setattr(detect, "_eyes_in_face", lambda grey, face: None)  # faces found, their eyes not
    params = _params(SourceParams(name="p", kind="pairs", root=raw), alignment={"no_landmarks": "reject"})

    summary = build_faces(params, tmp_path / "faces", progress=False).summary

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    assert len(manifest) >= 1 and set(manifest["photo_alignment"]) == set(manifest["sketch_alignment"]) == {"face_box"}
    assert summary["sketch_alignment.face_box"] == len(manifest) and "sketch_alignment.detected" not in summary


def test_a_strip_of_an_image_goes_through_detection_without_stopping_the_stage(tmp_path):
    """A 4000x2 photo once crashed the face detector with an OpenCV error, ending crop_resize."""
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])
    Image.new("RGB", (4000, 2), (90, 90, 90)).save(raw / "photos/strip.png")
    Image.new("L", (2, 4000), 90).save(raw / "sketches/strip.png")

    report = build_faces(_params(SourceParams(name="p", kind="pairs", root=raw)), tmp_path / "faces", progress=False)

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    assert "p/a" in set(manifest["id"]) and report.used + report.rejected == 2


SETTING = "crop_resize.min_image_side"


def test_images_too_small_or_too_narrow_for_a_face_are_rejected_with_the_setting_named(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a", "dot", "banner", "small"])  # 40x30 images
    Image.new("RGB", (1, 1)).save(raw / "photos/dot.png")
    Image.new("L", (400, 60)).save(raw / "sketches/banner.png")
    Image.new("RGB", (25, 40)).save(raw / "photos/small.png")
    params = _params(SourceParams(name="p", kind="pairs", root=raw), image_size=64)  # default shortest side: 16

    summary = build_faces(params, tmp_path / "faces", progress=False).summary
    strict = build_faces(params.model_copy(update={"min_image_side": 26}), tmp_path / "strict", progress=False)

    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    reasons = {
        Path(path).relative_to(raw).as_posix(): reason
        for path, reason in zip(rejects["path"], rejects["reason"], strict=True)
    }
    assert reasons == {
        "photos/dot.png": f"too small to hold a face (1x1 px; shorter side under 16 px, set by {SETTING})",
        "sketches/banner.png": "extreme aspect ratio (400x60 px; the longer side is over 4 times the shorter)",
    }
    assert summary["reason.too_small_to_hold_a_face"] == summary["reason.extreme_aspect_ratio"] == 1
    assert summary["used"] == 2 and summary["inputs"] == summary["used"] + summary["rejected"]
    assert strict.used == 1, "min_image_side: 26 also rejects the 25 px wide photo"


def test_each_half_of_an_ab_image_must_be_able_to_hold_a_face(tmp_path):
    (tmp_path / "ab/train").mkdir(parents=True)
    Image.new("RGB", (32, 16)).save(tmp_path / "ab/train/tiny.png")  # two 16x16 halves
    Image.new("RGB", (128, 16)).save(tmp_path / "ab/train/wide.png")  # two 64x16 halves
    Image.new("RGB", (128, 64)).save(tmp_path / "ab/train/good.png")
    params = _params(SourceParams(name="ab", kind="aligned", root=tmp_path / "ab"), image_size=128)  # shortest: 32

    report = build_faces(params, tmp_path / "faces", progress=False)

    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert report.used == 1 and sorted(
        zip(rejects["path"].map(lambda path: Path(path).name), rejects["reason"], strict=True)
    ) == [
        ("tiny.png", f"too small to hold a face (16x16 px; shorter side under 32 px, set by {SETTING})"),
        ("wide.png", f"too small to hold a face (64x16 px; shorter side under 32 px, set by {SETTING})"),
    ]


def test_ab_images_are_split_into_halves_and_resized_as_they_are(tmp_path):
    ab = np.zeros((64, 128, 3), dtype=np.uint8)
    ab[:, :64] = 40  # the sketch half (left)
    ab[:, 64:] = (200, 100, 0)
    (tmp_path / "ab/val").mkdir(parents=True)
    Image.fromarray(ab).save(tmp_path / "ab/val/x.png")
    Image.fromarray(np.zeros((8, 15, 3), dtype=np.uint8)).save(tmp_path / "ab/val/odd.png")
    params = _params(SourceParams(name="ab", kind="aligned", root=tmp_path / "ab"))

    report = build_faces(params, tmp_path / "faces", progress=False)

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    assert report.used == 1 and manifest["folder_split"][0] == "val" and manifest["photo_alignment"][0] == "as_is"
    assert (np.asarray(Image.open(tmp_path / "faces" / manifest["sketch"][0])) == 40).all()
    assert (np.asarray(Image.open(tmp_path / "faces" / manifest["photo"][0])) == (200, 100, 0)).all()
    [rejection] = pd.read_csv(tmp_path / "faces" / REJECTS_FILE, keep_default_na=False).to_dict("records")
    assert rejection["reason"] == "odd AB image width, cannot split into two halves (15 px)"
    assert rejection["path"] == str(tmp_path / "ab/val/odd.png") and rejection["partner"] == ""  # one file: no partner


def test_contact_sheet_shows_each_pair_with_the_canonical_eyes_marked(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a", "b", "c"])
    params = _params(SourceParams(name="p", kind="pairs", root=raw), contact_sheet_pairs=2)

    build_faces(params, tmp_path / "faces", progress=False)

    sheet = np.asarray(Image.open(tmp_path / "faces" / CONTACT_SHEETS_DIR / "p.png"))
    side = SHEET_TILE_MIN
    assert sheet.shape[0] >= 2 * side and sheet.shape[1] >= 2 * side  # two pairs, photo above sketch
    eye_y = round(params.alignment.eye_y * side)
    eye_x = round(side / 2 - params.alignment.eye_distance * side / 2)
    for top in (eye_y, side + eye_y):
        assert tuple(sheet[top, eye_x]) == (255, 0, 0)


def test_reason_keys_drop_the_details():
    assert reason_key("corrupt image (cannot identify x)") == "corrupt_image"
    assert reason_key("duplicate photo 'm-001-01' (2 files)") == "duplicate_photo"


def test_missing_source_root_is_a_clear_error(tmp_path):
    params = CropResizeParams(sources=(SourceParams(name="x", kind="pairs", root=tmp_path / "nope"),))
    with pytest.raises(ValueError, match=r"source 'x': root .*nope does not exist"):
        build_faces(params, tmp_path / "faces")


def test_a_root_or_photos_root_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"x")
    as_root = SourceParams(name="x", kind="pairs", root=tmp_path / "photo.jpg")
    as_photos_root = SourceParams(name="f", kind="cufsf", root=tmp_path, photos_root=tmp_path / "photo.jpg")
    with pytest.raises(ValueError, match=r"source 'x': root .*photo.jpg is a file, not a folder"):
        build_faces(CropResizeParams(sources=(as_root,)), tmp_path / "faces")
    with pytest.raises(ValueError, match=r"source 'f': photos_root .*photo.jpg is a file, not a folder"):
        build_faces(CropResizeParams(sources=(as_photos_root,)), tmp_path / "faces")
