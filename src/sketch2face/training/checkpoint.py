"""Training checkpoints: everything needed to resume exactly, in one atomically written file.

A checkpoint is only resumed by a run whose fingerprint matches: the training params that shape
the trajectory, the image size, the number of processes, the training data and the training
code. Anything else starts fresh, so a changed config never continues an incompatible run.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketch2face.config import TrainParams
from sketch2face.io import write_torch

# Params that change neither the maths nor the data order, so a run may resume across them.
RESUMABLE_ACROSS = frozenset({"checkpoint_every_steps", "threads", "device"})
FINGERPRINTED_CODE = ("models", "training", "data/dataset.py")
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    write_torch(path, state)


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def _code_files() -> list[Path]:
    files: list[Path] = []
    for entry in FINGERPRINTED_CODE:
        path = PACKAGE_ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def fingerprint(params: TrainParams, image_size: int, world_size: int, data: list[torch.Tensor]) -> str:
    """A digest of everything a resumed run must share with the run that wrote the checkpoint."""
    digest = hashlib.sha256()
    shaping = {key: value for key, value in params.model_dump(mode="json").items() if key not in RESUMABLE_ACROSS}
    digest.update(json.dumps({"params": shaping, "image_size": image_size, "world_size": world_size}, sort_keys=True).encode())
    for tensor in data:
        digest.update(tensor.contiguous().numpy().tobytes())
    for path in _code_files():
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Gives each loaded state tensor (Adam's moments) its parameter's memory layout.

    Loading keeps the layout the state was saved in, and a run resumed on another device may lay
    its networks out differently (`memory_formats`). Fused Adam walks parameter and state as flat
    buffers, so a channels-last moment beside an NCHW parameter would be applied to the wrong
    weights, silently.
    """
    for parameter, state in optimizer.state.items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def rng_states() -> dict[str, Any]:
    """The global generators a training step may draw from (dropout uses torch's)."""
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
