"""Where MLflow runs are stored, and connecting to that store.

The store defaults to `mlflow.db` in the project root, also when DVC runs an experiment in a
temporary copy under `.dvc/tmp/exps`, so runs from `dvc repro`, `dvc exp run`, `--queue` and
`--temp` all land in one store; `MLFLOW_TRACKING_URI` points elsewhere (a shared server).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXPERIMENT_NAME = "sketch2face"
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlruns"
SQLITE_PREFIX = "sqlite:///"
DVC_EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")
MISSING_RUN_ERROR = "RESOURCE_DOES_NOT_EXIST"  # MLflow's error code for a run id the store lacks
# Set when connecting unless the user set them: no telemetry, and a dead server is given up on
# after two retries (MLflow's defaults retry 7 times with a 120 s timeout: minutes of stalling).
CONNECTION_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


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


def connected_mlflow():
    """The mlflow module, pointed at this project's store (imported late: it is slow to import)."""
    for name, value in CONNECTION_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # It logs a whole traceback for each database error it then raises; the tracker reports it in one line.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def existing_store():
    """The connected mlflow module; FileNotFoundError rather than a new, empty `mlflow.db` when there is no store."""
    store = project_root() / STORE_FILE
    if "MLFLOW_TRACKING_URI" not in os.environ and not store.is_file():
        raise FileNotFoundError(f"no MLflow store {store} here (run from the project root, or set MLFLOW_TRACKING_URI)")
    return connected_mlflow()


def use_experiment(mlflow) -> None:
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


def stored_run(mlflow, run_id: str):
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
