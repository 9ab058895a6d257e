"""The one place that talks to MLflow.

One MLflow run per pipeline execution: `train` opens it and leaves its id in a small file that
`evaluate` reopens, so both stages log to the same run; a training resumed from its checkpoint
reopens the run it was logging to. An evaluation that reuses a trained model under other params
(`dvc exp run -S evaluate.generator=best` reruns only `evaluate`), or scores it a second time,
gets a run of its own nested under the training run: the training run's metrics are never
overwritten, and every run's metrics match the params it shows. A rerun of a finished training
(nothing left to train) reopens its run and logs nothing that run already holds.

The store defaults to `mlflow.db` in the project root, also when DVC runs an experiment in a
temporary copy under `.dvc/tmp/exps`, so runs from `dvc repro`, `dvc exp run`, `--queue` and
`--temp` all land in one store. MLflow is a mirror: if it fails, a warning is printed and the
pipeline goes on, because the DVC metrics files are the source of truth.

The generator is logged as an MLflow model that takes uint8 sketches (N, C, S, S) and returns
uint8 photos (N, 3, S, S) for any N: it is pickled (`serialization_format="pickle"`) because
MLflow 3's default "pt2" format traces the graph with `torch.export` and fixes the batch size
of the input example.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    import torch

    from sketch2face.config import TrackingParams
    from sketch2face.models.generator import SketchToPhoto

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow's defaults retry an unreachable server 7 times with a 120 s timeout: a stage would stall
# for minutes before the tracker gives up. Two retries still ride out a blip; env settings win.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")

EXPERIMENT_NAME = "sketch2face"
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlruns"
SQLITE_PREFIX = "sqlite:///"
DVC_EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")
MODEL_NAME = "generator"
PICKLE_FORMAT = "pickle"
# what loading the pickled generator imports (sketch2face itself travels with the model)
MODEL_REQUIREMENTS = ("torch", "cloudpickle", "numpy", "pydantic", "PyYAML")
ERROR_LINE_LENGTH = 300  # characters of an error's first line shown in a warning or message
EVALUATED_TAG = "sketch2face.evaluated"  # set on a run once evaluate has logged its metrics into it
TRAINING_RUN_TAG = "sketch2face.training_run"  # on an evaluation's own run: the run that trained the model
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own tag: its UI shows the run nested under that one
DATA_VERSION_TAG = "data_version"  # on a training run: digest of the pairs folder it trained on
MISSING_RUN_ERROR = "RESOURCE_DOES_NOT_EXIST"  # MLflow's error code for a run id the store lacks
NO_SUCH_RUN = "the store has no such active run"
# Queued per-step metrics reach the store at least this often: what a live MLflow UI lags behind.
STEP_METRICS_WRITE_SECONDS = 10.0


def project_root(start: Path | None = None) -> Path:
    """The user's repository, even from inside a DVC temporary experiment workspace."""
    here = (start or Path.cwd()).resolve()
    parts = here.parts
    for index in range(len(parts) - len(DVC_EXPERIMENT_WORKSPACES) + 1):
        if parts[index : index + len(DVC_EXPERIMENT_WORKSPACES)] == DVC_EXPERIMENT_WORKSPACES:
            return Path(*parts[:index])
    return here


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set (a shared server), else the SQLite store in the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE_PREFIX}{project_root() / STORE_FILE}"


def _use_experiment(mlflow) -> None:
    """Creates the experiment with a SQLite store's artifacts beside the store file.

    MLflow would put them in `./mlruns` of whatever folder the run starts in, which for
    `dvc exp run --temp` is a workspace deleted afterwards: logged models would vanish.
    A server keeps its own artifact location.
    """
    uri = mlflow.get_tracking_uri()
    if mlflow.get_experiment_by_name(EXPERIMENT_NAME) is None and uri.startswith(SQLITE_PREFIX):
        store = Path(uri.removeprefix(SQLITE_PREFIX)).resolve()
        mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=(store.parent / ARTIFACTS_DIR).as_uri())
    mlflow.set_experiment(EXPERIMENT_NAME)


