import pytest
import torch

from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs, PairTensors
from sketch2face.training.trainer import Pix2PixTrainer, linear_decay

TINY = dict(ngf=4, ndf=4, batch_size=2, seed=3)


def test_learning_rate_is_constant_then_decays_linearly():
    factor = linear_decay(TrainParams(epochs_constant=3, epochs_decay=3))
    assert [round(factor(e), 3) for e in range(6)] == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert factor(50) == 0.0, "training past the schedule must never ascend the gradient"


def _pairs(count: int = 4, size: int = 32) -> PairTensors:
    """Smooth random sketches and their negatives as photos: a mapping a small U-Net can learn."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(count, 1, 4, 4, generator=generator) * 255
    sketches = torch.nn.functional.interpolate(coarse, size=size, mode="bilinear").round().to(torch.uint8)
    photos = (255 - sketches).repeat(1, 3, 1, 1)
    return PairTensors([str(i) for i in range(count)], sketches, photos)


def _train(steps_epochs: int) -> Pix2PixTrainer:
    trainer = Pix2PixTrainer(TrainParams(**TINY, epochs_constant=steps_epochs, epochs_decay=0), image_size=32)
    data = JitteredPairs(_pairs(), jitter=1.0, flip=False)
    for epoch in range(steps_epochs):
        trainer.train_epoch(data, epoch, on_step=lambda step, logs: None)
    return trainer


def test_training_reduces_l1_on_a_learnable_mapping():
    trainer = Pix2PixTrainer(TrainParams(**TINY, epochs_constant=40, epochs_decay=0), image_size=32)
    data = JitteredPairs(_pairs(), jitter=1.0, flip=False)
    first = trainer.train_epoch(data, 0, lambda step, logs: None).losses["loss_G_L1"]
    for epoch in range(1, 40):
        last = trainer.train_epoch(data, epoch, lambda step, logs: None).losses["loss_G_L1"]
    assert last < 0.75 * first


def test_same_seed_same_weights():
    first, second = _train(2), _train(2)
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)


def test_on_step_sees_every_batch_with_its_losses():
    trainer = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    seen = []
    trainer.train_epoch(JitteredPairs(_pairs(5), 1.0, False), 0, lambda step, logs: seen.append((step, logs)))
    assert [step for step, _ in seen] == [1, 2, 3]
    assert set(seen[0][1]) == {"loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake"}
    assert all(value == pytest.approx(value) for _, logs in seen for value in logs.values())
