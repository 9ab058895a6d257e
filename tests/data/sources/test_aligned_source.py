from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketch2face.config import SourceParams
from sketch2face.data.records import PAIRS_FILE
from sketch2face.data.sources import aligned


def _ab(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((16, 32, 3), dtype=np.uint8)).save(path)


def test_split_folders_become_records_that_keep_their_split(tmp_path):
    _ab(tmp_path / "train/1.jpg")
    _ab(tmp_path / "train/2.png")
    _ab(tmp_path / "test/9.jpg")
    _ab(tmp_path / "extra/5.jpg")
    (tmp_path / "val").mkdir()
    (tmp_path / "val/notes.txt").write_text("x")
    (tmp_path / "train/.ipynb_checkpoints").mkdir()
    _ab(tmp_path / "train/.ipynb_checkpoints/1.jpg")

    scan = aligned.scan(SourceParams(name="facades", kind="aligned", root=tmp_path, sketch_side="right"))

    assert [r.id for r in scan.records] == ["facades/test/9", "facades/train/1", "facades/train/2"]
    assert [r.attributes for r in scan.records] == [{"folder_split": "test"}] + [{"folder_split": "train"}] * 2
    assert all(r.photo_path == r.sketch_path and r.ab_sketch_side == "right" for r in scan.records)
    assert sorted((Path(r.path).name, r.reason) for r in scan.rejections) == [
        (".ipynb_checkpoints", "hidden folder, not read"),  # one entry, however much it holds
        ("5.jpg", "not in a train/val/test folder"),
        ("notes.txt", "not an image file extension"),
    ]


def test_this_pipelines_own_pairs_folder_reads_back_with_nested_ids(tmp_path):
    _ab(tmp_path / "train/cufs/cuhk/f-005-01.png")
    _ab(tmp_path / "test/demo/face_0003_a.png")
    (tmp_path / PAIRS_FILE).write_text("id,split\n")  # assemble_pairs' table of the images: not an input

    scan = aligned.scan(SourceParams(name="mine", kind="aligned", root=tmp_path))

    assert {r.id: r.attributes["folder_split"] for r in scan.records} == {
        "mine/test/demo/face_0003_a": "test",
        "mine/train/cufs/cuhk/f-005-01": "train",
    }
    assert scan.rejections == []


def test_only_the_pairs_table_at_the_root_is_skipped(tmp_path):
    _ab(tmp_path / "train/1.png")
    (tmp_path / PAIRS_FILE).write_text("id,split\n")
    (tmp_path / "train" / PAIRS_FILE).write_text("id,split\n")
    (tmp_path / "notes.csv").write_text("x\n")

    scan = aligned.scan(SourceParams(name="mine", kind="aligned", root=tmp_path))

    assert sorted((Path(r.path).relative_to(tmp_path).as_posix(), r.reason) for r in scan.rejections) == [
        ("notes.csv", "not in a train/val/test folder"),
        ("train/pairs.csv", "not an image file extension"),
    ]


def test_one_id_in_two_files_rejects_both(tmp_path):
    _ab(tmp_path / "train/1.jpg")
    _ab(tmp_path / "train/1.png")
    _ab(tmp_path / "test/1.png")  # the same stem in another split is another id

    scan = aligned.scan(SourceParams(name="ab", kind="aligned", root=tmp_path))

    assert [r.id for r in scan.records] == ["ab/test/1"]
    assert sorted(Path(r.path).name for r in scan.rejections) == ["1.jpg", "1.png"]
    assert all(r.reason == "duplicate id 'train/1' (2 files)" for r in scan.rejections)


def test_a_folder_without_split_folders_is_a_clear_error(tmp_path):
    _ab(tmp_path / "1.jpg")
    with pytest.raises(ValueError, match="expected train/, val/, test/ folders"):
        aligned.scan(SourceParams(name="x", kind="aligned", root=tmp_path))


def test_sketch_side_belongs_to_aligned_sources_only(tmp_path):
    with pytest.raises(ValueError, match="sketch_side is only used by kind aligned"):
        SourceParams(name="x", kind="pairs", root=tmp_path, sketch_side="right")
