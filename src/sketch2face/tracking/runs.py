"""MLflow runs: one per pipeline execution, opened by train and joined by evaluate.

`train` opens the run and leaves its id in a small file that `evaluate` reopens, so both stages
log to the same run; a training resumed from its checkpoint reopens the run it was logging to.
An evaluation that reuses a trained model under other params (`dvc exp run -S
evaluate.generator=best` reruns only `evaluate`), or scores it a second time, gets a run of its
own nested under the training run: the training run's metrics are never overwritten, and every
run's metrics match the params it shows. MLflow is a mirror: if it fails, a warning is printed
and the pipeline goes on, because the DVC metrics files are the source of truth.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sketch2face.errors import StoppedByUser, error_line, root_cause
from sketch2face.io import write_json
from sketch2face.tracking.store import (
    connected_mlflow,
    existing_store,
    flatten,
    git_commit,
    run_name,
    stored_run,
    tracking_uri,
    use_experiment,
)

EVALUATED_TAG = "sketch2face.evaluated"  # set on a run once evaluate has logged its metrics into it
TRAINING_RUN_TAG = "sketch2face.training_run"  # on an evaluation's own run: the run that trained the model
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own tag: its UI shows the run nested under that one
DATA_VERSION_TAG = "data_version"  # on a training run: digest of the pairs folder it trained on
NO_SUCH_RUN = "the store has no such active run"
# Queued per-step metrics reach the store at least this often: what a live MLflow UI lags behind.
STEP_METRICS_WRITE_SECONDS = 10.0


class Tracker:
    """A fault-tolerant MLflow run: the first failure warns and turns tracking off for the run."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        self.enabled = True
        self.reopened = False  # an existing run, which may hold what is about to be logged
        self._mlflow = None
        self._queued: list[tuple[str, float, int, int]] = []  # (key, value, timestamp ms, step)
        self._written_at = time.monotonic()

    def guarded(self, action: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)`, or None once tracking is off; its first failure warns and turns it off."""
        if not self.enabled:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            self.enabled = False
            warnings.warn(f"MLflow {action} failed, continuing without tracking: {failure(exc)}", stacklevel=3)
            return None

    def start(self, tags: Mapping[str, str] | None = None) -> Tracker:
        """Opens (or, with a run id, reopens) the run."""

        def _start() -> None:
            mlflow = connected_mlflow()
            if self.run_id is None:
                use_experiment(mlflow)
                run = mlflow.start_run(run_name=run_name(), tags={"git_commit": git_commit(), **(tags or {})})
            else:
                run = mlflow.start_run(run_id=self.run_id)
                self.reopened = True
            self.run_id = run.info.run_id
            self._mlflow = mlflow

        self.guarded("start", _start)
        return self

    def reopen(self, run_id: str) -> bool:
        """Reopens an interrupted training's run, so that its metrics go on where they stopped.

        False, with a warning, when the store no longer has it (it was deleted, or
        MLFLOW_TRACKING_URI now points elsewhere): the caller then starts a new run.
        """
        if not self.enabled:
            return False
        try:
            problem = None if stored_run(connected_mlflow(), run_id) else NO_SUCH_RUN
        except Exception as exc:
            problem = failure(exc)
        if problem is not None:
            warnings.warn(
                f"MLflow run {run_id} of the interrupted training cannot be reopened ({problem}); starting a new run",
                stacklevel=2,
            )
            return False
        self.run_id = run_id
        self.start()
        return self.enabled

    def last_step(self, key: str) -> int:
        """The highest step logged for `key` in this run (0 if none).

        A reopened run may hold steps past the checkpoint it resumes from (the process died
        after logging them); the trainer logs only what comes after, so each step appears once.
        """
        history = self.guarded(
            "get_metric_history", lambda: self._mlflow.MlflowClient().get_metric_history(self.run_id, key)
        )
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
            training = self.guarded("get_run", lambda: stored_run(connected_mlflow(), training_run_id))
        if not self.enabled:
            return self
        current = {key: str(value) for key, value in flatten(params).items()}
        if training is not None and EVALUATED_TAG not in training.data.tags and training.data.params == current:
            return self.start()
        links = {}
        if training is not None:
            links = {PARENT_RUN_TAG: training_run_id, TRAINING_RUN_TAG: training_run_id}
        elif training_run_id is not None:
            warnings.warn(
                f"MLflow run {training_run_id} of the training is not in this store ({tracking_uri()}); "
                "the evaluation gets a run of its own",
                stacklevel=2,
            )
            links = {TRAINING_RUN_TAG: training_run_id}
        self.run_id = None
        self.start(tags=links)
        self.log_params(params)
        return self

    def mark_evaluated(self) -> None:
        self.guarded("set_tag", lambda: self._mlflow.set_tag(EVALUATED_TAG, "true"))

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.guarded("log_params", lambda: self._mlflow.log_params(flatten(params)))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.guarded("log_metrics", lambda: self._mlflow.log_metrics(dict(metrics), step=step))

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
            self.guarded("log_batch", _log_metric_batch, self._mlflow, self.run_id, queued)

    def log_new_metrics(self, metrics: Mapping[str, float]) -> None:
        """Logs the metrics this run holds no value for yet.

        A rerun of a finished training (`dvc repro -f`, or a param outside the checkpoint's
        fingerprint changed) reopens its run and trains nothing: its summary is there already.
        """
        held = {}
        if self.reopened:
            held = self.guarded("get_run", lambda: self._mlflow.get_run(self.run_id).data.metrics)
        if held is not None:
            self.log_metrics({key: value for key, value in metrics.items() if key not in held})

    def log_artifact(self, path: Path | str, folder: str | None = None) -> None:
        self.guarded("log_artifact", lambda: self._mlflow.log_artifact(str(path), artifact_path=folder))

    def end(self, status: str = "FINISHED") -> None:
        if self._mlflow is not None:  # a tracker never opened (the stage failed first) has no run to end
            self.write_queued()
            self.guarded("end_run", lambda: self._mlflow.end_run(status=status))

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        """A run that died is not marked FINISHED: KILLED when the user stopped it, FAILED on an error."""
        if exc_type is None:
            self.end()
        else:
            self.end("KILLED" if issubclass(exc_type, (KeyboardInterrupt, StoppedByUser)) else "FAILED")


def evaluation_metrics(training_run_id: str, keys: Sequence[str]) -> tuple[str, dict[str, float]] | None:
    """How the model a training run produced was evaluated: `keys` (those logged) and the run they come from.

    `evaluate` logs into the training run, or into a run of its own tagged with the training
    run's id when it scored the model under other params or again; the latest such run counts
    then. None when the store has neither.
    """
    mlflow = existing_store()
    training = stored_run(mlflow, training_run_id)
    if training is None:
        return None
    candidates = [
        training,
        *mlflow.search_runs(
            experiment_ids=[training.info.experiment_id],
            filter_string=f"tags.`{TRAINING_RUN_TAG}` = '{training_run_id}'",
            order_by=["attributes.start_time DESC"],
            output_format="list",
        ),
    ]
    for run in candidates:
        found = {key: run.data.metrics[key] for key in keys if key in run.data.metrics}
        if found:
            return run.info.run_id, found
    return None


def failure(exc: BaseException) -> str:
    """One line on why an MLflow call failed: the root cause, e.g. `attempt to write a readonly database`."""
    cause = root_cause(exc)
    if cause is exc:
        return error_line(exc)
    module = type(cause).__module__
    return f"{error_line(cause)} ({'' if module == 'builtins' else f'{module}.'}{type(cause).__name__})"


def _log_metric_batch(mlflow, run_id: str, queued: list[tuple[str, float, int, int]]) -> None:
    from mlflow.entities import Metric

    metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in queued]
    mlflow.MlflowClient().log_batch(run_id, metrics=metrics)


def write_run_reference(path: Path, tracker: Tracker) -> None:
    """Leaves the run id for the next stage (null when tracking was off)."""
    write_json(path, {"mlflow_run_id": tracker.run_id if tracker.enabled else None})


def read_run_reference(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("mlflow_run_id")
    except (OSError, ValueError):
        return None
