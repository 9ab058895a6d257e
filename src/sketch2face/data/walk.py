"""Walking a user's folder: every entry below it is a file to read or skipped with its reason.

Datasets on another disk are usually symbolic links into `data/raw`, so links to folders are
followed. A link back to a folder being walked (a loop), a link whose target is missing, a FIFO
or device, a folder that cannot be listed and a hidden entry are listed with the reason they
were not read, never dropped: the callers (the source adapters, `predict`) report every input.
A name need not be UTF-8 text (a Latin-1 disk's `caf\\xe9.png`): `printable` shows it in tables and messages.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

HIDDEN_PREFIX = "."
SPECIAL_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


@dataclass(frozen=True)
class Skipped:
    """An entry that was not read; a skipped folder stands for everything below it."""

    path: Path
    reason: str


@dataclass
class FolderWalk:
    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


EntryKind = Literal["file", "folder"]


def printable(path: Path | str) -> str:
    """`path` as text any table or terminal takes: bytes of a name that are not UTF-8 are shown as `\\xe9`.

    Python keeps such bytes as lone surrogates, which a UTF-8 CSV or stdout refuses with an exception.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_text(path: Path) -> bool:
    """Whether `path` is valid UTF-8, so that it can stand in an id, a table or a log as it is."""
    return printable(path) == str(path)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _unreachable(path: Path, exc: OSError) -> str:
    """Why a path whose status (through its links) cannot be read is not read."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (its links lead in a circle), not followed"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (its target {printable(os.readlink(path))} does not exist)"
    if exc.errno == errno.ENOENT:
        return "no such file or folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot read ({errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc.strerror})"


def classify(path: Path) -> tuple[EntryKind, os.stat_result] | Skipped:
    """A file or folder (links followed) with its status, or the reason it cannot be read."""
    try:
        status = path.stat()
    except OSError as exc:
        return Skipped(path, _unreachable(path, exc))
    if stat.S_ISDIR(status.st_mode):
        return "folder", status
    if stat.S_ISREG(status.st_mode):
        return "file", status
    kind = SPECIAL_FILE_KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
    return Skipped(path, f"not a regular file ({kind}), not read")


def _walk_into(folder: Path, ancestors: dict[tuple[int, int], Path], walk: FolderWalk) -> None:
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        walk.skipped.append(Skipped(folder, f"cannot list this folder ({_unreachable(folder, exc)})"))
        return
    for name in names:
        path = folder / name
        found = classify(path)
        if isinstance(found, Skipped):
            walk.skipped.append(found)
            continue
        kind, status = found
        if name.startswith(HIDDEN_PREFIX):
            walk.skipped.append(Skipped(path, f"hidden {kind}, not read"))
        elif kind == "file":
            walk.files.append(path)
        elif _identity(status) in ancestors:
            loop_to = ancestors[_identity(status)]
            walk.skipped.append(Skipped(path, f"symbolic link loop (back to {printable(loop_to)}), not followed"))
        else:
            _walk_into(path, {**ancestors, _identity(status): path}, walk)


def walk_folder(root: Path) -> FolderWalk:
    """Every file below `root`, sorted, following links to folders, and every entry skipped with its reason."""
    walk = FolderWalk()
    _walk_into(root, {_identity(root.stat()): root}, walk)
    walk.files.sort()
    walk.skipped.sort(key=lambda skipped: skipped.path)
    return walk
