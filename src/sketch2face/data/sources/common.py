"""Helpers shared by the adapters: finding files by name pattern, landmark text files, eyes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from sketch2face.data.records import EyeCentres, Rejection
from sketch2face.data.walk import is_text, printable, walk_folder

Point = tuple[float, float]
FOLDER_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")  # "CUHKTestingPhotos" -> CUHK, Testing, Photos
NOT_UTF8_NAME = "file name is not UTF-8 text (rename it)"
# a folder word that names a published split (see official_split_from_folders)
SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "val": "val",
    "validation": "val",
}


class LandmarkFileError(ValueError):
    """A landmark file that cannot be read or parsed: `path` is rejected, with `problem` as the reason."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def read_landmark_text(path: Path) -> str:
    """The text of a landmark file; an unreadable or binary file is a LandmarkFileError, not a crash."""
    try:
        return path.read_text()
    except OSError as exc:
        raise LandmarkFileError(path, f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise LandmarkFileError(path, "not a text file") from None


def files_under(root: Path) -> list[Path]:
    """Every readable visible file below `root`, sorted, so that renamed, nested or linked folders still work."""
    return walk_folder(root).files


def source_files(root: Path, source: str, rejections: list[Rejection]) -> list[Path]:
    """The readable visible files below `root`; every entry the walk skipped is a rejection with its reason.

    `.DS_Store` and `._x.jpg` are a rejection each, a hidden folder (`.git/`) one for all it holds,
    and so are a broken symbolic link, a link loop and a folder that cannot be listed. A file
    whose name is not UTF-8 is rejected too: its id would have to stand in the manifest, the
    output file names and MLflow as text.
    """
    walk = walk_folder(root)
    rejections.extend(Rejection(source, printable(skipped.path), skipped.reason) for skipped in walk.skipped)
    rejections.extend(Rejection(source, printable(path), NOT_UTF8_NAME) for path in walk.files if not is_text(path))
    return [path for path in walk.files if is_text(path)]


def unique_by_key(
    paths: Iterable[Path], key: Callable[[Path], str | None], source: str, rejections: list[Rejection], what: str
) -> dict[str, Path]:
    """Paths keyed by `key(path)` (None: not wanted); a key found twice rejects every copy."""
    by_key: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        name = key(path)
        if name is not None:
            by_key[name].append(path)
    unique: dict[str, Path] = {}
    for name, found in by_key.items():
        if len(found) > 1:
            rejections.extend(
                Rejection(source, str(path), f"duplicate {what} '{name}' ({len(found)} files)") for path in found
            )
        else:
            unique[name] = found[0]
    return unique


def stem_matching(pattern: re.Pattern[str], suffix: str) -> Callable[[Path], str | None]:
    """A key function: the name without `suffix` when it ends so and matches `pattern`."""

    def key(path: Path) -> str | None:
        name = path.name
        if not name.lower().endswith(suffix):
            return None
        stem = name[: len(name) - len(suffix)]
        return stem if pattern.fullmatch(stem) else None

    return key


def read_points(path: Path, minimum: int) -> list[Point]:
    """`x y` pairs, whitespace separated, any line layout; at least `minimum` points."""
    text = read_landmark_text(path)
    try:
        numbers = [float(token) for token in text.split()]
    except ValueError as exc:
        raise LandmarkFileError(path, f"not a list of numbers ({exc})") from None
    if len(numbers) % 2 or len(numbers) // 2 < minimum:
        raise LandmarkFileError(path, f"expected at least {minimum} 'x y' points, found {len(numbers)} numbers")
    return [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]


def eyes_from_points(first: Point, second: Point) -> EyeCentres:
    """Two eye centres in either order; `EyeCentres.left` is the one at smaller x in the image."""
    left, right = sorted((first, second))
    return EyeCentres(left=left, right=right)


def official_split_from_folders(path: Path, root: Path) -> str | None:
    """`train`/`test`/`val` when a folder between `root` and `path` has a word naming one.

    Words, not substrings: `training`, `CUHK_testing_cropped`, `TrainingPhotos` and `val` count,
    while `for_evaluation`, `latest_download` or `Contest` must not put a whole tree into one split.
    """
    for part in path.relative_to(root).parts[:-1]:
        for word in FOLDER_WORD.findall(part):
            if word.lower() in SPLIT_WORDS:
                return SPLIT_WORDS[word.lower()]
    return None
