import math

import pytest
import torch
from tiny_pairs import learnable_pairs

from sketch2face.config import TrainParams
from sketch2face.evaluation.metrics import ssim
from sketch2face.models.generator import to_pixels
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.training.step import Pix2PixTrainer
from sketch2face.training.validation import is_better, validate


def test_lower_val_l1_is_better():
    assert is_better(0.2, 0.3)
    assert not is_better(0.3, 0.3), "a tie keeps the earlier epoch"
    assert not is_better(0.4, 0.3)


def test_nan_val_l1_is_never_the_best():
    assert not is_better(math.nan, 0.3)
    assert not is_better(math.nan, None), "a NaN first epoch would block every later one"


def test_the_first_val_l1_is_always_the_best_so_far():
    assert is_better(0.9, None)


def test_val_psnr_is_finite_and_l1_matches_by_hand_with_the_measured_hints():
    trainer = Pix2PixTrainer(TrainParams(ngf=4, ndf=4, batch_size=2, seed=3), image_size=32)
    pairs = learnable_pairs(3)
    scores = validate(trainer.generator, pairs, 2, torch.device("cpu"), "fp32")
    assert trainer.generator.training, "validation must hand the generator back in training mode"
    trainer.generator.eval()
    with torch.no_grad():
        fake = trainer.generator(pairs.sketches.float() / 127.5 - 1, pairs.appearance)  # skin, hair: its hint order
        guessed = trainer.generator(pairs.sketches.float() / 127.5 - 1)
    assert scores["val_l1"] == pytest.approx((fake - (pairs.photos.float() / 127.5 - 1)).abs().mean().item(), rel=1e-5)
    assert not torch.allclose(fake, guessed)
    assert math.isfinite(scores["val_psnr"])
    photos = [images.permute(0, 2, 3, 1).numpy() for images in (pairs.photos, to_pixels(fake))]
    assert scores["val_ssim"] == pytest.approx(ssim(*photos).mean(), abs=1e-6), "the evaluation's SSIM"


def test_image_stats_validation_scores_each_val_image_alone_on_its_own_norm_statistics():
    trainer = Pix2PixTrainer(TrainParams(ngf=4, ndf=4, batch_size=1, seed=3, hints=[]), image_size=32)
    trainer.generator.train()(torch.randn(2, 1, 32, 32))  # running statistics unlike any one image's
    pairs = learnable_pairs(3)
    scores = validate(trainer.generator, pairs, 2, torch.device("cpu"), "fp32", "image_stats")
    assert trainer.generator.training, "handed back in training mode"
    alone = SketchToPhoto(trainer.generator, {"inference": "image_stats"})
    photos = [images.permute(0, 2, 3, 1).numpy() for images in (pairs.photos, alone(pairs.sketches))]
    assert scores["val_ssim"] == pytest.approx(ssim(*photos).mean(), abs=1e-6)
    assert scores["val_ssim"] != pytest.approx(
        validate(trainer.generator, pairs, 2, torch.device("cpu"), "fp32")["val_ssim"]
    )
