import random
import shutil

import numpy as np
import pytest
import torch
from tiny_pairs import learnable_pairs

from sketch2face.config import TrainParams
from sketch2face.training import checkpoint
from sketch2face.training.checkpoint import (
    RESUMABLE_ACROSS,
    UnusableCheckpoint,
    fingerprint,
    load_checkpoint,
    restore_rng_states,
    rng_states,
)
from sketch2face.training.distributed import ProcessGroup

PARAMS = TrainParams(ngf=4, ndf=4, batch_size=2, seed=3)


def _fingerprint(params: TrainParams = PARAMS, image_size: int = 32, world_size: int = 1, data_seed: int = 0) -> str:
    pairs = learnable_pairs(4, seed=data_seed)  # the same data whatever image_size says
    return fingerprint(params, image_size, world_size, [pairs.sketches, pairs.photos])


def test_fingerprint_is_stable_for_the_same_run():
    assert _fingerprint() == _fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"data_seed": 1},
        {"world_size": 2},
        {"image_size": 64},
        {"params": PARAMS.model_copy(update={"lr": 1e-3})},
        {"params": PARAMS.model_copy(update={"batch_size": 4})},
        {"params": PARAMS.model_copy(update={"seed": 4})},
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


# ---- random states: each process's own, of its training device only ----------------------------


def _draw() -> tuple:
    return torch.rand(3), np.random.rand(), random.random()


def _assert_same_draws(first: tuple, second: tuple) -> None:
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


def test_cpu_states_of_a_single_process_restore_its_draws():
    torch.manual_seed(1)
    saved = rng_states(torch.device("cpu"))
    assert len(saved) == 1 and saved[0]["device_type"] == "cpu" and saved[0]["device"] is None
    expected = _draw()
    _draw()
    restore_rng_states(saved, torch.device("cpu"))
    _assert_same_draws(_draw(), expected)


class FakeGenerator:
    """Stands in for a GPU's generator: records which device's state is read and written."""

    def __init__(self, state: torch.Tensor) -> None:
        self.state, self.calls = state, []

    def get(self, *device) -> torch.Tensor:
        self.calls.append(("get", *device))
        return self.state

    def set(self, state, *device) -> None:
        self.calls.append(("set", state, *device))


@pytest.mark.parametrize("device", [torch.device("cuda", 1), torch.device("mps")])
def test_only_the_training_devices_generator_is_saved_and_restored(monkeypatch, device):
    fake = FakeGenerator(torch.tensor([7], dtype=torch.uint8))
    module = torch.cuda if device.type == "cuda" else torch.mps
    monkeypatch.setattr(module, "get_rng_state", fake.get)
    monkeypatch.setattr(module, "set_rng_state", fake.set)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: pytest.fail("every visible GPU's state was read"))
    saved = rng_states(device)
    assert saved[0]["device_type"] == device.type and saved[0]["device"] is fake.state
    restore_rng_states(saved, device)
    address = (device,) if device.type == "cuda" else ()
    assert fake.calls == [("get", *address), ("set", fake.state, *address)]


def test_each_rank_takes_its_own_states():
    saved = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        saved += rng_states(torch.device("cpu"))
    expected = torch.rand(3)
    restore_rng_states(saved, torch.device("cpu"), ProcessGroup(rank=1, local_rank=1, world_size=2))
    assert torch.equal(torch.rand(3), expected), "rank 1 resumes rank 1's generator"


def test_a_checkpoint_from_another_device_keeps_the_cpu_states_and_warns():
    torch.manual_seed(1)
    saved = [
        {**rng_states(torch.device("cpu"))[0], "device_type": "cuda", "device": torch.zeros(16, dtype=torch.uint8)}
    ]
    expected = _draw()
    with pytest.warns(UserWarning, match="written on cuda, this run trains on cpu"):
        restore_rng_states(saved, torch.device("cpu"))
    _assert_same_draws(_draw(), expected)


# ---- files that are not a checkpoint of this project -------------------------------------------


def _truncated(path):
    torch.save({"fingerprint": "f", "weights": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (lambda path: path.write_bytes(b"not a checkpoint at all"), "cannot be read"),
        (_truncated, "cannot be read"),
        (lambda path: torch.save([1, 2], path), r"is not a training checkpoint \(it holds a list\)"),
        (lambda path: torch.save({"weights": 1}, path), "is not a training checkpoint .*without a fingerprint"),
    ],
    ids=["garbage", "truncated", "list", "foreign-dict"],
)
def test_unusable_checkpoints_say_what_is_wrong(tmp_path, write, problem):
    path = tmp_path / "checkpoint.pt"
    write(path)
    with pytest.raises(UnusableCheckpoint, match=problem):
        load_checkpoint(path)
