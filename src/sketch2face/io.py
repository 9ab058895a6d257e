"""Atomic file output: a reader never sees a half-written file, even if the process is killed
or the disk fills mid-write (no fsync: a power cut may still lose the newest file)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

TEMPORARY_SUFFIX = ".tmp"


class OutputError(OSError):
    """An output file that could not be written. The previous version of the file, if any, is
    untouched and no temporary file is left behind; the message names the path and the cause."""

    def __init__(self, code: int | None, problem: str, path: str) -> None:
        super().__init__(code, problem, path)

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"

    @classmethod
    def caused_by(cls, path: Path, exc: OSError) -> OutputError:
        problem = PROBLEMS.get(exc.errno, exc.strerror or str(exc))
        return cls(exc.errno, problem, str(path))


PROBLEMS = {
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
}


def _as_output_error(path: Path, exc: OSError) -> OutputError:
    return exc if isinstance(exc, OutputError) else OutputError.caused_by(path, exc)


def _new_file_mode() -> int:
    """The mode `open()` gives a new file; mkstemp's 0600 would hide outputs from other users."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yields a temporary path beside `path`; it replaces `path` only if the block succeeds.

    An OSError (disk full, permission denied...) becomes an `OutputError` naming `path`; any other
    failure keeps its type and gets a note naming `path`. Either way the temporary file is removed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
        os.close(handle)
        os.chmod(name, NEW_FILE_MODE)
    except OSError as exc:
        raise _as_output_error(path, exc) from exc
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as exc:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _as_output_error(path, exc) from exc
        if isinstance(exc, Exception):
            exc.add_note(f"while writing {path}")
        raise


def write_torch(path: Path | str, payload: Any) -> None:
    """torch.save, atomically, giving identical bytes for identical payloads.

    Given a file name, torch names the zip's root folder after it, here a random temporary name,
    so every save differed and DVC saw a changed model after every rerun. Given an open file, it
    uses a fixed name.
    """
    import torch  # late: the data stages never need it

    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        try:
            torch.save(payload, stream)
        except RuntimeError as exc:
            if isinstance(exc.__context__, OSError):  # torch wraps the stream's own error (disk full...)
                raise exc.__context__ from None
            raise


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_json(path: Path | str, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def write_csv(path: Path | str, frame: pd.DataFrame, sep: str = ",") -> None:
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False, sep=sep)


def write_image(path: Path | str, pixels: np.ndarray) -> None:
    """Writes a uint8 greyscale (H, W) or RGB (H, W, 3) array as PNG."""
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")


def folder_digest(folder: Path | str, length: int = 16) -> str:
    """A short SHA-256 of every file's relative path and bytes: which data, whatever its timestamps."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"sha256:{digest.hexdigest()[:length]}"
