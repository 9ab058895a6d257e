"""Image-quality metrics with explicit conventions.

Images are compared as RGB uint8 at model resolution with data_range 255. SSIM uses either a
Gaussian window with sigma 1.5 and population covariance (Wang et al. 2004, `gaussian`) or
scikit-image's default 7 x 7 uniform window with sample covariance (`uniform`).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sketch2face.config import SsimWindow

DATA_RANGE = 255


def psnr(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(reference, candidate, data_range=DATA_RANGE))


def ssim(reference: np.ndarray, candidate: np.ndarray, window: SsimWindow = "gaussian") -> float:
    """SSIM of two (H, W, 3) or (H, W) uint8 images; colour images average over channels."""
    options: dict = {"data_range": DATA_RANGE}
    if reference.ndim == 3:
        options["channel_axis"] = -1
    if window == "gaussian":
        options.update(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    return float(structural_similarity(reference, candidate, **options))
