"""What the page and `GET /api/model` say about the served generator: name, size, date, evaluation.

Every piece is looked up in the best place that holds it and is simply left unknown when it
cannot be found: missing information never stops the server from starting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import torch
from pydantic import BaseModel

from sketch2face.artifacts import EVAL_SUMMARY_FILE, RUN_REFERENCE_FILE
from sketch2face.errors import error_line
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.tracking import evaluation_metrics, logged_model_origin, read_run_reference

EVALUATION_KEYS = ("psnr", "ssim", "fsim")
# where the evaluate stage writes its summary, relative to the project that holds models/ (dvc.yaml's metrics/)
PROJECT_EVAL_JSON = Path("metrics") / EVAL_SUMMARY_FILE
TRAINED_AT_KEY = "trained_at"  # an explicit training date in the generator's stored metadata wins over file dates
Note = Callable[[str], None]


class Evaluation(BaseModel):
    """The generator's test-set headline; `source` says where it was read."""

    psnr: float | None = None
    ssim: float | None = None
    fsim: float | None = None
    source: str


class ModelInfo(BaseModel):
    name: str
    image_size: int
    input_channels: int
    architecture: str
    device: str
    trained_at: str | None  # ISO 8601, UTC
    evaluation: Evaluation | None
    hints: list[str] = []  # the appearance hints POST /api/predict takes (skin, hair); none: trained without


def _basics(name: str, model: SketchToPhoto, device: torch.device) -> dict:
    config = model.config
    return {
        "name": name,
        "image_size": config.image_size,
        "input_channels": config.input_channels,
        "architecture": config.architecture,
        "device": str(device),
        "hints": list(config.hints),
    }


def _utc(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _stored_date(preprocessing: Mapping[str, object]) -> str | None:
    value = preprocessing.get(TRAINED_AT_KEY)
    return None if value is None else str(value)


def _from_run(run_id: str, note: Note) -> Evaluation | None:
    try:
        found = evaluation_metrics(run_id, EVALUATION_KEYS)
    except Exception as exc:
        note(f"the evaluation of MLflow run {run_id} could not be read: {error_line(exc)}")
        return None
    if found is None:
        return None
    source_run, metrics = found
    return Evaluation(**metrics, source=f"MLflow run {source_run}")


def _from_metrics_file(path: Path, note: Note) -> Evaluation | None:
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        note(f"{path} could not be read: {exc}")
        return None
    metrics = {key: float(summary[key]) for key in EVALUATION_KEYS if isinstance(summary.get(key), (int, float))}
    return Evaluation(**metrics, source=str(path)) if metrics else None


def describe_generator_file(path: Path, model: SketchToPhoto, device: torch.device, note: Note) -> ModelInfo:
    """A generator file: dated by its stored `trained_at` or its modification time; evaluated by the
    MLflow run named in `mlflow_run.json` beside it, else by the `metrics/eval.json` of its project."""
    trained_at = _stored_date(model.preprocessing)
    if trained_at is None:
        trained_at = _utc(datetime.fromtimestamp(path.stat().st_mtime, tz=UTC))
    evaluation = None
    run_id = read_run_reference(path.parent / RUN_REFERENCE_FILE)
    if run_id:
        evaluation = _from_run(run_id, note)
    project_metrics = path.parent.parent / PROJECT_EVAL_JSON
    if evaluation is None and project_metrics.is_file():
        evaluation = _from_metrics_file(project_metrics, note)
    return ModelInfo(**_basics(path.name, model, device), trained_at=trained_at, evaluation=evaluation)


def describe_logged_model(uri: str, model: SketchToPhoto, device: torch.device, note: Note) -> ModelInfo:
    """An MLflow model: dated by its stored `trained_at` or when it was logged; evaluated by its source run."""
    trained_at, evaluation = _stored_date(model.preprocessing), None
    run_id = None
    try:
        run_id, logged_at = logged_model_origin(uri)
        if trained_at is None and logged_at:
            trained_at = _utc(datetime.fromisoformat(logged_at))
    except Exception as exc:
        note(f"where and when {uri} was logged could not be read: {error_line(exc)}")
    if run_id:
        evaluation = _from_run(run_id, note)
    return ModelInfo(**_basics(uri, model, device), trained_at=trained_at, evaluation=evaluation)
