"""Faults around the stages: a broken MLflow store, interrupted stages, bad inputs in a real source.

The library functions run exactly as the stage scripts call them, on a tiny generated dataset.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from sketch2face import tracking
from sketch2face.artifacts import EvalOutputs, TrainOutputs
from sketch2face.config import (
    AlignmentParams,
    AssemblePairsParams,
    CropResizeParams,
    SourceParams,
    SynthesizeParams,
    parse_params,
)
from sketch2face.data import faces
from sketch2face.data.faces import MANIFEST_FILE, REJECTS_FILE, build_faces
from sketch2face.data.pairs import assemble_pairs
from sketch2face.data.sources.demo import write_demo_dataset
from sketch2face.evaluation.evaluator import run_evaluation
from sketch2face.tracking import read_run_reference
from sketch2face.training import loop
from sketch2face.training.run import run_training
from sketch2face.training.step import Pix2PixTrainer

SIZE = 32
TRACKING_OFF = "continuing without tracking"
HOLD_EXCLUSIVE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
"""


def _demo_source(root: Path) -> SourceParams:
    return SourceParams(name="demo", kind="demo", root=root / "demo")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """12 demo faces at 32 px, aligned and split, as the first three stages leave them."""
    root = tmp_path_factory.mktemp("data")
    write_demo_dataset(SynthesizeParams(count=12, image_size=SIZE), root / "demo")
    build_faces(CropResizeParams(image_size=SIZE, sources=(_demo_source(root),)), root / "faces")
    splits = AssemblePairsParams(val_fraction=0.15, test_fraction=0.25)
    assemble_pairs(root / "faces", root / "pairs", splits, AlignmentParams())
    return root


def _params(root: Path, epochs: int = 1, checkpoint_every_steps: int = 500):
    train = {"ngf": 4, "ndf": 4, "batch_size": 4, "epochs_constant": epochs, "epochs_decay": 0}
    return parse_params(
        {
            "crop_resize": {
                "image_size": SIZE,
                "sources": [{"name": "demo", "kind": "demo", "root": str(root / "demo")}],
            },
            "train": {**train, "checkpoint_every_steps": checkpoint_every_steps},
            "evaluate": {"grid_size": 2},
            "tracking": {"log_model": False},  # logging the MLflow model takes seconds and is tested elsewhere
        }
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["locked", "unreachable"])
def broken_store(request, tmp_path, monkeypatch):
    """An MLflow store that cannot be used: a sqlite file another process holds an exclusive lock on,
    or a tracking server on a port where nothing listens."""
    if request.param == "unreachable":
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
        yield "unreachable", "Connection refused (ConnectionRefusedError)"
        return
    database = tmp_path / "locked-mlflow.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
        yield "locked", "database is locked"
    finally:
        holder.kill()
        holder.wait()


def test_broken_mlflow_store_warns_and_train_and_evaluate_still_write_their_metrics(broken_store, tiny_data, tmp_path):
    _, symptom = broken_store
    params = _params(tiny_data)
    train_outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")
    eval_outputs = EvalOutputs.in_dirs(tmp_path / "metrics", tmp_path / "results")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_training(params, tiny_data / "pairs", train_outputs)
        run_evaluation(params, train_outputs, tiny_data / "pairs", eval_outputs)

    tracking_warnings = [str(w.message) for w in caught if TRACKING_OFF in str(w.message)]
    assert len(tracking_warnings) == 2, "one warning per stage, then tracking is off for the run"
    assert all(symptom in message and "\n" not in message for message in tracking_warnings), tracking_warnings
    assert json.loads(train_outputs.summary.read_text())["epochs"] == 1
    assert json.loads(eval_outputs.metrics.read_text())["test_images"] > 0
    assert train_outputs.generator.is_file() and eval_outputs.grid.is_file()
    assert read_run_reference(train_outputs.run_reference) is None


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _interrupt_on_call(number: int, function, error: BaseException | None = None):
    """Wraps `function` so that its `number`-th call is a Ctrl-C (or raises `error`), as if the stage died there."""
    calls = itertools.count(1)

    def wrapped(*args, **kwargs):
        if next(calls) == number:
            raise error or KeyboardInterrupt()
        return function(*args, **kwargs)

    return wrapped


