"""Image-quality metrics with explicit conventions, computed on whole batches.

Images are (N, H, W, C) uint8 arrays (C = 1 or 3) compared at model resolution with data range
255. A candidate batch of one image (the mean-photo baseline) is compared with every reference.

- PSNR: 10 log10(255^2 / MSE) over all pixels and channels of an image (MSE at least MIN_MSE).
- SSIM: either a Gaussian window with sigma 1.5 and population covariance (Wang et al. 2004,
  `gaussian`) or scikit-image's default 7 x 7 uniform window with sample covariance
  (`uniform`); colour SSIM is the mean over channels. Greyscale SSIM compares the BT.601 luma of
  both images (MATLAB's `rgb2gray`), as most face-sketch papers do. The values equal
  `skimage.metrics.structural_similarity` (tested); OpenCV does the filtering because it is about
  ten times faster, and only the border-free interior that scikit-image averages is kept.
- FSIM / FSIMc (Zhang et al. 2011): see `sketch2face.evaluation.fsim`.
- Tone shift: the signed mean-luma difference, candidate minus reference, over the face centre.
"""

from __future__ import annotations

import cv2
import numpy as np

from sketch2face.config import SsimWindow
from sketch2face.data.images import luma

DATA_RANGE = 255
MIN_MSE = 1e-10  # identical images score about 148 dB, not inf, so means and JSON metrics stay finite
SSIM_K1, SSIM_K2 = 0.01, 0.03
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5  # scikit-image's default: an 11-tap window for sigma 1.5
UNIFORM_SIZE = 7
FACE_CENTRE = (0.25, 0.75)  # of the aligned image's side: eyes, nose, mouth and cheeks, little hair


def _paired(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """The candidate broadcast to the reference batch (a single candidate serves every reference)."""
    if reference.ndim != 4 or reference.shape[1:] != candidate.shape[1:]:
        raise ValueError(f"images must be (N, H, W, C) of one shape, got {reference.shape} and {candidate.shape}")
    return np.broadcast_to(candidate, reference.shape)


def psnr(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB; identical images get a finite ceiling (see MIN_MSE)."""
    difference = reference.astype(np.float64) - _paired(reference, candidate)
    mse = np.maximum(np.mean(difference**2, axis=(1, 2, 3)), MIN_MSE)
    return 10 * np.log10(DATA_RANGE**2 / mse)


def _ssim_window(window: SsimWindow) -> tuple[callable, int, float]:
    """The local-mean filter, the border it spoils, and the covariance normalisation."""
    if window == "gaussian":
        radius = int(GAUSSIAN_TRUNCATE * GAUSSIAN_SIGMA + 0.5)
        taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * GAUSSIAN_SIGMA**2))
        taps /= taps.sum()
        return (lambda image: cv2.sepFilter2D(image, cv2.CV_64F, taps, taps)), radius, 1.0
    points = UNIFORM_SIZE**2
    return (lambda image: cv2.blur(image, (UNIFORM_SIZE, UNIFORM_SIZE))), UNIFORM_SIZE // 2, points / (points - 1)


def _ssim_one(reference: np.ndarray, candidate: np.ndarray, window: SsimWindow) -> float:
    """Mean SSIM of one (H, W, C) pair, averaged over channels as scikit-image does."""
    local_mean, border, covariance_norm = _ssim_window(window)
    x = reference.astype(np.float64)
    y = candidate.astype(np.float64)
    mean_x, mean_y = local_mean(x), local_mean(y)
    variance_x = covariance_norm * (local_mean(x * x) - mean_x * mean_x)
    variance_y = covariance_norm * (local_mean(y * y) - mean_y * mean_y)
    covariance = covariance_norm * (local_mean(x * y) - mean_x * mean_y)
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (variance_x + variance_y + c2)
    )
    interior = ssim_map[border:-border, border:-border]
    return float(interior.reshape(-1, reference.shape[-1]).mean(axis=0).mean())


def ssim(reference: np.ndarray, candidate: np.ndarray, window: SsimWindow = "gaussian") -> np.ndarray:
    """Per-image SSIM (colour images: mean over channels)."""
    candidate = _paired(reference, candidate)
    return np.array([_ssim_one(x, y, window) for x, y in zip(reference, candidate, strict=True)])


def ssim_grey(reference: np.ndarray, candidate: np.ndarray, window: SsimWindow = "gaussian") -> np.ndarray:
    """Per-image SSIM of the two images' luma."""
    return ssim(luma(reference), luma(candidate), window)


def tone_shift(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-image mean luma of the candidate's face centre minus the reference's, in grey levels.

    A sketch carries shape but hardly any skin tone, so a generator has to guess the tone and
    tends to pull every face towards the training mean. PSNR counts that as error without saying
    so; this says in which direction and by how much (negative: rendered darker than the real face).
    """
    candidate = _paired(reference, candidate)
    low, high = (round(fraction * reference.shape[1]) for fraction in FACE_CENTRE)
    centre = (slice(None), slice(low, high), slice(low, high))
    return luma(candidate[centre]).mean(axis=(1, 2, 3)) - luma(reference[centre]).mean(axis=(1, 2, 3))