def run_name() -> str:
    """The DVC experiment name under `dvc exp run`, else `repro-<short commit>`."""
    experiment = os.environ.get("DVC_EXP_NAME")
    return experiment or f"repro-{git_commit()[:7] or 'nocommit'}"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 1}} -> {"train.lr": 1}: MLflow params are flat."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class StoppedByUser(Exception):
    """A stage that caught SIGINT/SIGTERM and stopped cleanly raises a subclass; its run ends KILLED."""


class Tracker:
    """A fault-tolerant MLflow run: the first failure warns and turns tracking off for the run."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        self.enabled = True
        self.reopened = False  # an existing run, which may hold what is about to be logged
        self._mlflow = None
        self._queued: list[tuple[str, float, int, int]] = []  # (key, value, timestamp ms, step)
        self._written_at = time.monotonic()

    def _call(self, action: str, function, *args, **kwargs) -> Any:
        if not self.enabled:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure must not stop the pipeline
            self.enabled = False
            warnings.warn(f"MLflow {action} failed, continuing without tracking: {error_line(exc)}", stacklevel=3)
            return None

    def start(self, tags: Mapping[str, str] | None = None) -> Tracker:
        """Opens (or, with a run id, reopens) the run."""

        def _start() -> None:
            mlflow = _connected_mlflow()
            if self.run_id is None:
                _use_experiment(mlflow)
                run = mlflow.start_run(run_name=run_name(), tags={"git_commit": git_commit(), **(tags or {})})
            else:
                run = mlflow.start_run(run_id=self.run_id)
                self.reopened = True
            self.run_id = run.info.run_id
            self._mlflow = mlflow

        self._call("start", _start)
        return self

    def reopen(self, run_id: str) -> bool:
        """Reopens an interrupted training's run, so that its metrics go on where they stopped.

        False, with a warning, when the store no longer has it (it was deleted, or
        MLFLOW_TRACKING_URI now points elsewhere): the caller then starts a new run.
        """
        if not self.enabled:
            return False
        try:
            problem = None if _stored_run(_connected_mlflow(), run_id) else NO_SUCH_RUN
        except Exception as exc:  # noqa: BLE001 - the training goes on in a new run
            problem = error_line(exc)
        if problem is not None:
            warnings.warn(f"MLflow run {run_id} of the interrupted training cannot be reopened ({problem}); "
                          "starting a new run", stacklevel=2)
            return False
        self.run_id = run_id
        self.start()
        return self.enabled

    def last_step(self, key: str) -> int:
        """The highest step logged for `key` in this run (0 if none).

        A reopened run may hold steps past the checkpoint it resumes from (the process died
        after logging them); the trainer logs only what comes after, so each step appears once.
        """
        history = self._call("get_metric_history", lambda: self._mlflow.MlflowClient().get_metric_history(self.run_id, key))
        return max((metric.step for metric in history or ()), default=0)

    def start_evaluation(self, params: Mapping[str, Any]) -> Tracker:
        """Reopens the training run (`run_id`) for its first evaluation under the params it logged.

        Otherwise (params changed since training, or the run already holds an evaluation) a new
        run, named after the current DVC experiment, nested under the training run and carrying
        all current params, takes the evaluation. When this store lacks the training run (a fresh
        clone with `dvc pull`, another MLFLOW_TRACKING_URI, a deleted run), the new run is tagged
        with its id but nested under nothing.
        """
        training_run_id, training = self.run_id, None
        if training_run_id is not None:
            training = self._call("get_run", lambda: _stored_run(_connected_mlflow(), training_run_id))
        if not self.enabled:
            return self
        current = {key: str(value) for key, value in flatten(params).items()}
        if training is not None and EVALUATED_TAG not in training.data.tags and training.data.params == current:
            return self.start()
        links = {}
        if training is not None:
            links = {PARENT_RUN_TAG: training_run_id, TRAINING_RUN_TAG: training_run_id}
        elif training_run_id is not None:
            warnings.warn(f"MLflow run {training_run_id} of the training is not in this store ({tracking_uri()}); "
                          "the evaluation gets a run of its own", stacklevel=2)
            links = {TRAINING_RUN_TAG: training_run_id}
        self.run_id = None
        self.start(tags=links)
        self.log_params(params)
        return self

    def mark_evaluated(self) -> None:
        self._call("set_tag", lambda: self._mlflow.set_tag(EVALUATED_TAG, "true"))

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._call("log_params", lambda: self._mlflow.log_params(flatten(params)))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._call("log_metrics", lambda: self._mlflow.log_metrics(dict(metrics), step=step))

    def queue_step_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Per-step metrics, written in batches: one store write per step took about 5 ms, a GPU step 13 ms.

        The queue is written every STEP_METRICS_WRITE_SECONDS, by `write_queued` and when the run ends.
        """
        if not self.enabled:
            return
        timestamp = int(time.time() * 1000)
        self._queued.extend((key, float(value), timestamp, step) for key, value in metrics.items())
        if time.monotonic() - self._written_at >= STEP_METRICS_WRITE_SECONDS:
            self.write_queued()

    def write_queued(self) -> None:
        """Writes the queued step metrics in one batch (MLflow splits it into requests of 1000)."""
        queued, self._queued = self._queued, []
        self._written_at = time.monotonic()
        if queued:
            self._call("log_batch", _log_metric_batch, self._mlflow, self.run_id, queued)

    def log_new_metrics(self, metrics: Mapping[str, float]) -> None:
        """Logs the metrics this run holds no value for yet.

        A rerun of a finished training (`dvc repro -f`, or a param outside the checkpoint's
        fingerprint changed) reopens its run and trains nothing: its summary is there already.
        """
        held = {}
        if self.reopened:
            held = self._call("get_run", lambda: self._mlflow.get_run(self.run_id).data.metrics)
        if held is not None:
            self.log_metrics({key: value for key, value in metrics.items() if key not in held})

    def log_artifact(self, path: Path | str, folder: str | None = None) -> None:
        self._call("log_artifact", lambda: self._mlflow.log_artifact(str(path), artifact_path=folder))

    def log_generator(self, model: SketchToPhoto, settings: TrackingParams) -> str | None:
        """Logs the generator as an MLflow model (and registers it when asked); returns its URI.

        Once per run: a rerun of a finished training reuses the model its run holds, and only
        registers it where it is not registered yet (under a newly set `register_name`).
        """
        if not settings.log_model:
            return None
        return self._call("log_model", _log_generator, model, settings, self.run_id if self.reopened else None)

    def end(self, status: str = "FINISHED") -> None:
        if self._mlflow is not None:  # a tracker never opened (the stage failed first) has no run to end
            self.write_queued()
            self._call("end_run", lambda: self._mlflow.end_run(status=status))

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        """A run that died is not marked FINISHED: KILLED when the user stopped it, FAILED on an error."""
        if exc_type is None:
            self.end()
        else:
            self.end("KILLED" if issubclass(exc_type, (KeyboardInterrupt, StoppedByUser)) else "FAILED")


