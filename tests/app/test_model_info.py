"""What the page says about the served model: found where it is kept, unknown (never a crash) where it is not."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime

import pytest
import torch

from sketch2face.app.model_info import PROJECT_EVAL_JSON, describe_generator_file, describe_logged_model
from sketch2face.artifacts import EvalOutputs
from sketch2face.config import TrackingParams
from sketch2face.inference import load_sketch_to_photo
from sketch2face.tracking import TRAINING_RUN_TAG, Tracker, log_generator, write_run_reference

CPU = torch.device("cpu")
MODIFIED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def project(tmp_path, tiny_generator_file):
    """A project laid out like the pipeline's: models/generator.pt, with the file dated MODIFIED."""
    generator = tmp_path / "models" / "generator.pt"
    generator.parent.mkdir()
    shutil.copy(tiny_generator_file, generator)
    os.utime(generator, (MODIFIED.timestamp(), MODIFIED.timestamp()))
    return tmp_path


def _describe(generator, notes=None):
    note = (notes if notes is not None else []).append
    return describe_generator_file(generator, load_sketch_to_photo(generator), CPU, note)


def _write_eval_json(project, **metrics):
    (project / "metrics").mkdir()
    (project / "metrics" / "eval.json").write_text(json.dumps({"test_images": 3, **metrics}))


def test_a_generator_file_is_evaluated_by_its_training_run(project):
    with Tracker().start() as tracker:
        tracker.log_metrics({"psnr": 20.5, "ssim": 0.71, "fsim": 0.83, "identity_rank1": 0.9})
    write_run_reference(project / "models" / "mlflow_run.json", tracker)
    _write_eval_json(project, psnr=1.0, ssim=0.1, fsim=0.1)  # the run wins over the file

    info = _describe(project / "models" / "generator.pt")

    assert (info.name, info.image_size, info.input_channels, info.architecture, info.device, info.hints) == (
        "generator.pt",
        32,
        1,
        "unet",
        "cpu",
        [],
    )
    assert info.trained_at == "2025-01-02T03:04:05+00:00"
    assert info.evaluation.model_dump() == {
        "psnr": 20.5,
        "ssim": 0.71,
        "fsim": 0.83,
        "source": f"MLflow run {tracker.run_id}",
    }


def test_an_evaluation_in_a_run_of_its_own_is_found_through_its_tag(project):
    with Tracker().start() as training:
        training.log_metrics({"loss_G_L1": 0.3})
    with Tracker().start(tags={TRAINING_RUN_TAG: training.run_id}) as evaluation:
        evaluation.log_metrics({"psnr": 18.0, "ssim": 0.6})
    write_run_reference(project / "models" / "mlflow_run.json", training)

    found = _describe(project / "models" / "generator.pt").evaluation

    assert found.model_dump() == {"psnr": 18.0, "ssim": 0.6, "fsim": None, "source": f"MLflow run {evaluation.run_id}"}


def test_without_a_run_the_projects_eval_json_counts(project):
    (project / "models" / "mlflow_run.json").write_text(json.dumps({"mlflow_run_id": "0" * 32}))  # not in this store
    _write_eval_json(project, psnr=21.6148, ssim=0.7599, fsim=0.8764)

    found = _describe(project / "models" / "generator.pt").evaluation

    assert found.model_dump() == {
        "psnr": 21.6148,
        "ssim": 0.7599,
        "fsim": 0.8764,
        "source": str(project / "metrics" / "eval.json"),
    }


def test_the_eval_json_looked_for_is_the_one_evaluate_writes(tmp_path):
    assert EvalOutputs.in_dirs(tmp_path / "metrics", tmp_path / "results").metrics == tmp_path / PROJECT_EVAL_JSON


def test_nothing_known_is_unknown_and_a_stored_date_wins(tmp_path, tiny_generator_file):
    generator = tmp_path / "elsewhere" / "generator.pt"
    generator.parent.mkdir()
    shutil.copy(tiny_generator_file, generator)
    payload = torch.load(generator, weights_only=True)
    payload["preprocessing"]["trained_at"] = "2024-06-01T12:00:00+00:00"
    torch.save(payload, generator)
    notes = []

    info = _describe(generator, notes)

    assert info.evaluation is None and info.trained_at == "2024-06-01T12:00:00+00:00" and notes == []


def test_an_unreadable_store_or_eval_file_is_a_note_not_a_failure(project, monkeypatch):
    (project / "models" / "mlflow_run.json").write_text(json.dumps({"mlflow_run_id": "0" * 32}))
    (project / "not-a-store.db").write_text("this is no SQLite file")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'not-a-store.db'}")
    (project / "metrics").mkdir()
    (project / "metrics" / "eval.json").write_text("{broken")
    notes = []

    info = _describe(project / "models" / "generator.pt", notes)

    assert info.evaluation is None and info.trained_at is not None
    assert [note.split(" could not be read")[0] for note in notes] == [
        f"the evaluation of MLflow run {'0' * 32}",
        str(project / "metrics" / "eval.json"),
    ]


def test_a_logged_model_is_dated_and_evaluated_by_its_run(tiny_generator_file):
    model = load_sketch_to_photo(tiny_generator_file)
    with Tracker().start() as tracker:
        uri = log_generator(tracker, model, TrackingParams())
        tracker.log_metrics({"psnr": 19.25, "ssim": 0.65, "fsim": 0.8})
    notes = []

    info = describe_logged_model(uri, model, CPU, notes.append)

    assert info.name == uri and notes == []
    assert abs((datetime.fromisoformat(info.trained_at) - datetime.now(UTC)).total_seconds()) < 600
    assert info.evaluation.model_dump() == {
        "psnr": 19.25,
        "ssim": 0.65,
        "fsim": 0.8,
        "source": f"MLflow run {tracker.run_id}",
    }


def test_a_logged_model_whose_origin_cannot_be_read_is_still_described(tiny_generator_file):
    notes = []
    info = describe_logged_model("models:/nothing@here", load_sketch_to_photo(tiny_generator_file), CPU, notes.append)
    assert info.trained_at is None and info.evaluation is None
    assert len(notes) == 1 and notes[0].startswith("where and when models:/nothing@here was logged could not be read")


def test_the_hints_a_generator_takes_are_part_of_its_description(hinted_generator_file):
    assert _describe(hinted_generator_file).hints == ["skin", "hair"]
