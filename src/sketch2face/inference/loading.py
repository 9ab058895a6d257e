"""Loading a generator file for prediction: one line for the user when the file holds none."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import get_args

import torch

from sketch2face.config import DeviceKind
from sketch2face.models.cpu import use_cpu_kernels
from sketch2face.models.generator import SKETCH_TO_PHOTO, load_generator_file
from sketch2face.models.sketch_to_photo import SketchToPhoto

DEVICE_CHOICES: tuple[str, ...] = get_args(DeviceKind)
UNPICKLER_DETAIL = "WeightsUnpickler error:"  # in torch's message, before the reason its weights-only loader refused


class GeneratorFileError(ValueError):
    """A model file that holds no generator this code can load; the message is one line for the user."""


def _first_sentence(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line.split(". ", 1)[0].strip().removesuffix(".")


def _load_problem(exc: Exception) -> str:
    """Why torch could not load a generator file, in one line.

    A file torch will not unpickle as plain weights gets torch's own detail, without its advice
    to retry with `weights_only=False`: that would run whatever code the file holds.
    """
    if isinstance(exc, pickle.UnpicklingError):
        detail = str(exc).split(UNPICKLER_DETAIL, 1)[-1]
        return f"not a file of plain PyTorch weights ({_first_sentence(detail)})"
    if isinstance(exc, (KeyError, TypeError)):  # a torch file, but not a generator's payload
        return f"it holds no generator ({type(exc).__name__}: {exc})"
    return _first_sentence(str(exc)) or type(exc).__name__


def load_sketch_to_photo(path: Path | str, device: str | torch.device = "cpu") -> SketchToPhoto:
    """A generator file (e.g. `models/generator.pt`) ready for uint8 sketches; GeneratorFileError if it is none."""
    try:
        generator, preprocessing = load_generator_file(path, map_location=device)
    except OSError:
        raise
    except Exception as exc:
        raise GeneratorFileError(_load_problem(exc)) from exc
    if generator.config.direction != SKETCH_TO_PHOTO:
        raise GeneratorFileError(f"a {generator.config.direction} generator cannot turn sketches into photos")
    if torch.device(device).type == "cpu":
        use_cpu_kernels(generator)
    return SketchToPhoto(generator, preprocessing).to(device)
