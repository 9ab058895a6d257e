"""Atomic file output: a reader never sees a half-written file, even after a crash or a full disk."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
from PIL import Image


def _new_file_mode() -> int:
    """The mode `open()` gives a new file; mkstemp's 0600 would hide outputs from other users."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yields a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, NEW_FILE_MODE)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
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
