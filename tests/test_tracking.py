import warnings
from pathlib import Path

from sketch2face.tracking import Tracker, flatten, project_root, run_name


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


def test_unreachable_store_warns_and_the_work_goes_on(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/sub/mlflow.db")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Tracker().start() as tracker:
            tracker.log_metrics({"psnr": 20.0})
    assert not tracker.enabled
    assert any("continuing without tracking" in str(w.message) for w in caught)


def test_reopening_a_run_logs_into_it(tmp_path):
    import mlflow

    with Tracker().start() as first:
        first.log_metrics({"loss": 1.0})
    with Tracker(first.run_id).start() as second:
        second.log_metrics({"psnr": 21.5})
    run = mlflow.get_run(first.run_id)
    assert run.data.metrics == {"loss": 1.0, "psnr": 21.5}
