import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sketch2face.data.images import as_rgb, luma
from sketch2face.evaluation.metrics import MIN_MSE, psnr, ssim, ssim_grey, tone_shift

RNG = np.random.default_rng(0)
REAL = RNG.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
FAKE = np.clip(REAL.astype(int) + RNG.integers(-30, 31, REAL.shape), 0, 255).astype(np.uint8)
GAUSSIAN = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def test_psnr_matches_scikit_image_with_data_range_255():
    expected = [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(REAL, FAKE, strict=True)]
    assert psnr(REAL, FAKE) == pytest.approx(expected)
    mse = np.mean((REAL[0].astype(float) - FAKE[0]) ** 2)
    assert psnr(REAL, FAKE)[0] == pytest.approx(10 * np.log10(255**2 / mse))


def test_ssim_conventions_match_direct_scikit_image_calls():
    gaussian = [
        structural_similarity(x, y, data_range=255, channel_axis=-1, **GAUSSIAN)
        for x, y in zip(REAL, FAKE, strict=True)
    ]
    uniform = [structural_similarity(x, y, data_range=255, channel_axis=-1) for x, y in zip(REAL, FAKE, strict=True)]
    assert ssim(REAL, FAKE, "gaussian") == pytest.approx(gaussian, abs=1e-9)
    assert ssim(REAL, FAKE, "uniform") == pytest.approx(uniform, abs=1e-9)
    assert gaussian != pytest.approx(uniform)


def test_greyscale_ssim_compares_the_bt601_luma_of_both_images():
    grey_real = np.round(REAL @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    assert np.abs(luma(REAL)[..., 0].astype(int) - grey_real).max() <= 1  # float rounding at .5 only
    for window, options in (("gaussian", GAUSSIAN), ("uniform", {})):
        pairs = zip(luma(REAL), luma(FAKE), strict=True)
        expected = [structural_similarity(x[..., 0], y[..., 0], data_range=255, **options) for x, y in pairs]
        assert ssim_grey(REAL, FAKE, window) == pytest.approx(expected, abs=1e-9)
    assert not np.allclose(ssim_grey(REAL, FAKE), ssim(REAL, FAKE))


def test_one_candidate_is_compared_with_every_reference():
    mean_photo = REAL.mean(axis=0).round().astype(np.uint8)[None]
    assert psnr(REAL, mean_photo) == pytest.approx([psnr(REAL[i : i + 1], mean_photo)[0] for i in range(3)])
    assert ssim(REAL, mean_photo)[2] == pytest.approx(ssim(REAL[2:], mean_photo)[0])


def test_identical_images_score_perfectly_and_shapes_are_checked():
    assert ssim(REAL, REAL) == pytest.approx(1.0)
    assert psnr(REAL, REAL) == pytest.approx([10 * np.log10(255**2 / MIN_MSE)] * 3)  # finite, so means stay finite
    with pytest.raises(ValueError, match="one shape"):
        psnr(REAL, FAKE[:, :16])


def test_grey_images_are_replicated_to_rgb():
    grey = luma(REAL)
    assert as_rgb(grey).shape == REAL.shape and np.array_equal(as_rgb(grey)[..., 2], grey[..., 0])
    assert as_rgb(REAL) is REAL


def test_tone_shift_is_the_signed_luma_change_of_the_face_centre():
    real = np.full((2, 32, 32, 3), 120, dtype=np.uint8)
    fake = real.copy()
    fake[0, 8:24, 8:24] += 12  # the centre half, lighter
    fake[1, 8:24, 8:24] -= 30  # darker
    fake[:, :4] = 255  # hair and background outside the centre do not count
    assert tone_shift(real, fake) == pytest.approx([12.0, -30.0])
    assert tone_shift(luma(real), luma(fake)) == pytest.approx([12.0, -30.0])  # greyscale photos too
    assert tone_shift(real, real[:1] + 5) == pytest.approx([5.0, 5.0])  # one candidate against every reference
