import numpy as np
import piq
import pytest
import torch

from sketch2face.evaluation.fsim import fsim, fsim_features, fsim_from_features

RNG = np.random.default_rng(1)
REAL = RNG.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
FAKE = np.clip(REAL.astype(int) + RNG.integers(-40, 41, REAL.shape), 0, 255).astype(np.uint8)


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def test_colour_fsim_equals_piq():
    expected = piq.fsim(_tensor(REAL), _tensor(FAKE), data_range=255, reduction="none").numpy()
    assert fsim(REAL, FAKE) == pytest.approx(expected, abs=1e-5)


def test_grey_fsim_equals_piq_without_chrominance():
    real, fake = REAL[..., :1], FAKE[..., :1]
    expected = piq.fsim(_tensor(real), _tensor(fake), data_range=255, reduction="none", chromatic=False).numpy()
    assert fsim(real, fake) == pytest.approx(expected, abs=1e-5)


def test_large_images_are_pooled_as_piq_does():
    real = RNG.integers(0, 256, (1, 512, 512, 3), dtype=np.uint8)
    fake = np.clip(real.astype(int) + 30, 0, 255).astype(np.uint8)
    expected = piq.fsim(_tensor(real), _tensor(fake), data_range=255, reduction="none").numpy()
    assert fsim(real, fake) == pytest.approx(expected, abs=1e-5)


def test_features_of_one_candidate_serve_every_reference():
    constant = fsim_features(FAKE[:1])
    shared = fsim_from_features(fsim_features(REAL), constant)
    one_by_one = [fsim(REAL[i : i + 1], FAKE[:1])[0] for i in range(len(REAL))]
    assert shared == pytest.approx(one_by_one, abs=1e-6)
    assert fsim(REAL, REAL) == pytest.approx(1.0, abs=1e-6)
