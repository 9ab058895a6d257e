import pytest
import torch
import torch.nn.functional as F

from sketch2face.training.pix2pix import Pix2PixObjective

GAN_CRITERIA = {"vanilla": F.binary_cross_entropy_with_logits, "lsgan": F.mse_loss}
LAMBDA_L1 = 10.0


@pytest.fixture
def tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        name: torch.randn(shape, generator=generator)
        for name, shape in {
            "logits_real": (2, 1, 3, 3),
            "logits_fake": (2, 1, 3, 3),
            "fake": (2, 3, 8, 8),
            "target": (2, 3, 8, 8),
        }.items()
    }


@pytest.mark.parametrize("kind", ["vanilla", "lsgan"])
def test_discriminator_loss_is_half_the_real_and_fake_losses(kind, tensors):
    criterion = GAN_CRITERIA[kind]
    real, fake = tensors["logits_real"], tensors["logits_fake"]
    expected_real, expected_fake = criterion(real, torch.ones_like(real)), criterion(fake, torch.zeros_like(fake))
    loss, logs = Pix2PixObjective(kind, LAMBDA_L1).discriminator_loss(real, fake)
    assert loss.item() == pytest.approx(0.5 * (expected_real + expected_fake).item(), rel=1e-6)
    assert logs["loss_D_real"].item() == pytest.approx(expected_real.item(), rel=1e-6)
    assert logs["loss_D_fake"].item() == pytest.approx(expected_fake.item(), rel=1e-6)


@pytest.mark.parametrize("kind", ["vanilla", "lsgan"])
def test_generator_loss_is_gan_loss_plus_lambda_times_l1(kind, tensors):
    logits = tensors["logits_fake"]
    expected_gan = GAN_CRITERIA[kind](logits, torch.ones_like(logits))
    expected_l1 = F.l1_loss(tensors["fake"], tensors["target"])
    loss, logs = Pix2PixObjective(kind, LAMBDA_L1).generator_loss(logits, tensors["fake"], tensors["target"])
    assert loss.item() == pytest.approx((expected_gan + LAMBDA_L1 * expected_l1).item(), rel=1e-6)
    assert logs["loss_G_GAN"].item() == pytest.approx(expected_gan.item(), rel=1e-6)
    assert logs["loss_G_L1"].item() == pytest.approx(expected_l1.item(), rel=1e-6)
