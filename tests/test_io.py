"""Atomic outputs under faults: a full disk or a denied folder gives a clear error and no half file."""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from sketch2face.io import (
    OutputError,
    atomic_path,
    folder_digest,
    write_csv,
    write_image,
    write_json,
    write_text,
    write_torch,
)

OLD = {"psnr": 1.0}


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


DISK_ROOM = 100  # bytes a temporary file gets before the simulated disk is full


class FillingFile:
    """Wraps a real file: the first DISK_ROOM bytes land on disk, then writes fail like a full disk."""

    def __init__(self, handle) -> None:
        self._handle, self._written = handle, 0

    def write(self, data):
        room = max(0, DISK_ROOM - self._written)
        self._handle.write(data[:room])
        self._written += len(data[:room])
        if len(data) > room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    def __getattr__(self, attribute):
        return getattr(self._handle, attribute)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.close()


@pytest.mark.parametrize(
    ("writer", "name", "payload"),
    [
        (write_json, "eval.json", {"per_image_psnr": [20.0] * 100}),
        (write_text, "notes.txt", "x" * 10_000),
        (write_csv, "table.csv", pd.DataFrame({"id": range(500)})),
        (write_image, "face.png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)),
        (write_torch, "generator.pt", {"weight": torch.ones(1000)}),
    ],
    ids=["json", "text", "csv", "png", "torch"],
)
def test_disk_full_mid_write_names_the_path_and_keeps_the_old_file(writer, name, payload, tmp_path, monkeypatch):
    target = tmp_path / name
    target.write_text("previous version")
    real_open = open

    def filling_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return FillingFile(handle) if "w" in mode and str(file).endswith(".tmp") else handle

    monkeypatch.setattr("builtins.open", filling_open)
    monkeypatch.setattr("io.open", filling_open)  # pathlib's write_text opens through io.open
    with pytest.raises(OutputError) as error:
        writer(target, payload)
    monkeypatch.undo()

    assert str(error.value) == f"cannot write {target}: disk full (no space left on device)"
    assert error.value.errno == errno.ENOSPC
    assert target.read_text() == "previous version", "the old output must survive a failed write"
    assert _leftovers(tmp_path) == [], "the half-written temporary file must be removed"


def test_permission_denied_on_the_output_folder_is_clear(shared_tmp, unprivileged):
    folder = shared_tmp / "metrics"
    folder.mkdir()
    folder.chmod(0o555)
    for target in (folder / "eval.json", folder / "sub" / "eval.json"):
        with pytest.raises(OutputError) as error:
            unprivileged(lambda target=target: write_json(target, OLD))
        assert str(error.value) == f"cannot write {target}: permission denied"
    assert list(folder.iterdir()) == []


def test_output_error_is_an_os_error_that_survives_pickling():
    error = OutputError(errno.ENOSPC, "disk full", "/x/eval.json")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, OSError) and str(copy) == str(error) == "cannot write /x/eval.json: disk full"


def test_other_failures_keep_their_type_name_the_path_and_leave_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(RuntimeError) as error, atomic_path(target) as temporary:
        temporary.write_bytes(b"half a model")
        raise RuntimeError("serializer failed")
    assert f"while writing {target}" in error.value.__notes__
    assert not target.exists() and _leftovers(tmp_path) == []


def test_interrupt_leaves_no_temporary_and_no_output(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "a.json") as temporary:
        temporary.write_text("{")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_successful_writes_are_readable(tmp_path):
    write_json(tmp_path / "a" / "b.json", OLD)
    write_image(tmp_path / "c.png", np.zeros((4, 5), dtype=np.uint8))
    assert json.loads((tmp_path / "a" / "b.json").read_text()) == OLD
    assert np.asarray(Image.open(tmp_path / "c.png")).shape == (4, 5)
    assert _leftovers(tmp_path) == []


def test_the_same_weights_saved_twice_give_the_same_bytes(tmp_path):
    """DVC hashes model files: a rerun that reproduces the weights must not look like a new model."""
    payload = {"config": {"ngf": 4}, "state_dict": {"weight": torch.arange(6.0).reshape(2, 3)}}
    write_torch(tmp_path / "first.pt", payload)
    write_torch(tmp_path / "second.pt", payload)
    assert (tmp_path / "first.pt").read_bytes() == (tmp_path / "second.pt").read_bytes()
    assert torch.equal(torch.load(tmp_path / "first.pt")["state_dict"]["weight"], payload["state_dict"]["weight"])


def test_outputs_get_the_usual_permissions_not_the_temporary_files_private_ones(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    write_image(tmp_path / "photo.png", np.zeros((4, 4), np.uint8))
    assert stat.S_IMODE((tmp_path / "photo.png").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"], "no temporary file is left behind"


def test_folder_digest_follows_names_and_bytes_not_timestamps(tmp_path):
    def folder(name: str, files: dict[str, bytes]) -> Path:
        for relative, content in files.items():
            (tmp_path / name / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / relative).write_bytes(content)
        return tmp_path / name

    pairs = {"pairs.csv": b"id\n1\n", "train/1.png": b"\x89PNG one"}
    original = folder_digest(folder("a", pairs))
    assert original.startswith("sha256:") and len(original) == len("sha256:") + 16
    assert folder_digest(folder("copy", pairs)) == original  # another place, other timestamps
    assert folder_digest(folder("edited", {**pairs, "train/1.png": b"\x89PNG two"})) != original
    assert (
        folder_digest(folder("renamed", {"pairs.csv": pairs["pairs.csv"], "val/1.png": pairs["train/1.png"]}))
        != original
    )
