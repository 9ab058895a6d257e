"""Source adapters: one per raw dataset layout, each turning a folder into `FaceRecord`s.

To support a new layout, write a function `scan(params: SourceParams) -> SourceScan` and add it
to `ADAPTERS` under the `kind` name that `params.yaml` uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.records import SourceError, SourceScan
from sketch2face.data.sources import aligned, cufs, cufsf, demo, pairs

Adapter = Callable[[SourceParams], SourceScan]

ADAPTERS: dict[str, Adapter] = {
    "demo": demo.scan,
    "pairs": pairs.scan,
    "cufs": cufs.scan,
    "cufsf": cufsf.scan,
    "aligned": aligned.scan,
}


def scan_sources(sources: Iterable[SourceParams]) -> SourceScan:
    """Scans every configured source; ids are prefixed with the source name so they never clash."""
    combined = SourceScan()
    for source in sources:
        for setting, folder in (("root", source.root), ("photos_root", source.photos_root)):
            if folder is not None and not folder.is_dir():
                problem = "is a file, not a folder" if folder.exists() else "does not exist"
                raise SourceError(f"source '{source.name}': {setting} {folder} {problem}")
        combined.extend(ADAPTERS[source.kind](source))
    return combined


def folders_outside(sources: Iterable[SourceParams], tracked: Sequence[Path]) -> list[str]:
    """`source '<name>' root <folder>` for each configured folder under none of `tracked`.

    `tracked` are the crop_resize stage's data dependencies: a dataset elsewhere can change
    without `dvc repro` noticing, so the stage warns about it.
    """

    def plain(folder: Path) -> Path:  # absolute, `..` collapsed, symbolic links left as they are
        return Path(os.path.normpath(folder.absolute()))

    inside = [plain(folder) for folder in tracked]
    return [
        f"source '{source.name}' {setting} {folder}"
        for source in sources
        for setting, folder in (("root", source.root), ("photos_root", source.photos_root))
        if folder is not None and not any(plain(folder).is_relative_to(parent) for parent in inside)
    ]