def _log_metric_batch(mlflow, run_id: str, queued: list[tuple[str, float, int, int]]) -> None:
    from mlflow.entities import Metric

    metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in queued]
    mlflow.MlflowClient().log_batch(run_id, metrics=metrics)


def _stored_run(mlflow, run_id: str):
    """The run, or None when the store has no such active run; a failure to ask it raises."""
    from mlflow.entities import LifecycleStage
    from mlflow.exceptions import MlflowException

    try:
        run = mlflow.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == MISSING_RUN_ERROR:
            return None
        raise
    return run if run.info.lifecycle_stage == LifecycleStage.ACTIVE else None


def _connected_mlflow():
    """The mlflow module, pointed at this project's store (imported late: it is slow to import)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def error_line(exc: Exception) -> str:
    """An error's first line, cut short: MLflow's carry whole SQL statements, torch's a page of advice."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:ERROR_LINE_LENGTH]


def write_run_reference(path: Path, tracker: Tracker) -> None:
    """Leaves the run id for the next stage (null when tracking was off)."""
    from sketch2face.io import write_json

    write_json(path, {"mlflow_run_id": tracker.run_id if tracker.enabled else None})


def read_run_reference(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("mlflow_run_id")
    except (OSError, ValueError):
        return None


def generator_signature(model: SketchToPhoto):
    """uint8 sketches (-1, C, S, S) -> uint8 photos (-1, C_out, S, S): -1 lets any batch size through."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    config = model.config
    pixels = np.dtype(np.uint8)
    sketches = TensorSpec(pixels, (-1, config.input_channels, config.image_size, config.image_size))
    photos = TensorSpec(pixels, (-1, config.output_channels, config.image_size, config.image_size))
    return ModelSignature(inputs=Schema([sketches]), outputs=Schema([photos]))


def _log_generator(model: SketchToPhoto, settings: TrackingParams, reopened_run_id: str | None) -> str:
    """Logs and registers the generator; in a reopened run, reuses what that run already holds."""
    import mlflow

    logged = _logged_generator_uri(mlflow, reopened_run_id) if reopened_run_id else None
    model_uri = logged or _new_generator_model(mlflow, model)
    if settings.register_name is not None:
        client = mlflow.MlflowClient()
        registered = []
        if logged:
            registered = client.search_model_versions(f"name = '{settings.register_name}' AND run_id = '{reopened_run_id}'")
        version = registered[0] if registered else mlflow.register_model(model_uri, settings.register_name)
        if settings.alias is not None:
            client.set_registered_model_alias(settings.register_name, settings.alias, version.version)
    return model_uri


def _logged_generator_uri(mlflow, run_id: str) -> str | None:
    """The URI of the generator model this (active) run already holds, if any."""
    from mlflow.entities import LoggedModelStatus

    found = mlflow.search_logged_models(
        experiment_ids=[mlflow.active_run().info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'",
        output_format="list",
    )
    return next((logged.model_uri for logged in found if logged.status == LoggedModelStatus.READY), None)


def _new_generator_model(mlflow, model: SketchToPhoto) -> str:
    from importlib.metadata import version

    import numpy as np

    import sketch2face

    config = model.config
    blank_paper = np.full((1, config.input_channels, config.image_size, config.image_size), 255, np.uint8)
    info = mlflow.pytorch.log_model(
        model,
        name=MODEL_NAME,
        serialization_format=PICKLE_FORMAT,
        signature=generator_signature(model),
        input_example=blank_paper,
        # the package travels with the model, so it loads where sketch2face is not installed
        code_paths=[str(Path(sketch2face.__file__).parent)],
        # given here: MLflow would otherwise load the model in a subprocess to infer them
        pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
        metadata={"preprocessing": model.preprocessing, "generator_config": asdict(config)},
    )
    return info.model_uri


def load_generator_model(uri: str, device: str | torch.device = "cpu") -> SketchToPhoto:
    """Loads a generator logged by `Tracker.log_generator` (`models:/NAME@ALIAS`, `runs:/...`, ...)."""
    return _existing_store().pytorch.load_model(uri, map_location=device)


def _existing_store():
    """The connected mlflow module; FileNotFoundError rather than a new, empty `mlflow.db` when there is no store."""
    store = project_root() / STORE_FILE
    if "MLFLOW_TRACKING_URI" not in os.environ and not store.is_file():
        raise FileNotFoundError(f"no MLflow store {store} here (run from the project root, or set MLFLOW_TRACKING_URI)")
    return _connected_mlflow()


def logged_model_origin(uri: str) -> tuple[str | None, str | None]:
    """The run that logged a model (`models:/NAME@ALIAS`, `runs:/...`, ...) and when it was logged (UTC)."""
    info = _existing_store().models.get_model_info(uri)
    return info.run_id, info.utc_time_created


def evaluation_metrics(training_run_id: str, keys: Sequence[str]) -> tuple[str, dict[str, float]] | None:
    """How the model a training run produced was evaluated: `keys` (those logged) and the run they come from.

    `evaluate` logs into the training run, or into a run of its own tagged with the training
    run's id when it scored the model under other params or again; the latest such run counts
    then. None when the store has neither.
    """
    mlflow = _existing_store()
    training = _stored_run(mlflow, training_run_id)
    if training is None:
        return None
    candidates = [training] + mlflow.search_runs(
        experiment_ids=[training.info.experiment_id],
        filter_string=f"tags.`{TRAINING_RUN_TAG}` = '{training_run_id}'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    for run in candidates:
        found = {key: run.data.metrics[key] for key in keys if key in run.data.metrics}
        if found:
            return run.info.run_id, found
    return None