def test_interrupted_crop_resize_reruns_to_the_same_result(tiny_data, tmp_path, monkeypatch):
    # one worker: the interrupt is patched into this process, not into spawned pool workers
    params = CropResizeParams(image_size=SIZE, sources=(_demo_source(tiny_data),), workers=1)
    clean = tmp_path / "clean"
    build_faces(params, clean)

    rerun = tmp_path / "rerun"
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(faces, "write_image", _interrupt_on_call(7, faces.write_image))
        build_faces(params, rerun)
    half = _tree(rerun)
    assert 0 < len(half) < len(_tree(clean)) and MANIFEST_FILE not in half, "the interrupt must land mid-way"
    assert not [name for name in half if Path(name).name.startswith(".")], "no temporary file may be left"

    build_faces(params, rerun)
    assert _tree(rerun) == _tree(clean)


def test_interrupted_training_reruns_to_the_same_model(tiny_data, tmp_path, monkeypatch):
    import mlflow

    params = _params(tiny_data, epochs=2, checkpoint_every_steps=1)  # the rerun resumes from a checkpoint
    clean = TrainOutputs.in_dirs(tmp_path / "clean", tmp_path / "clean")
    run_training(params, tiny_data / "pairs", clean)

    rerun = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")
    # a context, not monkeypatch.undo(): that would also undo conftest's isolated MLflow store
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop, "finish_epoch", _interrupt_on_call(2, loop.finish_epoch))
        run_training(params, tiny_data / "pairs", rerun)
    assert len(pd.read_csv(rerun.log, sep="\t")) == 1 and not rerun.generator.exists()
    interrupted_run = read_run_reference(rerun.run_reference)
    assert mlflow.get_run(interrupted_run).info.status == "KILLED"

    run_training(params, tiny_data / "pairs", rerun)
    assert rerun.log.read_text() == clean.log.read_text()
    first, second = (torch.load(outputs.generator, weights_only=True)["state_dict"] for outputs in (clean, rerun))
    assert all(torch.equal(first[name], second[name]) for name in first)
    # the resumed training goes on in the run it was logging to: one run with every step and epoch
    assert read_run_reference(rerun.run_reference) == interrupted_run
    assert mlflow.get_run(interrupted_run).info.status == "FINISHED"

    clean_run = read_run_reference(clean.run_reference)
    assert _logged_steps(interrupted_run, "loss_G_L1") == _logged_steps(clean_run, "loss_G_L1")
    assert _logged_steps(interrupted_run, "epoch_loss_G_L1") == [1, 2]


def test_training_resumed_after_a_crash_logs_each_step_once(tiny_data, tmp_path, monkeypatch):
    """Like kill -9 after the last checkpoint: the steps since are trained again but logged only once."""
    params = _params(tiny_data, epochs=3, checkpoint_every_steps=3)  # 2 steps an epoch: saved at steps 3 and 6
    clean = TrainOutputs.in_dirs(tmp_path / "clean", tmp_path / "clean")
    run_training(params, tiny_data / "pairs", clean)

    crashed = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")
    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="crash"):
        crash = _interrupt_on_call(5, Pix2PixTrainer.train_step, RuntimeError("crash"))
        patch.setattr(Pix2PixTrainer, "train_step", crash)  # epoch 2 is logged, step 4 queued, neither saved
        patch.setattr(tracking.Tracker, "end", _end_dropping_the_queue)
        run_training(params, tiny_data / "pairs", crashed)
    run_training(params, tiny_data / "pairs", crashed)

    clean_run, crashed_run = (read_run_reference(outputs.run_reference) for outputs in (clean, crashed))
    assert _logged_steps(crashed_run, "loss_G_L1") == _logged_steps(clean_run, "loss_G_L1") == [1, 2, 3, 4, 5, 6]
    assert _logged_steps(crashed_run, "epoch_loss_G_L1") == [1, 2, 3]


def _end_dropping_the_queue(self, status: str = "FINISHED") -> None:
    """As after a kill -9, queued step metrics never reach the store.

    The run itself is ended, so that this test's process may open the next one.
    """
    import mlflow

    mlflow.end_run(status=status)


