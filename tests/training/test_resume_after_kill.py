"""kill -9 of a real training process: the rerun resumes from the last checkpoint, bit-identically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import python_path
from tiny_pairs import write_pairs_dir

from sketch2face.artifacts import TrainOutputs
from sketch2face.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parents[1]

TRAIN_SCRIPT = """
import sys
from pathlib import Path
from sketch2face.artifacts import TrainOutputs
from sketch2face.training.run import offline_tracker, train
from tiny_pairs import pipeline_params
params = pipeline_params(ngf=8, ndf=8, batch_size=2, seed=1, epochs_constant=6, epochs_decay=6, checkpoint_every_steps=1)
root = Path(sys.argv[2])
train(params, Path(sys.argv[1]), TrainOutputs.in_dirs(root / "models", root / "metrics"), offline_tracker())
"""
TOTAL_STEPS = 12 * 4  # 12 epochs of 4 batches (8 train pairs, batch 2)


def _start(pairs_dir: Path, root: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": python_path(TESTS)}  # the script imports tiny_pairs
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN_SCRIPT, str(pairs_dir), str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> None:
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 0, errors


def test_sigkill_then_rerun_matches_an_uninterrupted_run(tmp_path):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 8, "val": 2})
    killed_root, reference_root = tmp_path / "killed", tmp_path / "reference"
    checkpoint = TrainOutputs.in_dirs(killed_root / "models", killed_root / "metrics").checkpoint

    process = _start(pairs_dir, killed_root)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(checkpoint)["loop"]["global_step"]
    assert 0 < killed_at < TOTAL_STEPS, "the kill must land in the middle of training"

    _finish(_start(pairs_dir, killed_root))
    assert json.loads((killed_root / "metrics/train.json").read_text())["resumed_from_step"] == killed_at
    _finish(_start(pairs_dir, reference_root))
    for name in ("generator.pt", "generator_best.pt"):
        resumed = torch.load(killed_root / "models" / name, weights_only=True)["state_dict"]
        reference = torch.load(reference_root / "models" / name, weights_only=True)["state_dict"]
        assert all(torch.equal(resumed[key], reference[key]) for key in reference), name
    assert (killed_root / "metrics/train_log.tsv").read_text() == (reference_root / "metrics/train_log.tsv").read_text()
