"""Training checkpoints: everything needed to resume, in one atomically written file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sketch2face.io import atomic_path


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)
