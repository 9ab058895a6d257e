import numpy as np
import pytest
import torch

from sketch2face.evaluation.metrics import ssim
from sketch2face.models.generator import to_model_range
from sketch2face.models.losses import feature_matching_loss, ssim_loss


def test_feature_matching_is_zero_for_identical_features_and_skips_the_logits():
    features = [[torch.randn(2, 4, 6, 6), torch.randn(2, 8, 3, 3), torch.randn(2, 1, 2, 2)] for _ in range(2)]
    assert feature_matching_loss(features, features).item() == 0
    other_logits = [[*scale[:-1], scale[-1] + 1] for scale in features]
    assert feature_matching_loss(features, other_logits).item() == 0, "the logits are not features"
    shifted = [[block + 0.5 for block in scale] for scale in features]
    assert feature_matching_loss(shifted, features).item() == pytest.approx(0.5)


def test_feature_matching_trains_only_the_generated_side():
    fake = [[torch.randn(1, 2, 3, 3, requires_grad=True), torch.zeros(1, 1, 1, 1)]]
    real = [[torch.randn(1, 2, 3, 3, requires_grad=True), torch.zeros(1, 1, 1, 1)]]
    feature_matching_loss(fake, real).backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None


def test_ssim_loss_is_one_minus_the_evaluations_ssim():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    noisy = np.clip(real.astype(int) + rng.integers(-40, 41, real.shape), 0, 255).astype(np.uint8)
    as_model_input = [to_model_range(torch.from_numpy(images).permute(0, 3, 1, 2)) for images in (noisy, real)]
    expected = 1 - ssim(real, noisy, "gaussian").mean()
    assert ssim_loss(*as_model_input).item() == pytest.approx(expected, abs=1e-4)
    assert ssim_loss(as_model_input[1], as_model_input[1]).item() == pytest.approx(0, abs=1e-6)
