"""Shared fixtures: tiny, generated data only; tests never read real datasets."""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import torch

from sketch2face.config import TrackingParams, parse_params
from sketch2face.data.records import EyeCentres
from sketch2face.data.synthetic import generate_demo_faces
from sketch2face.inference import SketchInput
from sketch2face.io import write_image
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, save_generator

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

NOBODY = 65534
T = TypeVar("T")


def python_path(source_root: Path) -> str:
    """PYTHONPATH for a child Python: `source_root` first, then whatever packages the environment adds."""
    return os.pathsep.join(filter(None, [str(source_root), os.environ.get("PYTHONPATH")]))


def point_mlflow_at_an_unreachable_store(monkeypatch, tmp_path) -> None:
    """A store under a plain file: every MLflow call fails, as with a server that is down."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/sub/mlflow.db")


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test gets its own MLflow store, never the developer's `mlflow.db`."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow-test.db'}")


def _as_nobody(function: Callable[[], T]) -> T:
    """Runs `function` in a forked child that dropped to `nobody`; its result or error comes back."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.close(reader)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome = ("returned", function())
        except BaseException as exc:
            outcome = ("raised", exc)
        with os.fdopen(writer, "wb") as pipe:
            pickle.dump(outcome, pipe)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        kind, value = pickle.load(pipe)
    os.waitpid(child, 0)
    if kind == "raised":
        raise value
    return value


@pytest.fixture(scope="session")
def complete_params() -> Callable[[dict], dict]:
    """A whole params file: the given values over the config defaults, never the user's params.yaml
    (which `dvc exp run -S ...` or real data may have changed)."""

    def build(values: dict) -> dict:
        params = parse_params(values).model_dump(mode="json")
        params["crop_resize"]["sources"] = values["crop_resize"]["sources"]  # a dump sets every key of a source
        return params

    return build


@pytest.fixture
def unprivileged() -> Callable[[Callable[[], T]], T]:
    """Runs a function without the power to bypass file permissions.

    chmod does not stop root, so under root (CI containers) the function runs as `nobody` in a
    forked child instead; use it on paths inside `shared_tmp`, which `nobody` can reach.
    """
    return (lambda function: function()) if os.geteuid() != 0 else _as_nobody


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder every user can reach (pytest's own tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="sketch2face-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ---- image files that are not what they claim --------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims a width x height greyscale image: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


# ---- a tiny trained-generator stand-in, shared by the predict, CLI and MLflow model tests ----

TINY_SIZE = 32
# deliberately not the default geometry, so a test can tell that the stored one was used
TINY_PREPROCESSING = {"alignment": {"eye_y": 0.47, "eye_distance": 0.42}}
REGISTERED_NAME, REGISTERED_ALIAS = "tiny-sketch2face", "champion"


@pytest.fixture(scope="session")
def tiny_generator_file(tmp_path_factory) -> Path:
    """An untrained 32 px greyscale generator (ngf 4) whose file records a non-default eye geometry."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "generator.pt"
    save_generator(UnetGenerator(GeneratorConfig(TINY_SIZE, input_channels=1, ngf=4)), path, TINY_PREPROCESSING)
    return path


@pytest.fixture(scope="session")
def hinted_generator_file(tmp_path_factory) -> Path:
    """Like `tiny_generator_file`, but trained (so to speak) with skin and hair hints as input planes."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hinted_model") / "generator.pt"
    config = GeneratorConfig(TINY_SIZE, input_channels=1, ngf=4, hints=("skin", "hair"))
    save_generator(UnetGenerator(config), path, TINY_PREPROCESSING)
    return path


@dataclass(frozen=True)
class DemoSketches:
    """Uncropped demo sketches on disk with the eye centres they were drawn with."""

    folder: Path
    eyes: dict[str, EyeCentres]  # by file stem
    pixels: dict[str, np.ndarray]

    def inputs(self) -> list[SketchInput]:
        """Every sketch as predict takes it, in name order."""
        return [SketchInput(self.folder / f"{stem}.png", stem) for stem in sorted(self.eyes)]

    def locate_eyes(self, image: np.ndarray) -> EyeCentres | None:
        """A stand-in detector: knows the eyes of exactly these images, finds no face elsewhere."""
        for stem, pixels in self.pixels.items():
            if pixels.shape == image.shape and np.array_equal(pixels, image):
                return self.eyes[stem]
        return None


@pytest.fixture(scope="session")
def demo_sketches(tmp_path_factory) -> DemoSketches:
    folder = tmp_path_factory.mktemp("sketches")
    eyes, pixels = {}, {}
    for index, face in enumerate(generate_demo_faces(count=3, size=96, seed=0, views_per_subject=1)):
        # a margin on top and bottom makes them non-square, like a scanned page
        page = np.pad(face.sketch, ((20, 12), (0, 0)), constant_values=250)
        stem = f"face{index}"
        write_image(folder / f"{stem}.png", page)
        left, right = face.eyes.left, face.eyes.right
        eyes[stem] = EyeCentres((left[0], left[1] + 20), (right[0], right[1] + 20))
        pixels[stem] = page
    return DemoSketches(folder, eyes, pixels)


@dataclass(frozen=True)
class LoggedGenerator:
    store_uri: str
    model_uri: str
    registered_uri: str


@pytest.fixture(scope="session")
def _logged_generator(tiny_generator_file, tmp_path_factory) -> LoggedGenerator:
    """The tiny generator logged and registered once per session (logging takes seconds)."""
    from sketch2face.models.generator import load_generator_file
    from sketch2face.models.sketch_to_photo import SketchToPhoto
    from sketch2face.tracking import Tracker, log_generator

    store = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    settings = TrackingParams(register_name=REGISTERED_NAME, alias=REGISTERED_ALIAS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        with Tracker().start() as tracker:
            model_uri = log_generator(tracker, SketchToPhoto(*load_generator_file(tiny_generator_file)), settings)
    assert tracker.enabled and model_uri, "logging the generator failed"
    return LoggedGenerator(store, model_uri, f"models:/{REGISTERED_NAME}@{REGISTERED_ALIAS}")


@pytest.fixture
def logged_generator(_logged_generator, monkeypatch) -> LoggedGenerator:
    """The session's logged generator, with the test pointed at its store."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", _logged_generator.store_uri)
    mlflow.set_tracking_uri(_logged_generator.store_uri)
    return _logged_generator


@pytest.fixture
def tiny_model(tiny_generator_file):
    """The tiny generator, ready for uint8 sketches."""
    from sketch2face.inference import load_sketch_to_photo

    return load_sketch_to_photo(tiny_generator_file)