def _logged_steps(run: str, key: str) -> list[int]:
    import mlflow

    return sorted(metric.step for metric in mlflow.MlflowClient().get_metric_history(run, key))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_training_stopped_by_a_signal_ends_its_run_killed(tiny_data, tmp_path, monkeypatch, signum):
    """The stop handler turns the signal into TrainingInterrupted; MLflow must still say KILLED, not FAILED."""
    import mlflow

    outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")

    def signal_then_finish(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return finish_epoch(*args, **kwargs)

    finish_epoch = loop.finish_epoch
    with monkeypatch.context() as patch, pytest.raises(loop.TrainingInterrupted):
        patch.setattr(loop, "finish_epoch", signal_then_finish)
        run_training(_params(tiny_data, epochs=2), tiny_data / "pairs", outputs)
    assert mlflow.get_run(read_run_reference(outputs.run_reference)).info.status == "KILLED"


def _save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_bad_files_in_a_pairs_source_are_used_or_rejected_and_counts_reconcile(tmp_path):
    """Every file in photos/ and sketches/ ends up in the manifest or in rejects.csv (a rejected
    pair is listed under the file that failed)."""
    raw = tmp_path / "raw"
    face = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    for stem in ("good", "rgba", "dup", "photo_only", "truncated", "empty"):
        _save(raw / "photos" / f"{stem}.png", face)
    for stem in ("good", "rgba", "dup", "sketch_only", "truncated", "empty"):
        _save(raw / "sketches" / f"{stem}.png", face[..., 0])
    _save(raw / "photos" / "dup.jpg", face)  # the same id twice
    _save(raw / "sketches" / "rgba.png", np.dstack([face, np.full((40, 30), 128, np.uint8)]))
    (raw / "photos" / "truncated.png").write_bytes((raw / "photos" / "truncated.png").read_bytes()[:200])
    (raw / "sketches" / "empty.png").write_bytes(b"")
    (raw / "photos" / "notes.txt").write_text("not a face")

    params = CropResizeParams(image_size=SIZE, sources=(SourceParams(name="p", kind="pairs", root=raw),))
    report = build_faces(params, tmp_path / "faces")

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    reasons = {
        Path(path).relative_to(raw).as_posix(): reason
        for path, reason in zip(rejects["path"], rejects["reason"], strict=True)
    }
    assert sorted(manifest["id"]) == ["p/good", "p/rgba"]
    assert reasons == {
        "photos/dup.jpg": "duplicate id 'dup' (2 files)",
        "photos/dup.png": "duplicate id 'dup' (2 files)",
        "sketches/dup.png": "sketch without a photo",
        "photos/notes.txt": "not an image file extension",
        "photos/photo_only.png": "photo without a sketch",
        "sketches/sketch_only.png": "sketch without a photo",
        "photos/truncated.png": "truncated image",
        "sketches/empty.png": "empty file (0 bytes)",
    }
    assert (report.used, report.rejected) == (2, 8)
    inputs = {path.relative_to(raw).as_posix() for path in raw.rglob("*") if path.is_file()}
    used = {Path(path).relative_to(raw).as_posix() for path in (*manifest["raw_photo"], *manifest["raw_sketch"])}
    partners_of_rejected_pairs = {
        Path(partner).relative_to(raw).as_posix() for partner in rejects["partner"].dropna() if partner
    }
    assert partners_of_rejected_pairs == {"sketches/truncated.png", "photos/empty.png"}
    assert inputs == used | set(reasons) | partners_of_rejected_pairs
    assert len(inputs) == 2 * report.used + report.rejected + len(partners_of_rejected_pairs) == 14


def test_a_file_name_that_is_not_utf8_is_rejected_with_the_name_escaped_and_the_rest_is_used(tmp_path):
    """A Latin-1 `caf\\xe9.png` once ended crop_resize in a UnicodeEncodeError after the images were written."""
    raw = tmp_path / "raw"
    face = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    for name in (b"good.png", b"caf\xe9.png"):
        _save(Path(os.fsdecode(bytes(raw / "photos") + b"/" + name)), face)
        _save(Path(os.fsdecode(bytes(raw / "sketches") + b"/" + name)), face[..., 0])

    params = CropResizeParams(image_size=SIZE, sources=(SourceParams(name="p", kind="pairs", root=raw),), workers=1)
    report = build_faces(params, tmp_path / "faces", tmp_path / "faces.json", progress=False)

    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert list(pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)["id"]) == ["p/good"]
    assert sorted(zip(rejects["path"], rejects["reason"], strict=True)) == [
        (f"{raw}/{folder}/caf\\xe9.png", "file name is not UTF-8 text (rename it)") for folder in ("photos", "sketches")
    ]
    assert (report.used, report.rejected) == (1, 2)
    assert json.loads((tmp_path / "faces.json").read_text())["inputs"] == 3
