"""The training loop: epochs of steps, exact resume from checkpoints, stop requests, validation.

The loop position (epoch, step within the epoch, running loss sums, history, best model) and
every random state live in the checkpoint, and each epoch's batch order comes from a generator
seeded by (seed, epoch), so a run resumed from any checkpoint takes exactly the steps the
uninterrupted run would have taken: on the CPU the final weights are bit-identical.
"""

from __future__ import annotations

import signal
import time
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from sketch2face.config import InferenceMode
from sketch2face.data.dataset import JitteredPairs, PairTensors
from sketch2face.errors import StoppedByUser
from sketch2face.models.generator import RUNNING_STATS
from sketch2face.training import distributed
from sketch2face.training.checkpoint import (
    UnusableCheckpoint,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from sketch2face.training.distributed import ProcessGroup
from sketch2face.training.step import Pix2PixTrainer
from sketch2face.training.validation import VAL_METRICS, is_better, validate

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(StoppedByUser):
    """Raised after SIGINT/SIGTERM once the current step is finished and a checkpoint is written."""


@dataclass
class LoopState:
    """Where the loop stands: everything besides networks, optimisers and RNGs that resume needs."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # steps completed in the current epoch
    global_step: int = 0
    images: int = 0  # trained by this process: a batch may be smaller than batch_size, at an epoch's end or in all
    loss_sums: dict[str, float] = field(default_factory=dict)  # of the current epoch, by loss name
    history: list[dict[str, float]] = field(default_factory=list)
    best_val_l1: float | None = None
    best_epoch: int | None = None
    best_generator: dict[str, torch.Tensor] | None = None
    seconds: float = 0.0  # training time of all invocations together
    tracking_run_id: str | None = None  # the MLflow run a resumed loop goes on logging to


class TrainingListener:
    """What the loop tells the world around it; each hook does nothing unless overridden.

    `started`, `step_done` and `saving` run on every process, `epoch_done` on rank 0 only.
    """

    def started(self, loop: LoopState) -> None:
        """The checkpoint is resumed (or not); no step has run yet."""

    def step_done(self, step: int, logs: dict[str, float]) -> None:
        """Step `step` (counted over the whole run) finished with these losses."""

    def epoch_done(self, loop: LoopState) -> None:
        """An epoch finished; its losses and validation scores are `loop.history[-1]`."""

    def saving(self) -> None:
        """A checkpoint is about to be written: whatever is recorded now is as far as it."""


class StopRequest:
    """Turns SIGINT/SIGTERM into a request honoured between steps, so a checkpoint is consistent.

    A second SIGINT interrupts at once (the previous handler is back by then).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: object) -> None:
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
    loop = LoopState(loss_sums=dict.fromkeys(trainer.loss_names, 0.0))
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
    checkpoint: Path,
    run_fingerprint: str,
    listener: TrainingListener | None = None,
    inference: InferenceMode = RUNNING_STATS,
) -> LoopState:
    """Trains from the last compatible checkpoint in `checkpoint` to the last epoch, checkpointing on the way.

    Validation runs the generator as `inference` says, the way evaluate will.
    """
    params, group = trainer.params, trainer.group
    listener = listener or TrainingListener()
    loop = resume(checkpoint, run_fingerprint, trainer)
    listener.started(loop)
    steps = trainer.steps_per_epoch(data)

    def save() -> None:
        listener.saving()
        rng = rng_states(trainer.device, group)  # gathered from every rank: all of them call save together
        if group.is_main:
            save_checkpoint(checkpoint, checkpoint_state(trainer, loop, run_fingerprint, rng))

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
            for source, target, appearance in islice(trainer.epoch_batches(data, epoch), loop.step_in_epoch, None):
                logs = trainer.train_step(source, target, appearance)
                loop.step_in_epoch += 1
                loop.global_step += 1
                loop.images += len(source)
                for name in trainer.loss_names:
                    loop.loss_sums[name] += logs[name]
                listener.step_done(loop.global_step, logs)
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
                raise TrainingInterrupted(f"stopped at step {loop.global_step}; checkpoint in {checkpoint}")
            finish_epoch(trainer, loop, val, inference)
            if group.is_main:
                record = loop.history[-1]
                scores = [f"{key}={value:.4f}" for key, value in record.items() if key != "epoch"]
                progress.write(" ".join([f"epoch {epoch + 1}/{params.epochs}", *scores]))
                listener.epoch_done(loop)
            if stopping or loop.global_step % params.checkpoint_every_steps == 0 or loop.epoch == params.epochs:
                save()
            if stopping and loop.epoch < params.epochs:
                raise TrainingInterrupted(f"stopped after epoch {loop.epoch}; checkpoint in {checkpoint}")
    return loop


def finish_epoch(trainer: Pix2PixTrainer, loop: LoopState, val: PairTensors | None, inference: InferenceMode) -> None:
    """Appends the epoch's mean losses and validation metrics, keeps the best G, steps the LR."""
    for network in (trainer.generator, trainer.discriminator):
        distributed.share_buffers(network, trainer.group)
    record = {"epoch": loop.epoch + 1, "lr": trainer.learning_rate}
    record.update({name: total / loop.step_in_epoch for name, total in loop.loss_sums.items()})
    scores = dict.fromkeys(VAL_METRICS, float("nan"))
    if val is not None and trainer.group.is_main:
        published = trainer.published_generator
        params = trainer.params
        scores = validate(published, val, params.batch_size, trainer.device, params.precision, inference)
        if is_better(scores["val_l1"], loop.best_val_l1):
            loop.best_val_l1, loop.best_epoch = scores["val_l1"], loop.epoch + 1
            generator_state = published.state_dict()
            loop.best_generator = {key: value.detach().to("cpu", copy=True) for key, value in generator_state.items()}
    record.update(scores)
    loop.history.append(record)
    loop.epoch += 1
    loop.step_in_epoch = 0
    loop.loss_sums = dict.fromkeys(trainer.loss_names, 0.0)
    trainer.end_epoch()
