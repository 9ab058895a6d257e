from pathlib import Path

import numpy as np
from PIL import Image

from sketch2face.config import SourceParams
from sketch2face.data.faces_report import reason_key
from sketch2face.data.records import PARTNER_SEPARATOR, EyeCentres
from sketch2face.data.sources import cufs


def _image(path: Path, size=(40, 50)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 90, dtype=np.uint8)).save(path)
    return path


def _fiducials(path: Path, eyes: tuple[tuple[float, float], tuple[float, float]]) -> None:
    """A bob-style .dat file: one `x y` per line, eye centres at 0-based points 16 and 18."""
    points = [(float(i), float(i + 1)) for i in range(20)]
    points[16], points[18] = eyes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x:.1f} {y:.1f}\n" for x, y in points))


def _scan(root: Path):
    return cufs.scan(SourceParams(name="cufs", kind="cufs", root=root))


def test_official_names_pair_up_across_subsets_and_renamed_folders(tmp_path):
    _image(tmp_path / "CUHK train/photos/f-005-01.jpg")
    _image(tmp_path / "CUHK train/my sketches/F2-005-01-sz1.jpg")
    _image(tmp_path / "CUHK train/photos/m-010-01.jpg", size=(200, 250))
    _image(tmp_path / "CUHK train/my sketches/M2-010-01-sz1.jpg", size=(200, 250))
    _image(tmp_path / "cuhk_testing/photos/f1-001-01.jpg")
    _image(tmp_path / "cuhk_testing/sketches/f1-001-01-sz1.jpg")
    _image(tmp_path / "AR/photo/m-002-1.jpg")
    _image(tmp_path / "AR/sketch/Mp-002-1-sz1.jpg")
    _image(tmp_path / "AR/sketch/Wp-003-1-sz1.jpg")  # the AR photo is not in the CUHK download
    _image(tmp_path / "xm2vts/p/000_1_1.jpg")
    _image(tmp_path / "xm2vts/s/000_1_1_sz1.jpg")
    _image(tmp_path / "xm2vts/p/stray.jpg")
    (tmp_path / "readme.txt").write_text("CUFS")
    (tmp_path / "CUHK train/photos/._f-005-01.jpg").write_bytes(b"\0")  # macOS resource fork
    _fiducials(tmp_path / "points/f-005-01.dat", ((30.0, 20.0), (10.0, 21.0)))
    _fiducials(tmp_path / "points/F2-005-01-sz1.dat", ((12.0, 22.0), (29.0, 22.5)))
    _fiducials(tmp_path / "points/m-099-01.dat", ((30.0, 20.0), (10.0, 21.0)))  # its image is not there

    scan = _scan(tmp_path)

    by_id = {record.id: record for record in scan.records}
    assert sorted(by_id) == [
        "cufs/ar/m-002-1",
        "cufs/cuhk/f-005-01",
        "cufs/cuhk/f1-001-01",
        "cufs/cuhk/m-010-01",
        "cufs/xm2vts/000_1_1",
    ]
    cuhk = by_id["cufs/cuhk/f-005-01"]
    assert cuhk.sketch_path.name == "F2-005-01-sz1.jpg" and cuhk.subject == "cufs/cuhk/f-005"
    assert cuhk.attributes == {"subset": "cuhk", "gender": "female", "official_split": "train"}
    assert cuhk.photo_eyes == EyeCentres(left=(10.0, 21.0), right=(30.0, 20.0))  # sorted by x
    assert cuhk.sketch_eyes == EyeCentres(left=(12.0, 22.0), right=(29.0, 22.5))
    assert by_id["cufs/cuhk/m-010-01"].photo_eyes == cufs.CROPPED_EYES  # official crop size, no .dat
    assert by_id["cufs/cuhk/m-010-01"].attributes["gender"] == "male"
    assert by_id["cufs/cuhk/f1-001-01"].attributes == {"subset": "cuhk", "gender": "female", "official_split": "test"}
    assert by_id["cufs/cuhk/f1-001-01"].photo_eyes is None  # neither points nor the official crop: detect later
    assert by_id["cufs/ar/m-002-1"].attributes == {"subset": "ar", "gender": "male"}
    assert by_id["cufs/xm2vts/000_1_1"].subject == "cufs/xm2vts/000"
    assert "gender" not in by_id["cufs/xm2vts/000_1_1"].attributes
    reasons = sorted((Path(r.path).name, r.reason.split(" (")[0]) for r in scan.rejections)
    assert reasons == [
        ("._f-005-01.jpg", "hidden file, not read"),
        ("Wp-003-1-sz1.jpg", "sketch without a photo"),
        ("m-099-01.dat", "fiducial file without an image 'm-099-01.*'"),
        ("readme.txt", "not an image or fiducial"),
        ("stray.jpg", "photo without a sketch"),
    ]
    used_fiducials = 2
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 2 * len(scan.records) + used_fiducials + len(scan.rejections)


