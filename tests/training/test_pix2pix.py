import pytest
import torch
import torch.nn.functional as F

from sketch2face.config import PAPER_PIX2PIX, TrainParams
from sketch2face.models.losses import feature_matching_loss, ssim_loss
from sketch2face.training.pix2pix import Pix2PixObjective

GAN_CRITERIA = {"vanilla": F.binary_cross_entropy_with_logits, "lsgan": F.mse_loss}
LAMBDA_L1 = 10.0


def _objective(**params) -> Pix2PixObjective:
    """The paper's objective, with `params` over it."""
    return Pix2PixObjective(TrainParams(**{**PAPER_PIX2PIX, "lambda_l1": LAMBDA_L1, **params}))


@pytest.fixture
def tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        name: torch.randn(shape, generator=generator)
        for name, shape in {
            "logits_real": (2, 1, 3, 3),
            "logits_fake": (2, 1, 3, 3),
            "fake": (2, 3, 16, 16),
            "target": (2, 3, 16, 16),
        }.items()
    }


@pytest.mark.parametrize("kind", ["vanilla", "lsgan"])
def test_discriminator_loss_is_half_the_real_and_fake_losses(kind, tensors):
    criterion = GAN_CRITERIA[kind]
    real, fake = tensors["logits_real"], tensors["logits_fake"]
    expected_real, expected_fake = criterion(real, torch.ones_like(real)), criterion(fake, torch.zeros_like(fake))
    loss, logs = _objective(gan_loss=kind).discriminator_loss([[real]], [[fake]])
    assert loss.item() == pytest.approx(0.5 * (expected_real + expected_fake).item(), rel=1e-6)
    assert logs["loss_D_real"].item() == pytest.approx(expected_real.item(), rel=1e-6)
    assert logs["loss_D_fake"].item() == pytest.approx(expected_fake.item(), rel=1e-6)


@pytest.mark.parametrize("kind", ["vanilla", "lsgan"])
def test_generator_loss_is_gan_loss_plus_lambda_times_l1(kind, tensors):
    logits = tensors["logits_fake"]
    expected_gan = GAN_CRITERIA[kind](logits, torch.ones_like(logits))
    expected_l1 = F.l1_loss(tensors["fake"], tensors["target"])
    loss, logs = _objective(gan_loss=kind).generator_loss([[logits]], tensors["fake"], tensors["target"])
    assert loss.item() == pytest.approx((expected_gan + LAMBDA_L1 * expected_l1).item(), rel=1e-6)
    assert logs["loss_G_GAN"].item() == pytest.approx(expected_gan.item(), rel=1e-6)
    assert logs["loss_G_L1"].item() == pytest.approx(expected_l1.item(), rel=1e-6)
    assert set(logs) == {"loss_G_GAN", "loss_G_L1"}


def test_the_adversarial_loss_is_the_mean_over_the_discriminators_scales(tensors):
    full, half = tensors["logits_fake"], tensors["logits_fake"][:, :, :2, :2] * 3
    one_scale, _ = _objective().generator_loss([[full]], tensors["fake"], tensors["target"])
    two_scales, logs = _objective().generator_loss([[full], [half]], tensors["fake"], tensors["target"])
    expected_half = F.binary_cross_entropy_with_logits(half, torch.ones_like(half))
    expected_full = F.binary_cross_entropy_with_logits(full, torch.ones_like(full))
    assert logs["loss_G_GAN"].item() == pytest.approx(((expected_full + expected_half) / 2).item(), rel=1e-6)
    assert one_scale.item() != pytest.approx(two_scales.item())


def test_feature_matching_and_ssim_terms_are_added_with_their_weights(tensors):
    fake_features = [[torch.randn(2, 4, 5, 5), torch.randn(2, 8, 3, 3), tensors["logits_fake"]]]
    real_features = [[torch.randn(2, 4, 5, 5), torch.randn(2, 8, 3, 3), tensors["logits_real"]]]
    objective = _objective(lambda_feature_matching=2.0, lambda_ssim=3.0)
    plain, _plain_logs = _objective().generator_loss(fake_features, tensors["fake"], tensors["target"])
    loss, logs = objective.generator_loss(fake_features, tensors["fake"], tensors["target"], real_features)
    matching = feature_matching_loss(fake_features, real_features)
    structure = ssim_loss(tensors["fake"], tensors["target"])
    assert logs["loss_G_FM"].item() == pytest.approx(matching.item())
    assert logs["loss_G_SSIM"].item() == pytest.approx(structure.item())
    assert loss.item() == pytest.approx((plain + 2.0 * matching + 3.0 * structure).item(), rel=1e-6)
    assert objective.loss_names == (*tuple(logs), "loss_D_real", "loss_D_fake")


def test_the_hint_free_pass_weighs_its_l1_and_ssim_by_the_share_of_the_batch_it_is(tensors):
    fake, target = tensors["fake"], tensors["target"]
    objective = _objective(lambda_ssim=3.0, hint_free_pass=True)
    expected = LAMBDA_L1 * F.l1_loss(fake, target) + 3.0 * ssim_loss(fake, target)
    assert objective.hint_free_loss(fake, target, 0.5).item() == pytest.approx(0.5 * expected.item(), rel=1e-6)
    assert "loss_G_hint_free" in objective.loss_names
    assert "loss_G_hint_free" not in _objective(hints=(), lambda_ssim=3.0).loss_names + _objective().loss_names
