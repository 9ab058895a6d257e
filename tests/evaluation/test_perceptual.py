import numpy as np
import piq
import piq.feature_extractors
import pytest
import torch
import torch.hub

from sketch2face.evaluation import perceptual
from sketch2face.evaluation.evaluator import perceptual_scores


def test_metrics_without_local_weights_are_reported_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert perceptual.missing_weights("lpips") == ["lpips_weights.pt", "vgg16-397923af.pth"]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")
    assert perceptual.missing_weights("fid") == []


def test_downloads_are_refused_while_forbidden(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    original = torch.hub.download_url_to_file
    with (
        perceptual.downloads_forbidden(),
        pytest.raises(perceptual.DownloadForbidden, match="refusing to download"),
    ):
        torch.hub.load_state_dict_from_url("https://example.invalid/weights.pt")
    assert torch.hub.download_url_to_file is original


class _MeanAbsoluteDifference(torch.nn.Module):
    """Stands in for piq's LPIPS, whose VGG16 weights are never on a test machine."""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        assert reduction == "none"

    def forward(self, candidate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        assert candidate.shape[1] == 3 and candidate.min() >= 0 and candidate.max() <= 1  # NCHW in [0, 1]
        return (candidate - reference).abs().mean(dim=(1, 2, 3))


class _MeanColour(torch.nn.Module):
    """Stands in for piq's InceptionV3 feature extractor: one feature vector per image."""

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return [images.mean(dim=(2, 3), keepdim=True)]


def test_lpips_scores_every_image_in_order_across_batches(monkeypatch):
    monkeypatch.setattr(piq, "LPIPS", _MeanAbsoluteDifference)
    count = perceptual.BATCH + 3
    reference = np.zeros((count, 4, 4, 3), dtype=np.uint8)
    candidate = np.stack([np.full((4, 4, 3), value, dtype=np.uint8) for value in range(count)])
    assert perceptual.lpips(reference, candidate) == pytest.approx(np.arange(count) / 255)


def test_fid_compares_the_feature_distributions_of_the_two_sets(monkeypatch):
    monkeypatch.setattr(piq.feature_extractors, "InceptionV3", _MeanColour)
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    assert perceptual.fid(real, real) == pytest.approx(0, abs=1e-6)
    assert perceptual.fid(real, 255 - real // 2) > 0.01


def test_perceptual_metrics_run_only_with_local_weights_and_rgb_photos(monkeypatch):
    monkeypatch.setattr(perceptual, "missing_weights", lambda metric: [] if metric == "lpips" else ["inception.pth"])
    monkeypatch.setattr(piq, "LPIPS", _MeanAbsoluteDifference)
    images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    per_image, overall, skipped = perceptual_scores(images, {"": images, "hinted_": 255 - images}, ("lpips", "fid"))
    assert list(per_image) == ["lpips", "hinted_lpips"] and overall == {}
    assert list(per_image["lpips"]) == pytest.approx([0, 0])
    assert list(per_image["hinted_lpips"]) == pytest.approx([1, 1])
    assert skipped == "fid: no local weights (inception.pth; never downloaded)"
    _, _, skipped = perceptual_scores(images[..., :1], {"": images[..., :1]}, ("lpips",))
    assert skipped == "lpips: needs RGB photos"
