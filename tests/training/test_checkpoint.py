import shutil

import pytest

from sketch2face.config import TrainParams
from sketch2face.training import checkpoint
from sketch2face.training.checkpoint import RESUMABLE_ACROSS, fingerprint
from tiny_pairs import learnable_pairs

PARAMS = TrainParams(ngf=4, ndf=4, batch_size=2, seed=3)


def _fingerprint(params: TrainParams = PARAMS, image_size: int = 32, world_size: int = 1, data_seed: int = 0) -> str:
    pairs = learnable_pairs(4, seed=data_seed)  # the same data whatever image_size says
    return fingerprint(params, image_size, world_size, [pairs.sketches, pairs.photos])


def test_fingerprint_is_stable_for_the_same_run():
    assert _fingerprint() == _fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        dict(data_seed=1),
        dict(world_size=2),
        dict(image_size=64),
        dict(params=PARAMS.model_copy(update={"lr": 1e-3})),
        dict(params=PARAMS.model_copy(update={"batch_size": 4})),
        dict(params=PARAMS.model_copy(update={"seed": 4})),
    ],
    ids=["data", "world_size", "image_size", "lr", "batch_size", "seed"],
)
def test_fingerprint_changes_with_what_shapes_the_trajectory(change):
    assert _fingerprint(**change) != _fingerprint()


@pytest.mark.parametrize("update", [{"device": "cpu"}, {"threads": 2}, {"checkpoint_every_steps": 7}])
def test_fingerprint_ignores_params_a_run_may_resume_across(update):
    assert set(update) <= RESUMABLE_ACROSS
    assert _fingerprint(PARAMS.model_copy(update=update)) == _fingerprint()


def test_fingerprint_covers_the_training_code_only(tmp_path, monkeypatch):
    package = tmp_path / "sketch2face"
    shutil.copytree(checkpoint.PACKAGE_ROOT, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(checkpoint, "PACKAGE_ROOT", package)
    original = _fingerprint()
    with open(package / "evaluation" / "metrics.py", "a") as unrelated:
        unrelated.write("# not training code\n")
    assert _fingerprint() == original
    with open(package / "training" / "pix2pix.py", "a") as training_code:
        training_code.write("# changed\n")
    assert _fingerprint() != original
