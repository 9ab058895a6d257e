import warnings

import pytest
from conftest import point_mlflow_at_an_unreachable_store

from sketch2face.tracking import PARENT_RUN_TAG, TRAINING_RUN_TAG, Tracker


def test_unreachable_store_warns_and_the_work_goes_on(monkeypatch, tmp_path):
    point_mlflow_at_an_unreachable_store(monkeypatch, tmp_path)
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


def test_an_interrupted_run_the_store_no_longer_has_is_replaced_by_a_new_one():
    tracker = Tracker()
    with pytest.warns(UserWarning, match="cannot be reopened"):
        reopened = tracker.reopen("0" * 32)
    tracker.start()
    tracker.end()
    assert not reopened and tracker.enabled and tracker.run_id not in (None, "0" * 32)


def test_an_interrupted_run_that_was_deleted_is_replaced_by_a_new_one():
    import mlflow

    with Tracker().start() as interrupted:
        pass
    mlflow.delete_run(interrupted.run_id)
    tracker = Tracker()
    with pytest.warns(UserWarning, match="cannot be reopened \\(the store has no such active run\\)"):
        assert not tracker.reopen(interrupted.run_id)
    tracker.start()
    tracker.end()
    assert tracker.enabled and tracker.run_id != interrupted.run_id


def test_a_rescoring_gets_its_own_run_nested_under_the_training_run(tmp_path):
    import mlflow

    trained = {"train": {"lr": 0.0002}, "evaluate": {"generator": "last", "group_attributes": ["gender", "race"]}}
    with Tracker().start() as training:
        training.log_params(trained)
        training.log_metrics({"loss_G_L1": 0.3})

    with Tracker(training.run_id).start_evaluation(trained) as first:  # dvc repro: train, then evaluate
        first.log_metrics({"psnr": 20.0})
        first.mark_evaluated()
    assert first.run_id == training.run_id

    rescoring = {**trained, "evaluate": {**trained["evaluate"], "generator": "best"}}
    evaluations = []
    for params in (rescoring, trained):  # other params, then the same params a second time
        with Tracker(training.run_id).start_evaluation(params) as evaluation:
            evaluation.log_metrics({"psnr": 21.0})
            evaluation.mark_evaluated()
        evaluations.append(mlflow.get_run(evaluation.run_id).data)

    assert mlflow.get_run(training.run_id).data.metrics == {"loss_G_L1": 0.3, "psnr": 20.0}
    assert [data.params["evaluate.generator"] for data in evaluations] == ["best", "last"]
    for data in evaluations:
        assert data.tags[PARENT_RUN_TAG] == data.tags[TRAINING_RUN_TAG] == training.run_id
        assert data.metrics == {"psnr": 21.0}


def _evaluated_without_the_training_run(training_run_id: str, params: dict):
    import mlflow

    with (
        pytest.warns(UserWarning, match=f"run {training_run_id} of the training is not in this store"),
        Tracker(training_run_id).start_evaluation(params) as evaluation,
    ):
        evaluation.log_metrics({"psnr": 19.0})
        evaluation.mark_evaluated()
    assert evaluation.enabled and evaluation.run_id != training_run_id
    return mlflow.get_run(evaluation.run_id).data


def test_an_evaluation_whose_training_run_is_not_in_the_store_gets_a_run_with_all_params():
    """A fresh clone with `dvc pull`, or another MLFLOW_TRACKING_URI: mlflow_run.json names a run the store lacks."""
    params = {"train": {"lr": 0.0002}, "evaluate": {"generator": "last"}}
    missing = "f" * 32
    data = _evaluated_without_the_training_run(missing, params)
    assert data.metrics == {"psnr": 19.0}
    assert data.params == {"train.lr": "0.0002", "evaluate.generator": "last"}
    assert data.tags[TRAINING_RUN_TAG] == missing and PARENT_RUN_TAG not in data.tags


def test_an_evaluation_whose_training_run_was_deleted_is_nested_under_nothing():
    import mlflow

    params = {"train": {"lr": 0.0002}}
    with Tracker().start() as training:
        training.log_params(params)
    mlflow.delete_run(training.run_id)
    data = _evaluated_without_the_training_run(training.run_id, params)
    assert data.tags[TRAINING_RUN_TAG] == training.run_id and PARENT_RUN_TAG not in data.tags


