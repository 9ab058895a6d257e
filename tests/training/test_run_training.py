"""The train stage's hand-over to `sketch2face predict`: geometry in the file, model in MLflow."""

import mlflow
import numpy as np
import pandas as pd
import torch

from sketch2face.config import parse_params
from sketch2face.data.pairs import side_by_side
from sketch2face.data.records import PAIRS_FILE
from sketch2face.inference import alignment_geometry, load_sketch_to_photo
from sketch2face.io import folder_digest, write_csv, write_image
from sketch2face.tracking import DATA_VERSION_TAG, read_run_reference
from sketch2face.training.trainer import TrainOutputs, run_training


def _tiny_pairs(folder, count=2, size=32):
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        sketch = rng.integers(0, 256, (size, size), dtype=np.uint8)
        write_image(folder / "train" / f"{index}.png", side_by_side(sketch, np.stack([255 - sketch] * 3, axis=2)))
        rows.append({"id": str(index), "subject": str(index), "split": "train", "pair": f"train/{index}.png"})
    write_csv(folder / PAIRS_FILE, pd.DataFrame(rows))


def test_training_stores_its_geometry_and_registers_the_generator(tmp_path):
    _tiny_pairs(tmp_path / "pairs")
    params = parse_params({
        "crop_resize": {
            "image_size": 32,
            "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}],
            "alignment": {"eye_y": 0.4, "eye_distance": 0.3},
        },
        "train": {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 1, "epochs_decay": 0},
        "tracking": {"register_name": "faces", "alias": "newest"},
    })
    outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")

    run_training(params, tmp_path / "pairs", outputs)

    from_file = load_sketch_to_photo(outputs.generator)
    assert alignment_geometry(from_file.preprocessing) == params.crop_resize.alignment
    run_id = read_run_reference(outputs.run_reference)
    assert mlflow.models.get_model_info("models:/faces@newest").run_id == run_id
    assert mlflow.get_run(run_id).data.tags[DATA_VERSION_TAG] == folder_digest(tmp_path / "pairs")
    registered = mlflow.pytorch.load_model("models:/faces@newest")
    sketches = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
    assert registered.preprocessing == from_file.preprocessing
    assert torch.equal(registered(sketches), from_file(sketches))


def test_rerun_of_a_finished_training_reports_its_throughput_again(tmp_path):
    """A rerun that only rewrites the outputs from the final checkpoint trains no step, and says so."""
    _tiny_pairs(tmp_path / "pairs")
    params = parse_params({
        "crop_resize": {"image_size": 32, "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]},
        "train": {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 2, "epochs_decay": 0},
        "tracking": {"log_model": False},
    })
    outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")

    first = run_training(params, tmp_path / "pairs", outputs)
    again = run_training(params, tmp_path / "pairs", outputs)

    assert first["resumed_from_step"] == 0 and again["resumed_from_step"] == 2
    assert again["images_per_second"] == first["images_per_second"] > 0


def test_rerunning_a_finished_training_logs_its_model_and_summary_once(tmp_path):
    """`dvc repro -f`, or a change to train.threads or tracking.*, reruns train on its finished checkpoint."""
    _tiny_pairs(tmp_path / "pairs")
    settings = {
        "crop_resize": {"image_size": 32, "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]},
        "train": {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 1, "epochs_decay": 0},
        "tracking": {"register_name": "faces", "alias": "newest"},
    }
    outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")
    summary = run_training(parse_params(settings), tmp_path / "pairs", outputs)
    run_id = read_run_reference(outputs.run_reference)
    outputs.summary.unlink()
    renamed = {**settings, "tracking": {"register_name": "portraits"}}
    run_training(parse_params(renamed), tmp_path / "pairs", outputs)

    assert read_run_reference(outputs.run_reference) == run_id and outputs.summary.exists()
    experiment = mlflow.get_run(run_id).info.experiment_id
    models = mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")
    assert [(model.name, model.source_run_id) for model in models] == [("generator", run_id)]
    client = mlflow.MlflowClient()
    for key, value in summary.items():
        if isinstance(value, (int, float)):
            assert [metric.value for metric in client.get_metric_history(run_id, key)] == [value], key
    registered = {(version.name, version.version, version.source) for version in client.search_model_versions(f"run_id = '{run_id}'")}
    assert registered == {("faces", 1, models[0].model_uri), ("portraits", 1, models[0].model_uri)}
    assert client.get_model_version_by_alias("faces", "newest").version == 1
