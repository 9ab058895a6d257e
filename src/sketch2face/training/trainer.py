"""The pix2pix training loop: alternating D and G updates, exact resume, validation, best model.

The loop position (epoch, step within the epoch, running loss sums, history, best model) and
every random state live in the checkpoint, and each epoch's batch order comes from a generator
seeded by (seed, epoch), so a run resumed from any checkpoint takes exactly the steps the
uninterrupted run would have taken: on the CPU the final weights are bit-identical.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sketch2face.config import Params, TrainParams
from sketch2face.data.dataset import JitteredPairs, PairTensors, load_oriented_split
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.io import folder_digest, write_csv, write_json
from sketch2face.models.discriminator import ConditionalDiscriminator, DiscriminatorConfig
from sketch2face.models.generator import Generator, GeneratorConfig, build_generator, save_generator
from sketch2face.tracking import DATA_VERSION_TAG, StoppedByUser, Tracker, write_run_reference
from sketch2face.inference import publish_generator
from sketch2face.training import distributed
from sketch2face.training.checkpoint import (
    UnusableCheckpoint,
    fingerprint,
    load_checkpoint,
    match_parameter_layouts,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from sketch2face.training.device import (
    adam_implementation,
    autocast,
    configure_backends,
    memory_formats,
    training_device,
)
from sketch2face.training.distributed import SINGLE_PROCESS, ProcessGroup
from sketch2face.training.pix2pix import Pix2PixObjective
from sketch2face.training.schedules import lr_factor
from sketch2face.training.validation import VAL_METRICS, is_better, validate

LOSS_NAMES = ("loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake")
STEP_METRIC, EPOCH_METRIC = "loss_G_L1", "epoch_loss_G_L1"  # logged at every step / epoch: how far a run got
GENERATOR_FILE = "generator.pt"
BEST_GENERATOR_FILE = "generator_best.pt"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_REFERENCE_FILE = "mlflow_run.json"
TRAIN_LOG_FILE = "train_log.tsv"
SUMMARY_FILE = "train.json"
TRAIN_SPLIT, VAL_SPLIT = "train", "val"
ADAM_BETA2 = 0.999
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class TrainOutputs:
    """Where training writes its artifacts."""

    generator: Path
    best_generator: Path
    checkpoint: Path
    run_reference: Path
    log: Path
    summary: Path

    @classmethod
    def in_dirs(cls, models_dir: Path, metrics_dir: Path) -> TrainOutputs:
        return cls(
            generator=models_dir / GENERATOR_FILE,
            best_generator=models_dir / BEST_GENERATOR_FILE,
            checkpoint=models_dir / CHECKPOINT_FILE,
            run_reference=models_dir / RUN_REFERENCE_FILE,
            log=metrics_dir / TRAIN_LOG_FILE,
            summary=metrics_dir / SUMMARY_FILE,
        )


class TrainingInterrupted(StoppedByUser):
    """Raised after SIGINT/SIGTERM once the current step is finished and a checkpoint is written."""


@dataclass
class LoopState:
    """Where the loop stands: everything besides networks, optimisers and RNGs that resume needs."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # steps completed in the current epoch
    global_step: int = 0
    loss_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_NAMES, 0.0))
    history: list[dict[str, float]] = field(default_factory=list)
    best_val_l1: float | None = None
    best_epoch: int | None = None
    best_generator: dict[str, torch.Tensor] | None = None
    seconds: float = 0.0  # training time of all invocations together
    tracking_run_id: str | None = None  # the MLflow run a resumed loop goes on logging to


def generator_config(params: TrainParams, image_size: int) -> GeneratorConfig:
    return GeneratorConfig(
        image_size=image_size,
        input_channels=params.input_channels,
        output_channels=params.output_channels,
        ngf=params.ngf,
        norm=params.norm,
        dropout=params.dropout,
        architecture=params.generator,
        resnet_blocks=params.resnet_blocks,
        direction=params.direction,
    )


