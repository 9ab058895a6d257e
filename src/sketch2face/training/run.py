"""The train stage: data in, trained generators, checkpoint, logs and an MLflow run out.

`run_training` is the stage in a plain process or as one rank of a torchrun launch; `train` wires
the loop to its outputs and to MLflow; `publish` writes each generator file once, complete, and
logs the generator in memory as an MLflow model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from sketch2face.artifacts import TrainOutputs
from sketch2face.config import InferenceMode, Params, TrainParams
from sketch2face.data.align import training_preprocessing
from sketch2face.data.dataset import JitteredPairs, PairTensors, load_oriented_split
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.io import folder_digest, write_csv, write_json
from sketch2face.models.generator import AUTO, INFERENCE_KEY, SKETCH_TO_PHOTO, build_generator, save_generator
from sketch2face.models.hints import select_hints
from sketch2face.models.sketch_to_photo import SketchToPhoto, trained_inference
from sketch2face.tracking import DATA_VERSION_TAG, Tracker, log_generator, write_run_reference
from sketch2face.training import distributed
from sketch2face.training.checkpoint import fingerprint
from sketch2face.training.device import configure_backends, training_device
from sketch2face.training.distributed import SINGLE_PROCESS, ProcessGroup
from sketch2face.training.loop import LoopState, TrainingListener, fit
from sketch2face.training.step import Pix2PixTrainer
from sketch2face.training.validation import VAL_METRICS

STEP_METRIC, EPOCH_METRIC = "loss_G_L1", "epoch_loss_G_L1"  # logged at every step / epoch: how far a run got
TRAIN_SPLIT, VAL_SPLIT = "train", "val"
LOSS_PREFIX = "loss_"


class TrackedTraining(TrainingListener):
    """Mirrors the loop into MLflow and `train_log.tsv`; a resumed loop reopens the run it was logging to.

    A reopened run may hold steps past the checkpoint (the process died after logging them): only
    steps after those are logged again. On the CPU they are bit-identical; elsewhere MLflow keeps
    the first values, `train_log.tsv` the new ones.
    """

    def __init__(
        self,
        tracker: Tracker,
        outputs: TrainOutputs,
        pairs_dir: Path,
        logged_params: Mapping[str, Any],
        group: ProcessGroup,
    ) -> None:
        self.tracker, self.outputs, self.pairs_dir, self.group = tracker, outputs, pairs_dir, group
        self.logged_params = logged_params
        self.logged_up_to = {STEP_METRIC: 0, EPOCH_METRIC: 0}
        self.steps_trained = 0  # by this invocation

    def started(self, loop: LoopState) -> None:
        if not self.group.is_main:
            return
        if loop.tracking_run_id is not None and self.tracker.reopen(loop.tracking_run_id):
            self.logged_up_to = {key: self.tracker.last_step(key) for key in self.logged_up_to}
        else:
            self.tracker.start({DATA_VERSION_TAG: folder_digest(self.pairs_dir)})
            self.tracker.log_params(self.logged_params)
            for record in loop.history:
                self._log_epoch(record)
        loop.tracking_run_id = self.tracker.run_id
        write_run_reference(self.outputs.run_reference, self.tracker)

    def step_done(self, step: int, logs: dict[str, float]) -> None:
        self.steps_trained += 1
        if step > self.logged_up_to[STEP_METRIC]:
            self.tracker.queue_step_metrics(logs, step)

    def epoch_done(self, loop: LoopState) -> None:
        write_csv(self.outputs.log, pd.DataFrame(loop.history), sep="\t")
        self._log_epoch(loop.history[-1])

    def saving(self) -> None:
        # the store holds every step the checkpoint has, so after a kill -9 none is missing
        self.tracker.write_queued()

    def _log_epoch(self, record: dict[str, float]) -> None:
        if record["epoch"] > self.logged_up_to[EPOCH_METRIC]:
            logged = {
                f"epoch_{key}": value for key, value in record.items() if key != "epoch" and not math.isnan(value)
            }
            self.tracker.log_metrics(logged, step=int(record["epoch"]))


def offline_tracker() -> Tracker:
    """A tracker that logs nothing: ranks other than 0, and callers without MLflow."""
    tracker = Tracker()
    tracker.enabled = False
    return tracker


def run_training(params: Params, pairs_dir: Path, outputs: TrainOutputs) -> dict[str, Any]:
    """The train stage, in a plain process or as one rank of a torchrun launch.

    Rank 0 opens the pipeline's MLflow run and leaves its id for evaluate; other ranks only train.
    """
    group = distributed.group_from_environment()
    device = training_device(params.train.device, group.local_rank)
    with distributed.process_group(group, device):
        tracker = Tracker() if group.is_main else offline_tracker()
        with tracker:
            return train(params, pairs_dir, outputs, tracker, device, group)


def train(
    params: Params,
    pairs_dir: Path,
    outputs: TrainOutputs,
    tracker: Tracker,
    device: torch.device | None = None,
    group: ProcessGroup = SINGLE_PROCESS,
) -> dict[str, Any]:
    """Trains pix2pix on the train split; rank 0 writes generators, checkpoint, log, summary and the MLflow model.

    The tracker is opened once the checkpoint is resumed or not: a resumed loop reopens the MLflow
    run it was logging to, so that run's metrics go on without a gap; a fresh loop (or one whose
    run is gone) opens a new run, with all params and the epochs already trained.
    """
    settings = params.train
    device = device or training_device(settings.device)
    configure_backends(device, settings.threads)
    orientation = (settings.direction, settings.input_channels, settings.output_channels)
    pairs = load_oriented_split(pairs_dir, TRAIN_SPLIT, *orientation)
    if pairs is None:
        raise SourceError(f"{pairs_dir / PAIRS_FILE}: the train split is empty")
    val = load_oriented_split(pairs_dir, VAL_SPLIT, *orientation)
    if val is None and group.is_main:
        print(f"{pairs_dir}: the val split is empty: no validation, generator_best.pt is the last generator")
    for split in (pairs, val):
        if split is not None:
            check_measured_hints(split, settings, pairs_dir)
    data = JitteredPairs(pairs, settings.jitter, settings.flip)
    image_size = pairs.sketches.shape[-1]
    trainer = Pix2PixTrainer(settings, image_size, device, group, params.crop_resize.alignment)
    trained_on = [pairs.sketches, pairs.photos, *([pairs.appearance] if settings.hints else [])]
    run_fingerprint = fingerprint(settings, image_size, group.world_size, trained_on)

    listener = TrackedTraining(tracker, outputs, pairs_dir, params.model_dump(mode="json"), group)
    inference = generator_inference(params, device, group)
    loop = fit(trainer, data, val, outputs.checkpoint, run_fingerprint, listener, inference)
    summary = summarise(settings, loop, len(pairs), 0 if val is None else len(val), group)
    summary["resumed_from_step"] = loop.global_step - listener.steps_trained
    if group.is_main:
        publish(trainer, loop, params, inference, outputs, tracker)
        write_csv(outputs.log, pd.DataFrame(loop.history), sep="\t")
        write_json(outputs.summary, summary)
        tracker.log_new_metrics({key: value for key, value in summary.items() if isinstance(value, (int, float))})
    return summary


def check_measured_hints(pairs: PairTensors, settings: TrainParams, pairs_dir: Path) -> None:
    """Hints are trained from pairs.csv's measured colours: a table without them is a user error, not silent NaN."""
    if not settings.hints:
        return
    chosen = select_hints(pairs.appearance, settings.hints)
    missing = chosen.isnan().any(dim=-1)
    if missing.any():
        row, hint = (int(index) for index in missing.nonzero()[0])
        raise SourceError(
            f"{pairs_dir / PAIRS_FILE}: train.hints {list(settings.hints)} needs the colours measured on every photo, "
            f"but {int(missing.any(dim=1).sum())} pairs lack them (e.g. {pairs.ids[row]}: no {settings.hints[hint]} "
            "colour); rerun assemble_pairs (`dvc repro`), or set train.hints: []"
        )


