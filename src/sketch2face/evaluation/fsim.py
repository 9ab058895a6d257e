"""FSIM / FSIMc (Zhang et al., IEEE TIP 2011), the standard metric of face sketch synthesis.

The numbers are piq's (`piq.fsim`, a port of the authors' MATLAB code that differs from it by up to
about 1e-3 per image; a test checks the equality with piq). piq recomputes everything for every
pair; here the per-image features (phase congruency, gradient magnitude, chrominance) are computed
once per image and the pairwise score combines them, so a real photo's features serve the model and
both baselines, and the mean photo's are computed once. The phase congruency reuses piq's filter
bank and spends its time only on what depends on the image; the filter-only noise terms are
computed once per size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from piq.fsim import _construct_filters
from piq.functional import gradient_map, rgb2yiq, scharr_filter, similarity_map

SCALES, ORIENTATIONS = 4, 4  # piq's (and the authors') defaults
NOISE_K = 2.0  # standard deviations of noise energy above its mean that count as noise
PC_NOISE_RESCALE = 1.7  # empirical correction of the noise estimate for this PC measure
T1_PHASE, T2_GRADIENT, T3_I, T4_Q = 0.85, 160.0, 200.0, 200.0
CHROMA_EXPONENT = 0.03
POOL_REFERENCE_SIZE = 256  # larger images are average-pooled to about this size first
EPS = torch.finfo(torch.float32).eps


@dataclass(frozen=True)
class FsimFeatures:
    """What FSIM needs of one batch of images, (N, 1, H, W) each; chrominance only for RGB."""

    phase_congruency: torch.Tensor
    gradient: torch.Tensor
    chroma_i: torch.Tensor | None
    chroma_q: torch.Tensor | None


@dataclass(frozen=True)
class _FilterBank:
    filters: torch.Tensor  # (ORIENTATIONS, SCALES, H, W), frequency domain
    filter_energy: torch.Tensor  # (ORIENTATIONS, 1, 1): squared smallest-scale filter, summed
    noise_sum_an2: torch.Tensor  # (ORIENTATIONS, 1, 1)
    noise_sum_ai_aj: torch.Tensor  # (ORIENTATIONS, 1, 1)


@lru_cache(maxsize=4)
def _filter_bank(height: int, width: int) -> _FilterBank:
    """piq's log-Gabor bank and the noise terms that depend on it alone."""
    filters = _construct_filters(torch.zeros(1, 1, height, width), SCALES, ORIENTATIONS)[0]
    filters = filters.view(ORIENTATIONS, SCALES, height, width)
    spatial = torch.fft.ifft2(filters).real * math.sqrt(height * width)
    pairwise = sum((spatial[:, s : s + 1] * spatial[:, s + 1 :]).sum(dim=1) for s in range(SCALES - 1))
    return _FilterBank(
        filters=filters,
        filter_energy=(filters[:, 0] ** 2).sum(dim=(-2, -1)).view(ORIENTATIONS, 1, 1),
        noise_sum_an2=(spatial**2).sum(dim=(1, 2, 3)).view(ORIENTATIONS, 1, 1),
        noise_sum_ai_aj=pairwise.sum(dim=(-2, -1)).view(ORIENTATIONS, 1, 1),
    )


def _phase_congruency_one(image_fft: torch.Tensor, bank: _FilterBank) -> torch.Tensor:
    """Phase congruency (H, W) of one image given its spectrum, as piq's `_phase_congruency`."""
    responses = torch.fft.ifft2(image_fft * bank.filters)  # (O, S, H, W): even + i odd
    # separate contiguous planes: the elementwise work below runs about twice as fast on them
    even, odd = torch.view_as_real(responses).permute(4, 0, 1, 2, 3).contiguous()
    amplitude = torch.hypot(even, odd)
    total_even, total_odd = even.sum(dim=1), odd.sum(dim=1)
    total_amplitude = torch.hypot(total_even, total_odd) + EPS
    mean_even, mean_odd = total_even / total_amplitude, total_odd / total_amplitude
    # sum over scales of (even * mean_even + odd * mean_odd) needs only the sums over scales
    deviation = (even * mean_odd.unsqueeze(1) - odd * mean_even.unsqueeze(1)).abs_().sum(dim=1)
    energy = total_even * mean_even + total_odd * mean_odd - deviation  # (O, H, W)

    # lower median of the squared smallest-scale amplitude = square of the amplitude's lower median
    smallest_scale = amplitude[:, 0].flatten(1).numpy()
    middle = (smallest_scale.shape[1] - 1) // 2
    median_amplitude = np.partition(smallest_scale, middle, axis=1)[:, middle]
    median_power = torch.from_numpy(median_amplitude**2).view(ORIENTATIONS, 1, 1)
    noise_power = -median_power / math.log(0.5) / bank.filter_energy
    noise_energy2 = 2 * noise_power * bank.noise_sum_an2 + 4 * noise_power * bank.noise_sum_ai_aj
    tau = torch.sqrt(noise_energy2 / 2)
    threshold = (tau * math.sqrt(math.pi / 2) + NOISE_K * torch.sqrt((2 - math.pi / 2) * tau**2)) / PC_NOISE_RESCALE

    energy = torch.clamp_min(energy - threshold, 0.0)
    return (energy.sum(dim=0) + EPS) / (amplitude.sum(dim=(0, 1)) + EPS)


@torch.no_grad()
def fsim_features(images: np.ndarray) -> FsimFeatures:
    """Features of (N, H, W, C) uint8 images; colour images also keep their I and Q channels."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    pool = max(1, round(min(pixels.shape[-2:]) / POOL_REFERENCE_SIZE))
    if pool > 1:
        pixels = torch.nn.functional.avg_pool2d(pixels, pool)
    if pixels.shape[1] == 3:
        yiq = rgb2yiq(pixels)
        luminance, chroma_i, chroma_q = yiq[:, :1], yiq[:, 1:2], yiq[:, 2:]
    else:
        luminance, chroma_i, chroma_q = pixels, None, None
    bank = _filter_bank(*luminance.shape[-2:])
    spectra = torch.fft.fft2(luminance[:, 0])
    congruency = torch.stack([_phase_congruency_one(spectrum, bank) for spectrum in spectra]).unsqueeze(1)
    kernel = scharr_filter()
    gradient = gradient_map(luminance, torch.stack([kernel, kernel.transpose(-1, -2)]))
    return FsimFeatures(congruency, gradient, chroma_i, chroma_q)


@torch.no_grad()
def fsim_from_features(reference: FsimFeatures, candidate: FsimFeatures) -> np.ndarray:
    """Per-image FSIM (FSIMc when both are colour); a one-image candidate serves every reference."""
    pc_max = torch.maximum(reference.phase_congruency, candidate.phase_congruency)
    score = (
        similarity_map(reference.phase_congruency, candidate.phase_congruency, T1_PHASE)
        * similarity_map(reference.gradient, candidate.gradient, T2_GRADIENT)
        * pc_max
    )
    if reference.chroma_i is not None and candidate.chroma_i is not None:
        chroma = similarity_map(reference.chroma_i, candidate.chroma_i, T3_I) * similarity_map(
            reference.chroma_q, candidate.chroma_q, T4_Q
        )
        score = score * chroma.abs() ** CHROMA_EXPONENT
    return (score.sum(dim=(1, 2, 3)) / pc_max.sum(dim=(1, 2, 3))).double().numpy()


def fsim(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-image FSIM of two (N, H, W, C) uint8 batches."""
    return fsim_from_features(fsim_features(reference), fsim_features(candidate))
