import os
import subprocess
import sys
from pathlib import Path

import mlflow
from conftest import python_path

from sketch2face.tracking import Tracker, flatten, project_root, run_name
from sketch2face.tracking.store import CONNECTION_DEFAULTS

SRC = Path(__file__).resolve().parents[2] / "src"


def test_project_root_escapes_dvc_temporary_experiment_workspaces(tmp_path):
    workspace = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    workspace.mkdir(parents=True)
    assert project_root(workspace) == tmp_path / "repo"
    assert project_root(tmp_path / "repo") == tmp_path / "repo"


def test_params_are_flattened_with_dots():
    assert flatten({"train": {"lr": 0.1, "nested": {"a": 1}}, "x": 2}) == {"train.lr": 0.1, "train.nested.a": 1, "x": 2}


def test_run_is_named_after_the_dvc_experiment(monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "bumpy-lark")
    assert run_name() == "bumpy-lark"
    monkeypatch.delenv("DVC_EXP_NAME")
    assert run_name().startswith("repro-")


def test_local_store_keeps_artifacts_beside_itself(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the store is MLFLOW_TRACKING_URI=sqlite:///<tmp_path>/mlflow-test.db
    with Tracker().start() as tracker:
        pass
    location = mlflow.get_experiment(mlflow.get_run(tracker.run_id).info.experiment_id).artifact_location
    assert location == (tmp_path / "mlruns").as_uri()


def test_importing_tracking_changes_no_environment_and_connecting_sets_only_unset_defaults():
    script = (
        "import os, sys\n"
        "before = dict(os.environ)\n"
        "import sketch2face.tracking\n"
        "assert dict(os.environ) == before, 'import changed the environment'\n"
        "from sketch2face.tracking.store import connected_mlflow\n"
        "connected_mlflow()\n"
        "print(os.environ['MLFLOW_HTTP_REQUEST_MAX_RETRIES'], os.environ['MLFLOW_DISABLE_TELEMETRY'])\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in CONNECTION_DEFAULTS}
    env.update(PYTHONPATH=python_path(SRC), MLFLOW_HTTP_REQUEST_MAX_RETRIES="5")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["5", "true"], "the user's setting wins, the others get the defaults"
