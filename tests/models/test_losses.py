import numpy as np
import pytest
import torch

from sketch2face.evaluation.metrics import ssim
from sketch2face.models.generator import to_model_range
from sketch2face.models.losses import feature_matching_loss, region_colour_loss, ssim_loss


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


def test_region_colour_loss_sees_a_shade_inside_a_region_but_not_texture_or_the_outside():
    regions = torch.zeros(2, 8, 8)
    regions[0, 4:, 2:6] = 1  # skin
    regions[1, :2, :] = 1  # hair
    real = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    outside = real.clone()
    outside[:, :, 2:4] = -real[:, :, 2:4]
    assert region_colour_loss(outside, real, regions).item() == pytest.approx(0, abs=1e-6)
    shuffled = real.clone()
    shuffled[:, :, 4:, 2:6] = real[:, :, 4:, 2:6].flip(-1).flip(-2)  # other texture, same mean
    assert region_colour_loss(shuffled, real, regions).item() == pytest.approx(0, abs=1e-6)
    darker = real.clone()
    darker[:, 0, 4:, 2:6] -= 0.3  # the red channel of the skin region: 1 of 3 channels x 2 regions
    assert region_colour_loss(darker, real, regions).item() == pytest.approx(0.3 / 6, rel=1e-5)


def test_region_colour_loss_trains_only_the_generated_side():
    fake, real = torch.zeros(1, 3, 4, 4, requires_grad=True), torch.ones(1, 3, 4, 4, requires_grad=True)
    region_colour_loss(fake, real.detach(), torch.ones(1, 4, 4)).backward()
    assert fake.grad is not None and real.grad is None
