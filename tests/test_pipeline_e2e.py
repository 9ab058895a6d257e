"""The real thing: `dvc repro` and `dvc exp run` in a temporary git repository on tiny params."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import python_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import recipe_study

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("dvc.yaml", "stages", "src", "data/raw/README.md")
# The params file is these values over the config defaults (`complete_params`), not the user's.
TINY = {
    "synthesize": {"count": 24, "image_size": 64},
    "crop_resize": {"image_size": 32, "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]},
    "assemble_pairs": {"val_fraction": 0.15, "test_fraction": 0.25, "split": "random"},
    "train": {"ngf": 8, "ndf": 8, "batch_size": 4, "epochs_constant": 1, "epochs_decay": 1, "lr": 0.0002},
    "evaluate": {"grid_size": 3},
}

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory, complete_params) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    (root / "params.yaml").write_text(yaml.safe_dump(complete_params(TINY), sort_keys=False))
    (root / ".gitignore").write_text("mlflow.db\n__pycache__/\n")

    # as on a user's machine: Python writes bytecode beside the stage code it imports
    env = {
        key: value for key, value in os.environ.items() if key not in ("MLFLOW_TRACKING_URI", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        PYTHONPATH=python_path(root / "src"),
        MLFLOW_DISABLE_TELEMETRY="true",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "config", "core.analytics", "false"]):
        _run(command, root, env)
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "project"], root, env)  # `dvc exp run` needs a commit to branch from
    return root, env


def _mlflow_runs(root: Path) -> list[tuple[str, str]]:
    if not (root / "mlflow.db").exists():
        return []
    with sqlite3.connect(root / "mlflow.db") as db:
        return db.execute("select run_uuid, name from runs").fetchall()


def _run_values(root: Path, table: str, run: str) -> dict[str, object]:
    """key -> value of one run in an MLflow store table (params, tags, latest_metrics)."""
    with sqlite3.connect(root / "mlflow.db") as db:
        return dict(db.execute(f"select key, value from {table} where run_uuid = ?", (run,)).fetchall())


def test_repro_then_experiment(project):
    root, env = project
    output = _run(["dvc", "repro"], root, env)
    for stage in ("check_params", "synthesize", "crop_resize", "assemble_pairs", "train", "evaluate"):
        assert f"Running stage '{stage}'" in output

    metrics = json.loads((root / "metrics/eval.json").read_text())
    assert metrics["test_images"] > 0
    assert 0 < metrics["psnr"] < 60 and -1 <= metrics["ssim"] <= 1
    assert metrics["psnr_gain_over_mean_photo"] == pytest.approx(
        metrics["psnr"] - metrics["baseline_mean_photo_psnr"], abs=1e-3
    )
    assert (root / "results/grid.png").stat().st_size > 0
    assert (root / "results/loss_curves.png").stat().st_size > 0
    manifest_rows = (root / "data/faces/manifest.csv").read_text().strip().splitlines()
    assert len(manifest_rows) - 1 == TINY["synthesize"]["count"]

    runs = _mlflow_runs(root)
    assert len(runs) == 1, "train and evaluate must log into one MLflow run"
    with sqlite3.connect(root / "mlflow.db") as db:
        params = dict(db.execute("select key, value from params").fetchall())
        metric_keys = {row[0] for row in db.execute("select key from metrics")}
    assert params["train.lr"] == "0.0002"
    assert {"loss_G_L1", "psnr", "ssim"} <= metric_keys

    # the trained generator turns new sketches into photos, and is in MLflow as a model
    sketch = sorted((root / "data/faces/sketches").rglob("*.png"))[0]
    _run(
        [sys.executable, "-m", "sketch2face.cli", "predict", str(sketch), "-o", "predicted", "--align", "none"],
        root,
        env,
    )
    assert (root / "predicted" / f"{sketch.stem}.png").stat().st_size > 0
    with sqlite3.connect(root / "mlflow.db") as db:
        assert db.execute("select count(*) from logged_models").fetchone()[0] == 1
    assert (root / "mlruns").is_dir(), "artifacts live beside mlflow.db"

    # the stages left bytecode beside the code; a fresh clone has none, and must not retrain for that
    assert list((root / "src").rglob("__pycache__"))
    for bytecode in list((root / "src").rglob("__pycache__")):
        shutil.rmtree(bytecode)
    assert "Data and pipelines are up to date" in _run(["dvc", "repro"], root, env)

    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "baseline"], root, env)
    experiment = _run(["dvc", "exp", "run", "-S", "train.lr=0.001"], root, env)
    assert "Running stage 'train'" in experiment and "Running stage 'evaluate'" in experiment
    assert "Running stage 'crop_resize'" not in experiment

    diff = _run(["dvc", "metrics", "diff"], root, env)
    assert "metrics/eval.json" in diff and "psnr" in diff and "group.gender." in diff
    shown = _run(["dvc", "exp", "show", "--csv"], root, env)
    assert "train.lr" in shown and "0.001" in shown
    experiment_name = _run(["dvc", "exp", "list", "--name-only"], root, env).split()[0]
    # the recipe study's table reads each experiment's metrics from DVC's own JSON
    found = recipe_study.experiments(json.loads(_run(["dvc", "exp", "show", "--json"], root, env)))
    assert found[experiment_name]["psnr"] == json.loads((root / "metrics/eval.json").read_text())["psnr"]
    assert found[experiment_name]["train_seconds"] > 0
    names = sorted(name for _, name in _mlflow_runs(root))
    assert len(names) == 2 and experiment_name in names, f"MLflow runs {names} lack experiment {experiment_name}"

    # scoring the best-by-validation generator instead of the last one only reruns evaluate
    trained_run = {name: run for run, name in _mlflow_runs(root)}[experiment_name]
    data_versions = {_run_values(root, "tags", run)["data_version"] for run in (runs[0][0], trained_run)}
    assert len(data_versions) == 1, "both trainings used the same pairs"
    trained_psnr = _run_values(root, "latest_metrics", trained_run)["psnr"]
    rescored = _run(["dvc", "exp", "run", "-S", "evaluate.generator=best"], root, env)
    assert "Running stage 'evaluate'" in rescored and "Running stage 'train'" not in rescored
    rescored_metrics = json.loads((root / "metrics/eval.json").read_text())
    assert rescored_metrics["scored_generator"] == "best"
    # ... and is logged to a run of its own, nested under the training run, which keeps its metrics
    (rescoring_run,) = {run for run, _ in _mlflow_runs(root)} - {run for run, _ in runs} - {trained_run}
    assert _run_values(root, "tags", rescoring_run)["mlflow.parentRunId"] == trained_run
    assert _run_values(root, "params", rescoring_run)["evaluate.generator"] == "best"
    assert _run_values(root, "latest_metrics", rescoring_run)["psnr"] == pytest.approx(rescored_metrics["psnr"])
    assert _run_values(root, "latest_metrics", trained_run)["psnr"] == trained_psnr


def test_a_dvc_remote_carries_data_models_and_metrics_to_a_fresh_clone(project, tmp_path):
    """Scaling out: push to a remote (a local folder here), clone the repository afresh, pull, nothing to rerun."""
    root, env = project
    _run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "trained, with a remote"], root, env)
    _run(["dvc", "push"], root, env)

    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    _run(["dvc", "pull"], clone, env)
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], clone, env)
    assert _run(["dvc", "metrics", "show", "--json"], clone, env) == _run(
        ["dvc", "metrics", "show", "--json"], root, env
    )
    for path in ("models/generator.pt", "models/checkpoint.pt", "data/pairs/pairs.csv"):
        assert (clone / path).read_bytes() == (root / path).read_bytes(), path


def test_a_misspelt_params_section_stops_the_pipeline_instead_of_being_ignored(project):
    """No stage tracks `evalaute`, so only check_params, which tracks the whole file, can notice it."""
    root, env = project
    params = root / "params.yaml"
    original = params.read_text()
    params.write_text(original + "evalaute:\n  generator: best\n")
    try:
        result = subprocess.run(["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    finally:
        params.write_text(original)
    assert result.returncode != 0
    assert "evalaute: unknown key (did you mean 'evaluate'?)" in result.stdout + result.stderr


def test_temporary_and_queued_experiments_log_to_the_project_store(project):
    """`--temp` and `--queue` run in a copy under .dvc/tmp/exps; their runs must still land in ./mlflow.db."""
    root, env = project
    before = len(_mlflow_runs(root))
    _run(["dvc", "exp", "run", "--temp", "-S", "train.lr=0.002"], root, env)
    _run(["dvc", "exp", "run", "--queue", "-S", "train.lr=0.003"], root, env)
    _run(["dvc", "exp", "run", "--run-all"], root, env)
    assert len(_mlflow_runs(root)) == before + 2
    assert not list((root / ".dvc" / "tmp").rglob("mlflow.db")), "a run wrote a store inside the temporary workspace"
