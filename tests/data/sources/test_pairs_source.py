from pathlib import Path

import numpy as np
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
    (tmp_path / "sketches" / "extra").mkdir()

    scan = pairs.scan(SourceParams(name="mine", kind="pairs", root=tmp_path))

    assert [record.id for record in scan.records] == ["mine/a", "mine/b"]
    assert scan.records[0].subject == "mine/a"
    reasons = sorted((Path(r.path).name, r.reason) for r in scan.rejections)
    assert reasons == [
        ("dup.jpg", "duplicate id 'dup' (2 files)"),
        ("dup.png", "duplicate id 'dup' (2 files)"),
        ("dup.png", "sketch without a photo"),
        ("extra", "sub-folder not read (the pairs layout is flat)"),
        ("notes.txt", "not an image file extension"),
        ("only_photo.png", "photo without a sketch"),
        ("only_sketch.png", "sketch without a photo"),
    ]
    inputs = sum(1 for _ in tmp_path.rglob("*") if _.is_file() or _.name == "extra")
    assert inputs == 2 * len(scan.records) + len(scan.rejections)