def summarise(
    params: TrainParams, loop: LoopState, train_pairs: int, val_pairs: int, group: ProcessGroup
) -> dict[str, Any]:
    last = loop.history[-1]
    return {
        "epochs": params.epochs,
        "train_pairs": train_pairs,
        "val_pairs": val_pairs,
        "processes": group.world_size,
        "train_seconds": round(loop.seconds, 1),
        # over every invocation's training loop, so a rerun that only rewrites the outputs keeps it
        "images_per_second": round(loop.images * group.world_size / max(loop.seconds, 1e-9), 2),
        **{f"final_{name}": round(value, 4) for name, value in last.items() if name.startswith(LOSS_PREFIX)},
        **({f"final_{name}": round(last[name], 4) for name in VAL_METRICS} if val_pairs else {}),
        **({"best_val_l1": round(loop.best_val_l1, 4), "best_epoch": loop.best_epoch} if loop.best_epoch else {}),
    }


def generator_inference(params: Params, device: torch.device, group: ProcessGroup) -> InferenceMode:
    """`evaluate.inference`, with `auto` resolved by how many images each batch norm saw together in training."""
    if params.evaluate.inference != AUTO:
        return params.evaluate.inference
    normalised_together = params.train.batch_size * distributed.norm_group_size(device, group)
    return trained_inference(params.train.norm, normalised_together)


def publish(
    trainer: Pix2PixTrainer,
    loop: LoopState,
    params: Params,
    inference: InferenceMode,
    outputs: TrainOutputs,
    tracker: Tracker,
) -> None:
    """Writes the last and best generators, each once and complete, and logs the last to MLflow.

    Both files record the training geometry, so `sketch2face predict` aligns new sketches the
    same way, and how the evaluation runs the generator, so predict and the MLflow model run it
    the same way. The MLflow model is the generator in memory, as plain CPU modules.
    """
    preprocessing = {**training_preprocessing(params.crop_resize.alignment), INFERENCE_KEY: inference}
    published = trainer.published_generator
    config = published.config
    last, best = build_generator(config), build_generator(config)
    last.load_state_dict(published.state_dict())
    best.load_state_dict(loop.best_generator or published.state_dict())
    save_generator(last, outputs.generator, preprocessing)
    save_generator(best, outputs.best_generator, preprocessing)
    if config.direction == SKETCH_TO_PHOTO:
        log_generator(tracker, SketchToPhoto(last, preprocessing), params.tracking)
    else:
        print(f"{outputs.generator}: a {config.direction} generator is not logged as an MLflow sketch-to-photo model")
