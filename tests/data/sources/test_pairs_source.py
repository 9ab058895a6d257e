from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketch2face.config import SourceParams
from sketch2face.data.sources import pairs


def _image(path: Path, size=(20, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 128, dtype=np.uint8)).save(path)


def test_matching_stems_pair_up_and_everything_else_is_rejected(tmp_path):
    for name in ("a.jpg", "b.png", "only_photo.png", "dup.png", "dup.jpg"):
        _image(tmp_path / "photos" / name)
    for name in ("a.png", "b.jpeg", "only_sketch.png", "dup.png"):
        _image(tmp_path / "sketches" / name)
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / ".DS_Store").write_bytes(b"\0")
    _image(tmp_path / "sketches" / "extra" / "c.png")
    _image(tmp_path / "extra_sketches" / "b.jpg")  # next to the layout, not in it
    _image(tmp_path / "b.jpg")
    (tmp_path / "notes.txt").write_text("where the photos came from")

    scan = pairs.scan(SourceParams(name="mine", kind="pairs", root=tmp_path))

    assert [record.id for record in scan.records] == ["mine/a", "mine/b"]
    assert scan.records[0].subject == "mine/a"
    reasons = sorted((Path(r.path).relative_to(tmp_path).as_posix(), r.reason) for r in scan.rejections)
    assert reasons == [
        ("b.jpg", "not in photos/ or sketches/"),
        ("extra_sketches/b.jpg", "not in photos/ or sketches/"),
        ("notes.txt", "not in photos/ or sketches/"),
        ("photos/.DS_Store", "hidden file, not read"),
        ("photos/dup.jpg", "duplicate id 'dup' (2 files)"),
        ("photos/dup.png", "duplicate id 'dup' (2 files)"),
        ("photos/notes.txt", "not an image file extension"),
        ("photos/only_photo.png", "photo without a sketch"),
        ("sketches/dup.png", "sketch without a photo"),
        ("sketches/extra/c.png", "in a sub-folder, not read (the pairs layout is flat)"),
        ("sketches/only_sketch.png", "sketch without a photo"),
    ]
    inputs = sum(1 for path in tmp_path.rglob("*") if path.is_file())
    assert inputs == 2 * len(scan.records) + len(scan.rejections)


def test_a_root_without_both_folders_is_a_clear_error(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ValueError, match=r"source 'mine': expected folder .*sketches"):
        pairs.scan(SourceParams(name="mine", kind="pairs", root=tmp_path))


def test_files_in_a_linked_sub_folder_are_rejected_like_any_sub_folder(tmp_path):
    root = tmp_path / "mine"
    for folder in ("photos", "sketches"):
        _image(root / folder / "a.png")
    _image(tmp_path / "more/b.png")
    (root / "sketches" / "more").symlink_to(tmp_path / "more")

    scan = pairs.scan(SourceParams(name="mine", kind="pairs", root=root))

    assert [record.id for record in scan.records] == ["mine/a"]
    assert [(r.path, r.reason) for r in scan.rejections] == [
        (str(root / "sketches/more/b.png"), "in a sub-folder, not read (the pairs layout is flat)")
    ]