def test_an_unreachable_store_still_turns_tracking_off_for_the_evaluation(monkeypatch, tmp_path):
    point_mlflow_at_an_unreachable_store(monkeypatch, tmp_path)
    with (
        pytest.warns(UserWarning, match="MLflow get_run failed, continuing without tracking"),
        Tracker("f" * 32).start_evaluation({"train": {"lr": 0.0002}}) as evaluation,
    ):
        evaluation.log_metrics({"psnr": 19.0})
    assert not evaluation.enabled


def test_new_metrics_are_logged_once_per_run():
    import mlflow

    with Tracker().start() as first:
        first.log_new_metrics({"epochs": 2, "final_loss_G_L1": 0.3})
    with Tracker(first.run_id).start() as again:
        again.log_new_metrics({"epochs": 2, "final_loss_G_L1": 0.25, "resumed_from_step": 4})
    client = mlflow.MlflowClient()
    histories = {
        key: [m.value for m in client.get_metric_history(first.run_id, key)]
        for key in ("epochs", "final_loss_G_L1", "resumed_from_step")
    }
    assert histories == {"epochs": [2], "final_loss_G_L1": [0.3], "resumed_from_step": [4]}


def _step_history(run_id: str, key: str) -> list[tuple[int, float]]:
    import mlflow

    return [(metric.step, metric.value) for metric in mlflow.MlflowClient().get_metric_history(run_id, key)]


def test_step_metrics_are_queued_and_written_in_one_batch(monkeypatch):
    monkeypatch.setattr("sketch2face.tracking.runs.STEP_METRICS_WRITE_SECONDS", 3600.0)
    with Tracker().start() as tracker:
        for step in range(1, 1201):  # 2400 metrics: over MLflow's 1000 per request
            tracker.queue_step_metrics({"loss_G_L1": 1.0 / step, "loss_D_fake": 0.5}, step)
        assert _step_history(tracker.run_id, "loss_G_L1") == [], "nothing written before the queue is"
        tracker.write_queued()
        assert _step_history(tracker.run_id, "loss_G_L1") == [(step, 1.0 / step) for step in range(1, 1201)]
        tracker.queue_step_metrics({"loss_G_L1": 0.1}, 1201)
    assert _step_history(tracker.run_id, "loss_G_L1")[-1] == (1201, 0.1), "ending the run writes what is queued"
    assert len(_step_history(tracker.run_id, "loss_D_fake")) == 1200


def test_step_metrics_are_written_once_the_interval_has_passed(monkeypatch):
    monkeypatch.setattr("sketch2face.tracking.runs.STEP_METRICS_WRITE_SECONDS", 0.0)
    with Tracker().start() as tracker:
        tracker.queue_step_metrics({"loss_G_L1": 0.3}, 1)
        assert _step_history(tracker.run_id, "loss_G_L1") == [(1, 0.3)]


def test_a_failed_batch_write_warns_and_turns_tracking_off(monkeypatch):
    import mlflow

    monkeypatch.setattr("mlflow.MlflowClient.log_batch", _refuse)
    tracker = Tracker().start()
    tracker.queue_step_metrics({"loss_G_L1": 0.3}, 1)
    with pytest.warns(UserWarning, match="MLflow log_batch failed, continuing without tracking: store is down"):
        tracker.write_queued()
    assert not tracker.enabled
    tracker.queue_step_metrics({"loss_G_L1": 0.2}, 2)  # ignored, without a second warning
    tracker.write_queued()
    mlflow.end_run()  # the tracker, turned off, leaves its run to the process's end


def _refuse(*args, **kwargs):
    raise ConnectionError("store is down")


def test_a_read_only_store_is_one_warning_line_without_tracebacks(shared_tmp, unprivileged, capfd, monkeypatch):
    """MLflow logs each database error with two chained tracebacks before raising it; the user gets one line."""
    store = shared_tmp / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    with Tracker().start():
        pass  # the store exists, with its tables
    store.chmod(0o444)
    shared_tmp.chmod(0o555)

    def track() -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Tracker().start() as tracker:
                tracker.log_metrics({"loss": 1.0})
        return [str(warning.message) for warning in caught]

    try:
        messages = unprivileged(track)
    finally:
        shared_tmp.chmod(0o777)
    assert messages == [
        "MLflow start failed, continuing without tracking: attempt to write a readonly database (sqlite3.OperationalError)"
    ]
    assert "Traceback" not in capfd.readouterr().err
