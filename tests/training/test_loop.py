import math
import os
import signal
from typing import NamedTuple

import pytest
import torch
from tiny_pairs import OnStep, assert_same_weights, learnable_pairs

from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs
from sketch2face.training.loop import LoopState, TrainingInterrupted, fit
from sketch2face.training.step import Pix2PixTrainer

TINY = {"ngf": 4, "ndf": 4, "batch_size": 2, "seed": 3}


class Fitted(NamedTuple):
    trainer: Pix2PixTrainer
    loop: LoopState


def _fit(root, epochs: int = 2, on_step=lambda step, logs: None, **overrides) -> Fitted:
    params = TrainParams(**{**TINY, "epochs_constant": epochs, "epochs_decay": 1, **overrides})
    trainer = Pix2PixTrainer(params, image_size=32)
    pairs = learnable_pairs(5)
    loop = fit(
        trainer,
        JitteredPairs(pairs, jitter=1.125, flip=True),
        pairs,
        root / "checkpoint.pt",
        "fingerprint",
        OnStep(on_step),
    )
    return Fitted(trainer, loop)


def test_training_logs_each_epochs_learning_rate_of_the_linear_schedule(tmp_path):
    history = _fit(tmp_path, epochs=2, epochs_decay=2, lr=3e-4).loop.history
    assert [record["lr"] for record in history] == pytest.approx([3e-4, 3e-4, 2e-4, 1e-4]), (
        "2 constant epochs, then 1 - k/3"
    )


def test_training_reduces_l1_on_a_learnable_mapping(tmp_path):
    params = TrainParams(**TINY, epochs_constant=40, epochs_decay=0)
    trainer = Pix2PixTrainer(params, image_size=32)
    pairs = learnable_pairs()
    loop = fit(trainer, JitteredPairs(pairs, 1.0, False), None, tmp_path / "checkpoint.pt", "f")
    assert loop.history[-1]["loss_G_L1"] < 0.75 * loop.history[0]["loss_G_L1"]


def test_same_seed_same_weights(tmp_path):
    assert_same_weights(_fit(tmp_path / "a").trainer, _fit(tmp_path / "b").trainer)


def test_on_step_sees_every_step_with_its_losses(tmp_path):
    seen = []
    _fit(tmp_path, epochs=1, on_step=lambda step, logs: seen.append((step, logs)))
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5, 6], "5 pairs in batches of 2: 3 steps x 2 epochs"
    every_loss = {"loss_G_GAN", "loss_G_L1", "loss_G_SSIM", "loss_D_real", "loss_D_fake"}  # the default SSIM term
    assert all(set(logs) == every_loss for _, logs in seen)
    assert all(math.isfinite(value) for _, logs in seen for value in logs.values())


@pytest.mark.parametrize("stop_at", [2, 3, 6])  # mid-epoch, at an epoch end, in the last epoch
def test_interrupted_run_resumes_bit_identically(tmp_path, stop_at):
    """Ctrl-C at a step, then a new process-like start: the same weights as never interrupted."""
    reference = _fit(tmp_path / "reference", dropout=True)

    def interrupt(step: int, logs: dict) -> None:
        if step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        _fit(tmp_path / "interrupted", on_step=interrupt, dropout=True)
    seen = []
    resumed = _fit(tmp_path / "interrupted", on_step=lambda step, logs: seen.append(step), dropout=True)
    assert seen[0] == stop_at + 1
    assert_same_weights(reference.trainer, resumed.trainer)
    assert resumed.loop.history == reference.loop.history


def test_periodic_checkpoints_resume_exactly(tmp_path):
    """A kill between checkpoints loses only the steps since the last one, and changes nothing else."""
    reference = _fit(tmp_path / "reference", checkpoint_every_steps=2)

    class Killed(Exception):
        pass

    def crash(step: int, logs: dict) -> None:
        if step == 5:
            raise Killed  # like kill -9: no chance to save; the checkpoint of step 4 remains

    with pytest.raises(Killed):
        _fit(tmp_path / "killed", on_step=crash, checkpoint_every_steps=2)
    seen = []
    resumed = _fit(tmp_path / "killed", on_step=lambda step, logs: seen.append(step), checkpoint_every_steps=2)
    assert seen[0] == 5
    assert_same_weights(reference.trainer, resumed.trainer)


def test_finished_checkpoint_of_the_same_run_is_not_trained_again(tmp_path):
    first = _fit(tmp_path)
    seen = []
    again = _fit(tmp_path, on_step=lambda step, logs: seen.append(step))
    assert seen == []
    assert_same_weights(first.trainer, again.trainer)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"PK\x03\x04 cut short", "cannot be read"), (None, "is not a training checkpoint (it holds a list)")],
    ids=["truncated", "foreign"],
)
def test_unusable_checkpoint_is_named_and_training_starts_fresh(tmp_path, capsys, content, problem):
    checkpoint = tmp_path / "out" / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    if content is None:
        torch.save([1, 2, 3], checkpoint)
    else:
        checkpoint.write_bytes(content)
    trained = _fit(checkpoint.parent, epochs=1)
    assert f"WARNING: {checkpoint} {problem}" in capsys.readouterr().out
    assert_same_weights(trained.trainer, _fit(tmp_path / "fresh", epochs=1).trainer)
    assert torch.load(checkpoint, weights_only=False)["loop"]["epoch"] == 2, "overwritten by this run's"


RECIPE = {
    "upsample": "resize",
    "ema_decay": 0.9,
    "discriminator_scales": 2,
    "n_layers_d": 2,
    "lambda_feature_matching": 2.0,
    "spectral_norm": True,
    "augment_d": ("translation", "cutout", "colour"),
    "lambda_ssim": 1.0,
    "hint_injection": "film",
    "hint_dropout": 0.4,
    "hint_free_pass": True,
    "hint_relight_stops": 1.0,
}


def test_every_recipe_option_on_still_resumes_bit_identically(tmp_path):
    """The weight average, both scales' spectral norms, the augmentation draws, which hints were left out
    and how faces were relit all come back from a checkpoint (the plain resume tests above train with
    hints as channels)."""
    reference = _fit(tmp_path / "reference", dropout=True, **RECIPE)

    def interrupt(step: int, logs: dict) -> None:
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        _fit(tmp_path / "interrupted", on_step=interrupt, dropout=True, **RECIPE)
    resumed = _fit(tmp_path / "interrupted", dropout=True, **RECIPE)
    assert_same_weights(reference.trainer, resumed.trainer)
    averaged = (fitted.trainer.published_generator.state_dict().values() for fitted in (reference, resumed))
    assert all(torch.equal(a, b) for a, b in zip(*averaged, strict=True))
    assert resumed.loop.history == reference.loop.history
    assert {"loss_G_FM", "loss_G_SSIM"} <= set(resumed.loop.history[-1])


def test_the_weight_average_is_what_validation_scores_and_keeps_as_the_best(tmp_path):
    fitted = _fit(tmp_path, ema_decay=0.9)
    trainer, loop = fitted
    assert trainer.published_generator is trainer.average.model
    best = loop.best_generator
    assert best is not None and any(
        not torch.equal(best[key], value) for key, value in trainer.generator.state_dict().items()
    )
