"""The train stage: generators written once with their geometry, summary, MLflow run and model."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from tiny_pairs import DEMO_SOURCE, pipeline_params, write_pairs_dir

from sketch2face.artifacts import TrainOutputs
from sketch2face.config import AlignmentParams, parse_params
from sketch2face.data.align import alignment_geometry
from sketch2face.data.appearance import measure_appearance
from sketch2face.data.dataset import load_oriented_split
from sketch2face.data.images import read_image
from sketch2face.data.pairs import side_by_side
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.inference import load_sketch_to_photo
from sketch2face.io import folder_digest, write_csv, write_image
from sketch2face.models.generator import load_generator
from sketch2face.tracking import DATA_VERSION_TAG, read_run_reference
from sketch2face.training.distributed import ProcessGroup
from sketch2face.training.loop import LoopState
from sketch2face.training.pix2pix import PIX2PIX_LOSSES
from sketch2face.training.run import generator_inference, offline_tracker, run_training, summarise, train
from sketch2face.training.validation import validate

TINY = {"ngf": 4, "ndf": 4, "batch_size": 2, "seed": 3}


@pytest.fixture
def pairs_dir(tmp_path) -> Path:
    return write_pairs_dir(tmp_path / "pairs", {"train": 6, "val": 2, "test": 2})


def _outputs(root) -> TrainOutputs:
    return TrainOutputs.in_dirs(root / "models", root / "metrics")


def _tiny_pairs(folder, count=2, size=32, hints=True):
    """A train split only; `hints`: with the colours assemble_pairs measures (else a pairs.csv from before them)."""
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        sketch = rng.integers(0, 256, (size, size), dtype=np.uint8)
        photo = np.stack([255 - sketch] * 3, axis=2)
        write_image(folder / "train" / f"{index}.png", side_by_side(sketch, photo))
        rows.append(
            {
                "id": str(index),
                "subject": str(index),
                "split": "train",
                "pair": f"train/{index}.png",
                **(measure_appearance(photo, AlignmentParams()).columns() if hints else {}),
            }
        )
    write_csv(folder / PAIRS_FILE, pd.DataFrame(rows))


def test_training_stores_its_geometry_and_registers_the_generator(tmp_path):
    _tiny_pairs(tmp_path / "pairs")
    params = parse_params(
        {
            "crop_resize": {
                "image_size": 32,
                "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}],
                "alignment": {"eye_y": 0.4, "eye_distance": 0.3},
            },
            "train": {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 1, "epochs_decay": 0},
            "tracking": {"register_name": "faces", "alias": "newest"},
        }
    )
    outputs = _outputs(tmp_path)

    run_training(params, tmp_path / "pairs", outputs)

    from_file = load_sketch_to_photo(outputs.generator)
    assert alignment_geometry(from_file.preprocessing) == params.crop_resize.alignment
    assert from_file.inference == "running_stats", "auto, at batch 2: the statistics training normalised with"
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
    params = parse_params(
        {
            "crop_resize": {"image_size": 32, "sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]},
            "train": {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 2, "epochs_decay": 0},
            "tracking": {"log_model": False},
        }
    )
    outputs = _outputs(tmp_path)

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
    outputs = _outputs(tmp_path)
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
    registered = {
        (version.name, version.version, version.source)
        for version in client.search_model_versions(f"run_id = '{run_id}'")
    }
    assert registered == {("faces", 1, models[0].model_uri), ("portraits", 1, models[0].model_uri)}
    assert client.get_model_version_by_alias("faces", "newest").version == 1


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, capsys, pairs_dir):
    """`dvc exp run -S train.lr=...` after a finished run must train the new config from scratch."""
    outputs = _outputs(tmp_path / "out")
    train(pipeline_params(**TINY, epochs_constant=1, epochs_decay=0), pairs_dir, outputs, offline_tracker())
    changed = pipeline_params(**{**TINY, "lr": 1e-3}, epochs_constant=1, epochs_decay=0)
    summary = train(changed, pairs_dir, outputs, offline_tracker())
    assert "starting fresh" in capsys.readouterr().out
    fresh = train(changed, pairs_dir, _outputs(tmp_path / "fresh"), offline_tracker())
    assert summary["final_loss_G_L1"] == fresh["final_loss_G_L1"]


def test_train_writes_validation_columns_and_the_best_generator(tmp_path, pairs_dir):
    outputs = _outputs(tmp_path)
    summary = train(pipeline_params(**TINY, epochs_constant=2, epochs_decay=1), pairs_dir, outputs, offline_tracker())
    log = pd.read_csv(outputs.log, sep="\t")
    assert list(log["epoch"]) == [1, 2, 3]
    assert {"val_l1", "val_psnr", "val_ssim"} <= set(log.columns) and log["val_psnr"].between(0, 100).all()
    assert log["val_ssim"].between(-1, 1).all()
    assert summary["best_val_l1"] == pytest.approx(log["val_l1"].min(), abs=1e-4)
    assert summary["best_epoch"] == int(log["val_l1"].idxmin()) + 1
    assert outputs.best_generator.exists() and outputs.checkpoint.exists()


def test_best_generator_keeps_the_best_val_epoch_not_the_last(tmp_path, pairs_dir):
    """Val photos are the sketches themselves, the inverse of the train mapping: learning makes val L1 worse."""
    for path in (pairs_dir / "val").glob("*.png"):
        pair = read_image(path, "rgb").copy()
        pair[:, pair.shape[1] // 2 :] = 255 - pair[:, pair.shape[1] // 2 :]
        write_image(path, pair)
    outputs = _outputs(tmp_path)
    summary = train(
        pipeline_params(**{**TINY, "lr": 1e-2}, epochs_constant=2, epochs_decay=0),
        pairs_dir,
        outputs,
        offline_tracker(),
    )
    assert summary["best_epoch"] == 1, "precondition: the last epoch is not the best"
    val = load_oriented_split(pairs_dir, "val", "sketch_to_photo", input_channels=1, output_channels=3)

    def val_l1(path: Path) -> float:
        return validate(load_generator(path), val, TINY["batch_size"], torch.device("cpu"), "fp32")["val_l1"]

    assert val_l1(outputs.best_generator) == pytest.approx(summary["best_val_l1"], abs=1e-4)
    assert val_l1(outputs.generator) > summary["best_val_l1"] + 0.01


def test_images_per_second_counts_the_images_of_every_process():
    params = pipeline_params(**TINY).train
    loop = LoopState(
        global_step=10, images=19, seconds=2.0, history=[{"epoch": 1, **dict.fromkeys(PIX2PIX_LOSSES, 0.5)}]
    )
    summary = summarise(params, loop, train_pairs=20, val_pairs=0, group=ProcessGroup(rank=0, world_size=4))
    assert summary["images_per_second"] == 19 * 4 / 2.0, "images of this process x processes / seconds"


def test_images_per_second_counts_images_trained_not_batch_size_times_steps(tmp_path):
    """A batch of 64 on 4 train pairs trains 4 images a step, not 64."""
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 4})
    summary = train(
        pipeline_params(**{**TINY, "batch_size": 64}, epochs_constant=3, epochs_decay=0),
        pairs_dir,
        _outputs(tmp_path),
        offline_tracker(),
    )
    images, seconds = 3 * 4, summary["train_seconds"]  # rounded to 0.1 s
    assert images / (seconds + 0.05) <= summary["images_per_second"] <= images / max(seconds - 0.05, 1e-3)


def test_empty_val_split_skips_validation(tmp_path, capsys):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 4, "test": 1})
    outputs = _outputs(tmp_path)
    summary = train(pipeline_params(**TINY, epochs_constant=1, epochs_decay=0), pairs_dir, outputs, offline_tracker())
    assert "val split is empty" in capsys.readouterr().out
    assert summary["val_pairs"] == 0 and "best_val_l1" not in summary
    assert outputs.best_generator.exists()


def test_an_empty_train_split_is_a_user_error_naming_the_pairs_table(tmp_path):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"val": 2, "test": 1})
    with pytest.raises(SourceError, match=f"{pairs_dir / PAIRS_FILE}: the train split is empty"):
        train(pipeline_params(**TINY), pairs_dir, _outputs(tmp_path), offline_tracker())


def test_hints_need_the_measured_colours_and_a_table_without_them_is_a_user_error(tmp_path):
    _tiny_pairs(tmp_path / "pairs", hints=False)
    settings = {"ngf": 4, "ndf": 4, "batch_size": 2, "epochs_constant": 1, "epochs_decay": 0}
    with pytest.raises(
        SourceError,
        match=r"pairs.csv: train.hints \['skin', 'hair'\] needs the colours measured on "
        r"every photo, but 2 pairs lack them \(e.g. 0: no skin colour\); rerun "
        r"assemble_pairs \(`dvc repro`\), or set train.hints: \[\]",
    ):
        train(pipeline_params(**settings), tmp_path / "pairs", _outputs(tmp_path), offline_tracker())
    summary = train(pipeline_params(**settings, hints=[]), tmp_path / "pairs", _outputs(tmp_path), offline_tracker())
    assert summary["train_pairs"] == 2 and load_generator(_outputs(tmp_path).generator).config.hints == ()


@pytest.mark.parametrize(
    ("batch_size", "device", "processes", "chosen", "expected"),
    [
        (1, "cpu", 1, "auto", "image_stats"),  # the paper: each image normalised alone in training
        (4, "cpu", 1, "auto", "running_stats"),
        (1, "cpu", 2, "auto", "image_stats"),  # no SyncBatchNorm on the CPU: each rank's one image
        (1, "cuda", 2, "auto", "running_stats"),  # SyncBatchNorm: two images normalised together
        (1, "cpu", 1, "test_batch", "test_batch"),  # a setting given is kept
    ],
)
def test_auto_inference_follows_how_many_images_each_batch_norm_saw_together(
    batch_size, device, processes, chosen, expected
):
    params = parse_params(
        {
            "crop_resize": {"sources": [DEMO_SOURCE]},
            "train": {"batch_size": batch_size},
            "evaluate": {"inference": chosen},
        }
    )
    group = ProcessGroup(world_size=processes)
    assert generator_inference(params, torch.device(device), group) == expected
