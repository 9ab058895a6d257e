"""The pix2pix training loop: alternating D and G updates with Adam and a linear LR decay."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
from tqdm import tqdm

from sketch2face.config import Params, TrainParams
from sketch2face.io import write_csv, write_json
from sketch2face.tracking import Tracker, write_run_reference
from sketch2face.data.dataset import JitteredPairs, load_split
from sketch2face.inference import publish_generator
from sketch2face.models.discriminator import DiscriminatorConfig, PatchDiscriminator
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, save_generator
from sketch2face.models.losses import GanLoss
from sketch2face.training.checkpoint import save_checkpoint
from sketch2face.training.pix2pix import Pix2PixModel

LOSS_NAMES = ("loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake")
GENERATOR_FILE = "generator.pt"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_REFERENCE_FILE = "mlflow_run.json"
TRAIN_LOG_FILE = "train_log.tsv"


@dataclass(frozen=True)
class TrainOutputs:
    """Where training writes its artifacts."""

    generator: Path
    checkpoint: Path
    run_reference: Path
    log: Path
    summary: Path

    @classmethod
    def in_dirs(cls, models_dir: Path, metrics_dir: Path) -> TrainOutputs:
        return cls(
            generator=models_dir / GENERATOR_FILE,
            checkpoint=models_dir / CHECKPOINT_FILE,
            run_reference=models_dir / RUN_REFERENCE_FILE,
            log=metrics_dir / TRAIN_LOG_FILE,
            summary=metrics_dir / "train.json",
        )


@dataclass
class EpochRecord:
    epoch: int
    lr: float
    losses: dict[str, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, float]:
        return {"epoch": self.epoch, "lr": self.lr, **self.losses}


def linear_decay(params: TrainParams) -> Callable[[int], float]:
    """pix2pix's policy: constant for `epochs_constant` epochs, then linearly towards zero."""

    def factor(epoch: int) -> float:
        return max(0.0, 1.0 - max(0, epoch + 1 - params.epochs_constant) / (params.epochs_decay + 1))

    return factor


def build_model(params: TrainParams, image_size: int) -> Pix2PixModel:
    generator = UnetGenerator(
        GeneratorConfig(
            image_size=image_size,
            input_channels=params.input_channels,
            output_channels=params.output_channels,
            ngf=params.ngf,
            dropout=params.dropout,
        )
    )
    discriminator = PatchDiscriminator(
        DiscriminatorConfig(input_channels=params.input_channels + params.output_channels, ndf=params.ndf)
    )
    return Pix2PixModel(generator, discriminator, GanLoss("vanilla"), params.lambda_l1)


class Pix2PixTrainer:
    def __init__(self, params: TrainParams, image_size: int) -> None:
        self.params = params
        torch.manual_seed(params.seed)
        self.model = build_model(params, image_size)
        betas = (params.beta1, 0.999)
        self.optimizer_g = torch.optim.Adam(self.model.generator.parameters(), lr=params.lr, betas=betas)
        self.optimizer_d = torch.optim.Adam(self.model.discriminator.parameters(), lr=params.lr, betas=betas)
        schedule = linear_decay(params)
        self.schedulers = [
            torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) for optimizer in (self.optimizer_g, self.optimizer_d)
        ]
        self.data_generator = torch.Generator().manual_seed(params.seed)

    def train_step(self, sketch: torch.Tensor, photo: torch.Tensor) -> dict[str, float]:
        """One D update then one G update on the same generated batch."""
        fake = self.model.generator(sketch)
        self.optimizer_d.zero_grad(set_to_none=True)
        loss_d, logs_d = self.model.discriminator_loss(sketch, photo, fake)
        loss_d.backward()
        self.optimizer_d.step()

        self.optimizer_g.zero_grad(set_to_none=True)
        loss_g, logs_g = self.model.generator_loss(sketch, photo, fake)
        loss_g.backward()
        self.optimizer_g.step()
        return {**logs_g, **logs_d}

    def train_epoch(self, data: JitteredPairs, epoch: int, on_step: Callable[[int, dict], None]) -> EpochRecord:
        self.model.train()
        totals = dict.fromkeys(LOSS_NAMES, 0.0)
        batches = 0
        steps_per_epoch = -(-len(data) // self.params.batch_size)
        progress = tqdm(
            data.batches(self.params.batch_size, self.data_generator),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.params.epochs}",
            leave=False,
            mininterval=1.0,
        )
        for sketch, photo in progress:
            logs = self.train_step(sketch, photo)
            batches += 1
            for name in LOSS_NAMES:
                totals[name] += logs[name]
            on_step(epoch * steps_per_epoch + batches, logs)
            progress.set_postfix({name: f"{value:.3f}" for name, value in logs.items()})
        record = EpochRecord(epoch + 1, self.schedulers[0].get_last_lr()[0], {k: v / batches for k, v in totals.items()})
        for scheduler in self.schedulers:
            scheduler.step()
        return record

    def state(self, epoch: int) -> dict:
        return {
            "epoch": epoch,
            "generator_config": asdict(self.model.generator.config),
            "model": self.model.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "schedulers": [scheduler.state_dict() for scheduler in self.schedulers],
            "data_generator": self.data_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }


def run_training(params: Params, pairs_dir: Path, outputs: TrainOutputs) -> dict[str, float]:
    """The train stage: opens the pipeline's MLflow run, trains, leaves the run id for evaluate."""
    tracker = Tracker().start()
    tracker.log_params(params.model_dump(mode="json"))
    write_run_reference(outputs.run_reference, tracker)
    with tracker:
        summary = train(params.train, pairs_dir, outputs, tracker)
        publish_generator(outputs.generator, params, tracker)
        return summary


def train(params: TrainParams, pairs_dir: Path, outputs: TrainOutputs, tracker: Tracker) -> dict[str, float]:
    """Trains pix2pix on the train split and writes generator, checkpoint, log and summary."""
    if params.threads:
        torch.set_num_threads(params.threads)
    pairs = load_split(pairs_dir, "train", params.input_channels, params.output_channels)
    data = JitteredPairs(pairs, params.jitter, params.flip)
    trainer = Pix2PixTrainer(params, image_size=pairs.sketches.shape[-1])

    def on_step(step: int, logs: dict[str, float]) -> None:
        tracker.log_metrics(logs, step=step)

    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(params.epochs):
        record = trainer.train_epoch(data, epoch, on_step)
        history.append(record.as_row())
        print(f"epoch {record.epoch}/{params.epochs} " + " ".join(f"{k}={v:.4f}" for k, v in record.losses.items()))
        tracker.log_metrics({f"epoch_{name}": value for name, value in record.losses.items()}, step=record.epoch)
        write_csv(outputs.log, pd.DataFrame(history), sep="\t")
    seconds = time.perf_counter() - started

    save_checkpoint(outputs.checkpoint, trainer.state(params.epochs))
    save_generator(trainer.model.generator, outputs.generator)
    summary = {
        "epochs": params.epochs,
        "train_pairs": len(pairs),
        "train_seconds": round(seconds, 1),
        "images_per_second": round(params.epochs * len(pairs) / seconds, 2),
        **{f"final_{name}": round(value, 4) for name, value in history[-1].items() if name in LOSS_NAMES},
    }
    write_json(outputs.summary, summary)
    tracker.log_metrics(summary)
    return summary