def discriminator_config(params: TrainParams) -> DiscriminatorConfig:
    return DiscriminatorConfig(
        input_channels=params.input_channels + params.output_channels,
        ndf=params.ndf,
        n_layers=params.n_layers_d,
        norm=params.norm,
        architecture=params.discriminator,
    )


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The data order and jitter of one epoch depend only on (seed, epoch), not on what ran before."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


class Pix2PixTrainer:
    """Networks, optimisers and schedulers, and the one D-then-G update of pix2pix."""

    def __init__(
        self, params: TrainParams, image_size: int, device: torch.device | None = None, group: ProcessGroup = SINGLE_PROCESS
    ) -> None:
        self.params, self.group = params, group
        self.device = device or torch.device("cpu")
        torch.manual_seed(params.seed)
        self.memory_formats = memory_formats(self.device)
        self.generator: Generator = distributed.synchronise_norms(
            build_generator(generator_config(params, image_size)), self.device, group
        ).to(self.device, memory_format=self.memory_formats.generator)
        # Convolutions follow their weights' layout, so the NCHW batches need no conversion for D.
        self.discriminator: ConditionalDiscriminator = distributed.synchronise_norms(
            ConditionalDiscriminator(discriminator_config(params)), self.device, group
        ).to(self.device, memory_format=self.memory_formats.discriminator)
        self.generator_ddp = distributed.data_parallel(self.generator, self.device, group)
        self.discriminator_ddp = distributed.data_parallel(self.discriminator, self.device, group)
        self.objective = Pix2PixObjective(params.gan_loss, params.lambda_l1)

        adam = dict(lr=params.lr, betas=(params.beta1, ADAM_BETA2), **adam_implementation(self.device))
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), **adam)
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), **adam)
        schedule = lr_factor(params)
        self.schedulers = [
            torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) for optimizer in (self.optimizer_g, self.optimizer_d)
        ]

    @property
    def learning_rate(self) -> float:
        return self.schedulers[0].get_last_lr()[0]

    def train_step(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """One D update then one G update on the same generated batch (as the reference does)."""
        with autocast(self.device, self.params.precision):
            fake = self.generator_ddp(source)

        self.optimizer_d.zero_grad(set_to_none=True)
        with autocast(self.device, self.params.precision):
            logits_real = self.discriminator_ddp(source, target)
            logits_fake = self.discriminator_ddp(source, fake.detach())
        loss_d, logs_d = self.objective.discriminator_loss(logits_real, logits_fake)
        loss_d.backward()
        self.optimizer_d.step()

        # D is fixed during the G update: no gradients for its weights, and no DDP all-reduce for them.
        self.discriminator.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        with autocast(self.device, self.params.precision):
            logits = self.discriminator(source, fake)
        loss_g, logs_g = self.objective.generator_loss(logits, fake, target)
        loss_g.backward()
        self.optimizer_g.step()
        self.discriminator.requires_grad_(True)

        logs = {**logs_g, **logs_d}
        return dict(zip(logs, torch.stack([value.detach().float() for value in logs.values()]).tolist()))

    def epoch_batches(self, data: JitteredPairs, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This process's (source, target) batches of one epoch, on the training device."""
        batches = data.batches(self.params.batch_size, epoch_generator(self.params.seed, epoch))
        for source, target in distributed.shard(batches, self.batches_per_epoch(data), self.group):
            yield (
                source.to(self.device, memory_format=self.memory_formats.generator, non_blocking=True),
                target.to(self.device, memory_format=self.memory_formats.generator, non_blocking=True),
            )

    def batches_per_epoch(self, data: JitteredPairs) -> int:
        return -(-len(data) // self.params.batch_size)

    def steps_per_epoch(self, data: JitteredPairs) -> int:
        return distributed.steps_per_epoch(self.batches_per_epoch(data), self.group)

    def end_epoch(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "schedulers": [scheduler.state_dict() for scheduler in self.schedulers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        for optimizer, key in ((self.optimizer_g, "optimizer_g"), (self.optimizer_d, "optimizer_d")):
            optimizer.load_state_dict(state[key])
            match_parameter_layouts(optimizer)
        for scheduler, scheduler_state in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(scheduler_state)


class StopRequest:
    """Turns SIGINT/SIGTERM into a request honoured between steps, so a checkpoint is consistent.

    A second SIGINT interrupts at once (the previous handler is back by then).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signum, self._previous[signum])

    def __enter__(self) -> StopRequest:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def checkpoint_state(
    trainer: Pix2PixTrainer, loop: LoopState, run_fingerprint: str, rng: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a checkpoint holds; `rng` is every rank's generators, from `rng_states`."""
    return {
        "fingerprint": run_fingerprint,
        "generator_config": asdict(trainer.generator.config),
        "trainer": trainer.state_dict(),
        "loop": dict(vars(loop)),
        "rng": rng,
    }


def compatible_checkpoint(path: Path, run_fingerprint: str, group: ProcessGroup) -> dict[str, Any] | None:
    """The checkpoint in `path` if this run may resume it; else None, with a warning saying why.

    A damaged or foreign file is treated like one of another run: training starts fresh and
    overwrites it at its first checkpoint.
    """
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path)
    except UnusableCheckpoint as exc:
        problem = str(exc)
    else:
        if state["fingerprint"] == run_fingerprint:
            return state
        problem = "was written for other train params, data, code or process count"
    if group.is_main:
        print(f"WARNING: {path} {problem}; starting fresh (it will be overwritten)")
    return None


def resume(path: Path, run_fingerprint: str, trainer: Pix2PixTrainer) -> LoopState:
    """The loop state of a compatible checkpoint (networks, optimisers, RNGs restored), else a fresh one."""
    group = trainer.group
    state = compatible_checkpoint(path, run_fingerprint, group)
    loop = LoopState()
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        restore_rng_states(state["rng"], trainer.device, group)
        loop = LoopState(**state["loop"])
        if group.is_main:
            print(f"resuming from {path}: epoch {loop.epoch + 1}, step {loop.global_step}")
    if distributed.broadcast_int(loop.global_step, group) != loop.global_step:
        raise RuntimeError(f"rank {group.rank} found another checkpoint in {path} than rank 0: share models/")
    return loop


def fit(
    trainer: Pix2PixTrainer,
    data: JitteredPairs,
    val: PairTensors | None,
    outputs: TrainOutputs,
    run_fingerprint: str,
    on_step: Callable[[int, dict[str, float]], None] = lambda step, logs: None,
    on_epoch: Callable[[dict[str, float]], None] = lambda record: None,
    on_start: Callable[[LoopState], None] = lambda loop: None,
    on_save: Callable[[], None] = lambda: None,
) -> LoopState:
    """Trains from the last compatible checkpoint to the last epoch; writes checkpoints and the log.

    `on_start` sees the loop state once the checkpoint is resumed (or not), before the first step;
    `on_save` runs before each checkpoint is written, so that what it records is as far as the checkpoint.
    """
    params, group = trainer.params, trainer.group
    loop = resume(outputs.checkpoint, run_fingerprint, trainer)
    on_start(loop)
    steps = trainer.steps_per_epoch(data)

    def save() -> None:
        on_save()
        rng = rng_states(trainer.device, group)  # gathered from every rank: all of them call save together
        if group.is_main:
            save_checkpoint(outputs.checkpoint, checkpoint_state(trainer, loop, run_fingerprint, rng))

    started = time.perf_counter() - loop.seconds
    stopping = False
    progress = tqdm(
        total=params.epochs * steps,
        initial=loop.global_step,
        unit="step",
        mininterval=1.0,
        dynamic_ncols=True,
        disable=not group.is_main,
    )
    with StopRequest() as stop, progress:
        for epoch in range(loop.epoch, params.epochs):
            progress.set_description(f"epoch {epoch + 1}/{params.epochs}")
            for source, target in islice(trainer.epoch_batches(data, epoch), loop.step_in_epoch, None):
                logs = trainer.train_step(source, target)
                loop.step_in_epoch += 1
                loop.global_step += 1
                for name in LOSS_NAMES:
                    loop.loss_sums[name] += logs[name]
                on_step(loop.global_step, logs)
                progress.update()
                progress.set_postfix({name: f"{value:.3f}" for name, value in logs.items()}, refresh=False)
                loop.seconds = time.perf_counter() - started
                stopping = distributed.any_rank(stop.requested, group)
                if stopping:
                    break
                if loop.global_step % params.checkpoint_every_steps == 0 and loop.step_in_epoch < steps:
                    save()
            if loop.step_in_epoch < steps:  # stopped mid-epoch: resume will finish it
                save()
                raise TrainingInterrupted(f"stopped at step {loop.global_step}; checkpoint in {outputs.checkpoint}")
            finish_epoch(trainer, loop, val)
            if group.is_main:
                record = loop.history[-1]
                progress.write(" ".join([f"epoch {epoch + 1}/{params.epochs}"] + [f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"]))
                write_csv(outputs.log, pd.DataFrame(loop.history), sep="\t")
                on_epoch(record)
            if stopping or loop.global_step % params.checkpoint_every_steps == 0 or loop.epoch == params.epochs:
                save()
            if stopping and loop.epoch < params.epochs:
                raise TrainingInterrupted(f"stopped after epoch {loop.epoch}; checkpoint in {outputs.checkpoint}")
    return loop


def finish_epoch(trainer: Pix2PixTrainer, loop: LoopState, val: PairTensors | None) -> None:
    """Appends the epoch's mean losses and validation metrics, keeps the best G, steps the LR."""
    for network in (trainer.generator, trainer.discriminator):
        distributed.share_buffers(network, trainer.group)
    record = {"epoch": loop.epoch + 1, "lr": trainer.learning_rate}
    record.update({name: total / loop.step_in_epoch for name, total in loop.loss_sums.items()})
    scores = dict.fromkeys(VAL_METRICS, float("nan"))
    if val is not None and trainer.group.is_main:
        scores = validate(trainer.generator, val, trainer.params.batch_size, trainer.device, trainer.params.precision)
        if is_better(scores["val_l1"], loop.best_val_l1):
            loop.best_val_l1, loop.best_epoch = scores["val_l1"], loop.epoch + 1
            loop.best_generator = {key: value.detach().to("cpu", copy=True) for key, value in trainer.generator.state_dict().items()}
    record.update(scores)
    loop.history.append(record)
    loop.epoch += 1
    loop.step_in_epoch = 0
    loop.loss_sums = dict.fromkeys(LOSS_NAMES, 0.0)
    trainer.end_epoch()


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
            summary = train(params.train, pairs_dir, outputs, tracker, device, group, params.model_dump(mode="json"))
            if group.is_main:
                publish_generator(outputs.generator, outputs.best_generator, params, tracker)
            return summary


def train(
    params: TrainParams,
    pairs_dir: Path,
    outputs: TrainOutputs,
    tracker: Tracker,
    device: torch.device | None = None,
    group: ProcessGroup = SINGLE_PROCESS,
    logged_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Trains pix2pix on the train split; rank 0 writes generators, checkpoint, log and summary.

    The tracker is opened once the checkpoint is resumed or not: a resumed loop reopens the MLflow
    run it was logging to, so that run's metrics go on without a gap; a fresh loop (or one whose
    run is gone) opens a new run, with `logged_params` and the epochs already trained.
    """
    device = device or training_device(params.device)
    configure_backends(device, params.threads)
    pairs = load_oriented_split(pairs_dir, TRAIN_SPLIT, params.direction, params.input_channels, params.output_channels)
    if pairs is None:
        raise SourceError(f"{pairs_dir / PAIRS_FILE}: the train split is empty")
    val = load_oriented_split(pairs_dir, VAL_SPLIT, params.direction, params.input_channels, params.output_channels)
    if val is None and group.is_main:
        print(f"{pairs_dir}: the val split is empty: no validation, generator_best.pt is the last generator")
    data = JitteredPairs(pairs, params.jitter, params.flip)
    image_size = pairs.sketches.shape[-1]
    trainer = Pix2PixTrainer(params, image_size, device, group)
    run_fingerprint = fingerprint(params, image_size, group.world_size, [pairs.sketches, pairs.photos])

    steps_trained = 0
    # What a reopened run already holds: steps retrained after a crash are not logged again. On the
    # CPU they are bit-identical; elsewhere MLflow keeps the first values, train_log.tsv the new ones.
    logged_up_to = {STEP_METRIC: 0, EPOCH_METRIC: 0}

    def on_step(step: int, logs: dict[str, float]) -> None:
        nonlocal steps_trained
        steps_trained += 1
        if step > logged_up_to[STEP_METRIC]:
            tracker.queue_step_metrics(logs, step)

    def on_epoch(record: dict[str, float]) -> None:
        if record["epoch"] > logged_up_to[EPOCH_METRIC]:
            logged = {f"epoch_{key}": value for key, value in record.items() if key != "epoch" and not math.isnan(value)}
            tracker.log_metrics(logged, step=int(record["epoch"]))

    def on_start(loop: LoopState) -> None:
        if not group.is_main:
            return
        if loop.tracking_run_id is not None and tracker.reopen(loop.tracking_run_id):
            logged_up_to.update({key: tracker.last_step(key) for key in logged_up_to})
        else:
            tracker.start({DATA_VERSION_TAG: folder_digest(pairs_dir)})
            tracker.log_params(logged_params or {})
            for record in loop.history:
                on_epoch(record)
        loop.tracking_run_id = tracker.run_id
        write_run_reference(outputs.run_reference, tracker)

    # queued step metrics reach the store before each checkpoint: after a kill -9 it holds every step the checkpoint has
    loop = fit(trainer, data, val, outputs, run_fingerprint, on_step, on_epoch, on_start, on_save=tracker.write_queued)
    summary = summarise(params, loop, len(pairs), 0 if val is None else len(val), group)
    summary["resumed_from_step"] = loop.global_step - steps_trained
    if group.is_main:
        write_outputs(trainer, loop, outputs, summary)
        tracker.log_new_metrics({key: value for key, value in summary.items() if isinstance(value, (int, float))})
    return summary


def summarise(params: TrainParams, loop: LoopState, train_pairs: int, val_pairs: int, group: ProcessGroup) -> dict[str, Any]:
    last = loop.history[-1]
    return {
        "epochs": params.epochs,
        "train_pairs": train_pairs,
        "val_pairs": val_pairs,
        "processes": group.world_size,
        "train_seconds": round(loop.seconds, 1),
        # over every invocation's training loop, so a rerun that only rewrites the outputs keeps it
        "images_per_second": round(loop.global_step * params.batch_size * group.world_size / max(loop.seconds, 1e-9), 2),
        **{f"final_{name}": round(last[name], 4) for name in LOSS_NAMES},
        **({f"final_{name}": round(last[name], 4) for name in VAL_METRICS} if val_pairs else {}),
        **({"best_val_l1": round(loop.best_val_l1, 4), "best_epoch": loop.best_epoch} if loop.best_epoch else {}),
    }


def write_outputs(trainer: Pix2PixTrainer, loop: LoopState, outputs: TrainOutputs, summary: dict[str, Any]) -> None:
    save_generator(trainer.generator, outputs.generator)
    best = build_generator(trainer.generator.config)
    best.load_state_dict(loop.best_generator or trainer.generator.state_dict())
    save_generator(best, outputs.best_generator)
    write_csv(outputs.log, pd.DataFrame(loop.history), sep="\t")
    write_json(outputs.summary, summary)
