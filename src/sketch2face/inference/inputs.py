"""What `predict` was pointed at: sketch files found in files and folders, and where their photos go.

Every path the user gave ends up an input or a failure with its reason, so the summary adds up.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sketch2face.data.images import (
    is_image_file,
)
from sketch2face.data.walk import Skipped, classify, walk_folder

PHOTO_SUFFIX = ".png"
SIDE_BY_SIDE_SUFFIX = "_side_by_side"


@dataclass(frozen=True)
class SketchInput:
    path: Path
    name: str  # output path relative to the output folder, without suffix
    relative: str | None = None  # the path within the folder it was found in (None: a file given as such)

    def names(self) -> set[str]:
        """How a hints file may name this input: its path as given, or relative to its folder."""
        return {os.path.normpath(text) for text in (str(self.path), self.relative) if text}


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def collect_sketches(arguments: Sequence[Path], out_dir: Path) -> tuple[list[SketchInput], list[Failure]]:
    """Files as given, folders walked recursively (keeping sub-folders in the output names).

    Non-image files, missing paths, entries the folder walk could not read (broken links, link
    loops, hidden files), two inputs that would write the same output, and files that this run
    writes itself (when `-o` lies in an input folder) are failures, so the summary accounts for
    everything the user pointed at.
    """
    inputs: list[SketchInput] = []
    failures: list[Failure] = []
    seen: set[Path] = set()  # a file given twice (itself and inside a folder also given) counts once

    def first_time(path: Path) -> bool:
        key = Path(os.path.abspath(path))  # not resolve(): a link loop has no real path
        if key in seen:
            return False
        seen.add(key)
        return True

    for argument in arguments:
        found = classify(argument)
        if isinstance(found, Skipped):
            unreadable = [found]
            candidates = []
        elif found[0] == "folder":
            walk = walk_folder(argument)
            unreadable = walk.skipped
            candidates = [(path, path.relative_to(argument)) for path in walk.files]
        else:
            unreadable = []
            candidates = [(argument, None)]
        failures.extend(Failure(str(entry.path), entry.reason) for entry in unreadable if first_time(entry.path))
        for path, relative in candidates:
            if not first_time(path.resolve()):
                continue
            if is_image_file(path):
                name = path.stem if relative is None else relative.with_suffix("").as_posix()
                inputs.append(SketchInput(path, name, None if relative is None else relative.as_posix()))
            else:
                failures.append(Failure(str(path), f"not an image file (suffix {path.suffix or 'none'!r})"))

    unique: dict[str, SketchInput] = {}
    for item in inputs:
        if item.name in unique:
            failures.append(Failure(str(item.path), f"same output name as {unique[item.name].path}"))
        else:
            unique[item.name] = item
    return _not_overwritten(list(unique.values()), out_dir, failures)


def _not_overwritten(
    inputs: list[SketchInput], out_dir: Path, failures: list[Failure]
) -> tuple[list[SketchInput], list[Failure]]:
    """Takes out, as failures that say why, the inputs at a path this run writes to.

    With `-o` inside an input folder, the photos (and side-by-sides) of an earlier run are found
    there again: they are not sketches to read back. With `-o` the input folder itself, `a.png`
    would be replaced by its own photo.
    """
    writers: dict[Path, SketchInput] = {}
    for item in inputs:
        for output in (photo_path(out_dir, item), side_by_side_path(out_dir, item)):
            writers.setdefault(output.resolve(), item)
    kept: list[SketchInput] = []
    for item in inputs:
        path = item.path.resolve()
        if photo_path(out_dir, item).resolve() == path:
            reason = f"its photo would overwrite it (choose an -o folder other than {out_dir})"
            failures.append(Failure(str(item.path), reason))
        elif path in writers:
            failures.append(
                Failure(str(item.path), f"named like the output of {writers[path].path}: not read as a sketch")
            )
        else:
            kept.append(item)
    return kept, failures


def photo_path(out_dir: Path, item: SketchInput) -> Path:
    return out_dir / f"{item.name}{PHOTO_SUFFIX}"


def side_by_side_path(out_dir: Path, item: SketchInput) -> Path:
    return out_dir / f"{item.name}{SIDE_BY_SIDE_SUFFIX}{PHOTO_SUFFIX}"
