"""LPIPS and FID, only when their network weights are already on this machine.

Both need pretrained networks (VGG16 + LPIPS heads; the FID Inception) that piq and torchvision
would download from the internet. The pipeline never downloads: a metric runs only when every
weight file it needs is already in the torch hub cache (`$TORCH_HOME/hub/checkpoints`, by
default `~/.cache/torch/hub/checkpoints`), and even then downloading is switched off while it
runs. Otherwise the metric is skipped and `eval.json` says why in `skipped_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.hub

# the file names torch.hub caches these URLs under (piq 0.8.0, torchvision 0.29)
REQUIRED_WEIGHTS = {
    "lpips": ("lpips_weights.pt", "vgg16-397923af.pth"),
    "fid": ("pt_inception-2015-12-05-6726825d.pth",),
}
BATCH = 16


class DownloadForbidden(RuntimeError):
    """Raised instead of fetching weights from the internet."""


def weights_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def missing_weights(metric: str) -> list[str]:
    return [name for name in REQUIRED_WEIGHTS[metric] if not (weights_dir() / name).is_file()]


@contextmanager
def downloads_forbidden() -> Iterator[None]:
    """Makes torch.hub's downloader (used by piq and torchvision) raise instead of fetching."""

    def refuse(url: str, *_args: object, **_kwargs: object) -> None:
        raise DownloadForbidden(f"refusing to download {url}: put the file in {weights_dir()} to enable this metric")

    original = torch.hub.download_url_to_file
    torch.hub.download_url_to_file = refuse
    try:
        yield
    finally:
        torch.hub.download_url_to_file = original


def _unit_range(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def lpips(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-image LPIPS (VGG16) of RGB uint8 batches; lower is better."""
    import piq

    with downloads_forbidden():
        metric = piq.LPIPS(reduction="none")
    scores = [
        metric(_unit_range(candidate[i : i + BATCH]), _unit_range(reference[i : i + BATCH]))
        for i in range(0, len(reference), BATCH)
    ]
    return torch.cat(scores).double().numpy()


@torch.no_grad()
def fid(reference: np.ndarray, candidate: np.ndarray) -> float:
    """FID between the two sets (biased upwards for the few hundred images of a test set)."""
    import piq
    from piq.feature_extractors import InceptionV3

    with downloads_forbidden():
        extractor = InceptionV3().eval()

    def features(images: np.ndarray) -> torch.Tensor:
        batches = [extractor(_unit_range(images[i : i + BATCH]))[0].flatten(1) for i in range(0, len(images), BATCH)]
        return torch.cat(batches).double()

    return float(piq.FID()(features(candidate), features(reference)))
