import shutil
from pathlib import Path

import pandas as pd
import pytest

from sketch2face.config import SourceParams, SynthesizeParams
from sketch2face.data.records import SourceError
from sketch2face.data.sources import demo


def test_written_demo_dataset_scans_back_with_landmarks_and_attributes(tmp_path):
    count = demo.write_demo_dataset(SynthesizeParams(count=6, views_per_subject=2, image_size=64, seed=3), tmp_path)
    assert count == 6
    scan = demo.scan(SourceParams(name="demo", kind="demo", root=tmp_path))
    assert len(scan.records) == 6 and not scan.rejections
    first = scan.records[0]
    assert first.id.startswith("demo/s0000-v") and first.subject == "demo/s0000"
    assert first.photo_eyes is not None and first.photo_eyes.left[0] < first.photo_eyes.right[0]
    assert {"gender", "tone_group"} <= set(first.attributes)
    assert len({record.subject for record in scan.records}) == 3


def test_missing_image_is_rejected_not_dropped(tmp_path):
    demo.write_demo_dataset(SynthesizeParams(count=2, views_per_subject=1, image_size=64), tmp_path)
    (tmp_path / "sketches" / "s0001-v0.png").unlink()
    scan = demo.scan(SourceParams(name="demo", kind="demo", root=tmp_path))
    assert len(scan.records) == 1
    assert [r.reason for r in scan.rejections] == ["listed in metadata.csv but missing"]


def _demo(tmp_path: Path, count: int = 2) -> SourceParams:
    demo.write_demo_dataset(SynthesizeParams(count=count, views_per_subject=1, image_size=64), tmp_path)
    return SourceParams(name="demo", kind="demo", root=tmp_path)


def _set_metadata(root: Path, column: str, values: dict[int, str]) -> None:
    """Overwrites cells of metadata.csv: `values` maps a row number (0: first after the header) to its new value."""
    metadata = pd.read_csv(root / demo.METADATA_FILE, dtype=str, keep_default_na=False)
    for row, value in values.items():
        metadata.loc[row, column] = value
    metadata.to_csv(root / demo.METADATA_FILE, index=False)


def test_the_partner_of_a_missing_image_is_the_image_left_unused(tmp_path):
    params = _demo(tmp_path)
    (tmp_path / "sketches" / "s0001-v0.png").unlink()

    [rejection] = demo.scan(params).rejections

    assert rejection.path == str(tmp_path / "sketches/s0001-v0.png")
    assert rejection.partner == str(tmp_path / "photos/s0001-v0.png")


def test_files_metadata_does_not_list_are_rejected_not_ignored(tmp_path):
    params = _demo(tmp_path)
    shutil.copy(tmp_path / "photos/s0000-v0.png", tmp_path / "photos/unlisted.png")
    shutil.copy(tmp_path / "sketches/s0000-v0.png", tmp_path / "sketches/unlisted.png")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "photos/.DS_Store").write_bytes(b"\0")

    scan = demo.scan(params)

    assert len(scan.records) == 2
    assert sorted((Path(r.path).relative_to(tmp_path).as_posix(), r.reason) for r in scan.rejections) == [
        ("notes.txt", "not listed in metadata.csv"),
        ("photos/.DS_Store", "hidden file, not read"),
        ("photos/unlisted.png", "not listed in metadata.csv"),
        ("sketches/unlisted.png", "not listed in metadata.csv"),
    ]
    inputs = [path for path in tmp_path.rglob("*") if path.is_file() and path.name != demo.METADATA_FILE]
    assert len(inputs) == 2 * len(scan.records) + len(scan.rejections)


def test_a_repeated_id_is_an_error_naming_the_file_the_id_and_its_lines(tmp_path):
    params = _demo(tmp_path, count=3)
    _set_metadata(tmp_path, "id", {2: "s0000-v0"})

    with pytest.raises(SourceError, match=r"metadata\.csv: ids must be unique .*'s0000-v0' on lines 2, 4$"):
        demo.scan(params)


@pytest.mark.parametrize("value", ["", "2O", "nan", "inf"], ids=["empty", "letter O", "nan", "inf"])
def test_an_eye_cell_that_is_not_a_number_is_an_error_naming_file_line_id_and_column(tmp_path, value):
    params = _demo(tmp_path)
    _set_metadata(tmp_path, "right_eye_y", {1: value})

    with pytest.raises(SourceError) as error:
        demo.scan(params)

    assert str(error.value) == (
        f"{tmp_path / demo.METADATA_FILE}: line 3 (id 's0001-v0'): right_eye_y '{value}' is not a finite number"
    )
