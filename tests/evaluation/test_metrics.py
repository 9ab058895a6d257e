import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sketch2face.evaluation.metrics import psnr, ssim

RNG = np.random.default_rng(0)
REAL = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
FAKE = np.clip(REAL.astype(int) + RNG.integers(-30, 31, REAL.shape), 0, 255).astype(np.uint8)


def test_psnr_matches_scikit_image_with_data_range_255():
    assert psnr(REAL, FAKE) == pytest.approx(peak_signal_noise_ratio(REAL, FAKE, data_range=255))
    mse = np.mean((REAL.astype(float) - FAKE) ** 2)
    assert psnr(REAL, FAKE) == pytest.approx(10 * np.log10(255**2 / mse))


def test_ssim_conventions_match_direct_scikit_image_calls():
    gaussian = structural_similarity(
        REAL, FAKE, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    uniform = structural_similarity(REAL, FAKE, data_range=255, channel_axis=-1)
    assert ssim(REAL, FAKE, "gaussian") == pytest.approx(gaussian)
    assert ssim(REAL, FAKE, "uniform") == pytest.approx(uniform)
    assert gaussian != pytest.approx(uniform)


def test_identical_images_score_perfectly():
    assert ssim(REAL, REAL) == pytest.approx(1.0)
    assert psnr(REAL, REAL) == np.inf
