import bz2
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketch2face.config import SourceParams, SynthesizeParams
from sketch2face.data.sources import cufsf, demo, folders_outside, scan_sources


def test_folders_outside_the_tracked_ones_are_named_with_their_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sources = [
        SourceParams(name="demo", kind="demo", root=Path("data/demo")),
        SourceParams(name="cufs", kind="cufs", root=tmp_path / "data/raw/CUFS"),  # absolute, but inside
        SourceParams(name="cufsf", kind="cufsf", root=Path("data/raw/CUFSF"), photos_root=Path("/mnt/colorferet")),
        SourceParams(name="mine", kind="pairs", root=Path("data/rawish")),
        SourceParams(name="up", kind="pairs", root=Path("data/raw/../../elsewhere")),
    ]

    outside = folders_outside(sources, (Path("data/demo"), Path("data/raw")))

    assert outside == [
        "source 'cufsf' photos_root /mnt/colorferet",
        "source 'mine' root data/rawish",
        "source 'up' root data/raw/../../elsewhere",
    ]


def _image(path: Path, size: tuple[int, int] = (24, 20)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 90, dtype=np.uint8)).save(path)


def _ppm_bz2(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 8, 3), 60, dtype=np.uint8)).save(buffer, format="PPM")
    path.write_bytes(bz2.compress(buffer.getvalue()))


def _demo_layout(root: Path) -> None:
    demo.write_demo_dataset(SynthesizeParams(count=2, views_per_subject=1, image_size=32), root)


def _pairs_layout(root: Path) -> None:
    for folder in ("photos", "sketches"):
        _image(root / folder / "a.png")


def _cufs_layout(root: Path) -> None:
    _image(root / "photos/f-005-01.jpg")
    _image(root / "sketches/F2-005-01-sz1.jpg")


def _cufsf_layout(root: Path) -> None:
    _image(root / "sketches/00001.jpg")
    (root / "lists").mkdir()
    (root / "lists" / cufsf.NAMES_FILE).write_text("00001fb010_930831.jpg\n")
    _ppm_bz2(root / "colorferet/dvd1/00001_930831_fb.ppm.bz2")


def _aligned_layout(root: Path) -> None:
    _image(root / "train/1.png", size=(32, 16))
    _image(root / "test/2.png", size=(32, 16))


LAYOUTS = {
    "demo": _demo_layout,
    "pairs": _pairs_layout,
    "cufs": _cufs_layout,
    "cufsf": _cufsf_layout,
    "aligned": _aligned_layout,
}


def _source(kind: str, root: Path) -> SourceParams:
    photos_root = {"photos_root": root / "colorferet"} if kind == "cufsf" else {}
    return SourceParams(name="s", kind=kind, root=root, **photos_root)


def _relative(scan, root: Path) -> tuple[list, list]:
    records = [(r.id, r.photo_path.relative_to(root), r.sketch_path.relative_to(root)) for r in scan.records]
    rejections = sorted((Path(r.path).relative_to(root).as_posix(), r.reason) for r in scan.rejections)
    return records, rejections


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_a_source_whose_folders_are_symbolic_links_scans_like_the_real_one(kind, tmp_path):
    """Datasets on another disk are linked into data/raw: every top-level entry here is a link."""
    real, linked = tmp_path / "disk" / kind, tmp_path / "raw" / kind
    LAYOUTS[kind](real)
    linked.mkdir(parents=True)
    for entry in real.iterdir():
        (linked / entry.name).symlink_to(entry)

    expected = _relative(scan_sources([_source(kind, real)]), real)
    assert expected[0], "the real layout must give at least one record"
    assert _relative(scan_sources([_source(kind, linked)]), linked) == expected


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_link_loops_and_broken_links_in_a_source_are_rejected_with_their_reason(kind, tmp_path):
    root = tmp_path / kind
    LAYOUTS[kind](root)
    (root / "loop").symlink_to(root)  # a link back to the root: walking it would never end
    (root / "gone.png").symlink_to(tmp_path / "deleted.png")
    (root / "circle_a").symlink_to(root / "circle_b")
    (root / "circle_b").symlink_to(root / "circle_a")

    rejections = _relative(scan_sources([_source(kind, root)]), root)[1]

    assert ("loop", f"symbolic link loop (back to {root}), not followed") in rejections
    assert ("gone.png", f"broken symbolic link (its target {tmp_path / 'deleted.png'} does not exist)") in rejections
    circle = "symbolic link loop (its links lead in a circle), not followed"
    assert ("circle_a", circle) in rejections and ("circle_b", circle) in rejections