def test_a_cuhk_name_decides_the_split_and_ar_takes_it_from_its_folder(tmp_path):
    _image(tmp_path / "copied_to_testing/photos/f-005-01.jpg")
    _image(tmp_path / "copied_to_testing/sketches/F2-005-01-sz1.jpg")  # F2-: a training sketch, wherever it lies
    _image(tmp_path / "AR_training_cropped_photos/photos/m-002-1.jpg")
    _image(tmp_path / "AR_training_cropped_sketches/sketches/Mp-002-1-sz1.jpg")
    _image(tmp_path / "ar_flat/photos/w-003-1.jpg")
    _image(tmp_path / "ar_flat/sketches/Wp-003-1-sz1.jpg")

    splits = {record.id: record.attributes.get("official_split") for record in _scan(tmp_path).records}

    assert splits == {"cufs/cuhk/f-005-01": "train", "cufs/ar/m-002-1": "train", "cufs/ar/w-003-1": None}


def test_names_in_another_case_still_pair_up(tmp_path):
    _image(tmp_path / "photos/F-005-01.JPG")
    _image(tmp_path / "sketches/F2-005-01-SZ1.JPG")
    _image(tmp_path / "ar/MP-002-1-SZ1.jpg")
    _image(tmp_path / "ar/M-002-1.jpg")
    _fiducials(tmp_path / "points/f-005-01.dat", ((30.0, 20.0), (10.0, 21.0)))  # shipped in lower case

    scan = _scan(tmp_path)

    assert sorted(record.id for record in scan.records) == ["cufs/ar/m-002-1", "cufs/cuhk/f-005-01"]
    assert scan.rejections == []
    cuhk = next(record for record in scan.records if record.id == "cufs/cuhk/f-005-01")
    assert cuhk.photo_eyes == EyeCentres(left=(10.0, 21.0), right=(30.0, 20.0))


def test_bad_fiducial_file_rejects_the_pair_and_names_the_file(tmp_path):
    _image(tmp_path / "photos/m-001-01.jpg")
    _image(tmp_path / "sketches/m-001-01-sz1.jpg")
    (tmp_path / "m-001-01.dat").write_text("1 2\n3 4\n")

    scan = _scan(tmp_path)

    assert scan.records == []
    [rejection] = scan.rejections
    assert rejection.path == str(tmp_path / "m-001-01.dat")  # the broken file; the pair it leaves unused is the partner
    assert rejection.partner.split(PARTNER_SEPARATOR) == [
        str(tmp_path / "photos/m-001-01.jpg"),
        str(tmp_path / "sketches/m-001-01-sz1.jpg"),
    ]
    assert rejection.reason == "unreadable landmarks (expected at least 19 'x y' points, found 4 numbers)"
    assert reason_key(rejection.reason) == "unreadable_landmarks"


def test_a_fiducial_file_that_is_not_text_is_rejected_not_a_crash(tmp_path):
    _image(tmp_path / "photos/m-001-01.jpg")
    _image(tmp_path / "sketches/m-001-01-sz1.jpg")
    (tmp_path / "m-001-01-sz1.dat").write_bytes(b"\xff\xfe\x00binary")

    [rejection] = _scan(tmp_path).rejections

    assert (
        Path(rejection.path).name == "m-001-01-sz1.dat" and rejection.reason == "unreadable landmarks (not a text file)"
    )


def test_an_unreadable_image_is_left_to_crop_resize_which_names_it(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos/m-001-01.jpg").write_text("not a jpeg")
    _image(tmp_path / "sketches/m-001-01-sz1.jpg")

    [record] = _scan(tmp_path).records

    assert record.photo_eyes is None  # read_image rejects the photo, with its own reason and the sketch as partner


def test_duplicate_photos_are_rejected_not_guessed(tmp_path):
    _image(tmp_path / "cropped/photos/m-001-01.jpg")
    _image(tmp_path / "original/photos/m-001-01.jpg")
    _image(tmp_path / "sketches/m-001-01-sz1.jpg")

    scan = _scan(tmp_path)

    assert scan.records == []
    assert sorted(r.reason.split(" '")[0].split(" (")[0] for r in scan.rejections) == [
        "duplicate photo",
        "duplicate photo",
        "sketch without a photo",
    ]
