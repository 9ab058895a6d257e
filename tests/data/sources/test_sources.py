from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.sources import folders_outside


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
