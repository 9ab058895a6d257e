"""Training checkpoints: everything needed to resume exactly, in one atomically written file.

A checkpoint is only resumed by a run whose fingerprint matches: the training params that shape
the trajectory, the image size, the number of processes, the training data and the training
code. Anything else starts fresh, so a changed config never continues an incompatible run.
"""

from __future__ import annotations

import hashlib
import json
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketch2face.config import TrainParams
from sketch2face.errors import error_line
from sketch2face.io import write_torch
from sketch2face.training import distributed
from sketch2face.training.distributed import SINGLE_PROCESS, ProcessGroup

# Params that change neither the maths nor the data order, so a run may resume across them.
RESUMABLE_ACROSS = frozenset({"checkpoint_every_steps", "threads", "device"})
FINGERPRINTED_CODE = ("models", "training", "data/dataset.py")
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    write_torch(path, state)


class UnusableCheckpoint(Exception):
    """A checkpoint file that cannot be resumed (truncated, or not a training checkpoint): training starts fresh."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's contents; UnusableCheckpoint says what is wrong with a damaged or foreign file.

    An OSError (permission denied, a folder in its place) is left to the stage: it names the file.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except OSError:
        raise
    except Exception as exc:
        raise UnusableCheckpoint(f"cannot be read ({error_line(exc)})") from None
    if not isinstance(state, dict) or "fingerprint" not in state:
        found = "a dict without a fingerprint" if isinstance(state, dict) else f"a {type(state).__name__}"
        raise UnusableCheckpoint(f"is not a training checkpoint (it holds {found})")
    return state


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
    digest.update(
        json.dumps({"params": shaping, "image_size": image_size, "world_size": world_size}, sort_keys=True).encode()
    )
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


def rng_states(device: torch.device, group: ProcessGroup = SINGLE_PROCESS) -> list[dict[str, Any]] | None:
    """Every process's random generators, in rank order, on rank 0 (None on the others).

    A collective: every rank calls it at the same step. Each rank draws its own dropout masks
    (its batches differ), so each keeps its own states, of its own training device only.
    """
    return distributed.gather_to_main(_process_rng_states(device), group)


def _process_rng_states(device: torch.device) -> dict[str, Any]:
    """The generators a training step of this process may draw from (dropout uses torch's)."""
    device_state = None
    if device.type == "cuda":
        device_state = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        device_state = torch.mps.get_rng_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "device_type": device.type,
        "device": device_state,
    }


def restore_rng_states(ranks: list[dict[str, Any]], device: torch.device, group: ProcessGroup = SINGLE_PROCESS) -> None:
    """Each rank takes back its own generators; where that cannot be exact, rank 0 warns why.

    `ranks` has one entry per rank: a checkpoint's fingerprint holds the process count.
    """
    own = ranks[group.rank]
    torch.set_rng_state(own["torch"])
    np.random.set_state(own["numpy"])
    random.setstate(own["python"])
    if own["device_type"] != device.type:
        if group.is_main:
            warnings.warn(
                f"the checkpoint was written on {own['device_type']}, this run trains on {device.type}: "
                "its device generator does not carry over, so the run does not resume exactly",
                stacklevel=2,
            )
        return
    if device.type == "cuda":
        torch.cuda.set_rng_state(own["device"], device)
    elif device.type == "mps":
        torch.mps.set_rng_state(own["device"])
