import pytest
import torch.hub

from sketch2face.evaluation import perceptual


def test_metrics_without_local_weights_are_reported_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert perceptual.missing_weights("lpips") == ["lpips_weights.pt", "vgg16-397923af.pth"]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")
    assert perceptual.missing_weights("fid") == []


def test_downloads_are_refused_while_forbidden(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    original = torch.hub.download_url_to_file
    with perceptual.downloads_forbidden():
        with pytest.raises(perceptual.DownloadForbidden, match="refusing to download"):
            torch.hub.load_state_dict_from_url("https://example.invalid/weights.pt")
    assert torch.hub.download_url_to_file is original
