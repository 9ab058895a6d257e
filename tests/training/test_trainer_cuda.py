"""The trainer on a CUDA GPU: skipped where there is none (CI has none); run them on a GPU machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from tiny_pairs import OnStep, learnable_pairs

from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs
from sketch2face.training.checkpoint import load_checkpoint
from sketch2face.training.loop import fit
from sketch2face.training.step import Pix2PixTrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SIZE = 64  # the smallest U-Net with a dropout level
PARAMS = TrainParams(
    ngf=4, ndf=4, batch_size=2, seed=3, dropout=True, epochs_constant=2, epochs_decay=1, checkpoint_every_steps=1
)
CRASH_STEP = 4  # mid-epoch 2: 5 pairs in batches of 2 make 3 steps per epoch


class Crash(Exception):
    """Like a kill -9 after a step: only the last periodic checkpoint remains."""


def _crash(step: int, logs: dict) -> None:
    if step == CRASH_STEP:
        raise Crash


def _fit(root: Path, device: torch.device, on_step=lambda step, logs: None) -> Pix2PixTrainer:
    trainer = Pix2PixTrainer(PARAMS, image_size=SIZE, device=device)
    pairs = learnable_pairs(5, size=SIZE)
    fit(trainer, JitteredPairs(pairs, 1.125, True), pairs, root / "checkpoint.pt", "f", OnStep(on_step))
    return trainer


def _weights(trainer: Pix2PixTrainer) -> dict[str, torch.Tensor]:
    return {
        f"{network}.{key}": value.detach().cpu()
        for network in ("generator", "discriminator")
        for key, value in getattr(trainer, network).state_dict().items()
    }


def test_a_bf16_step_trains_fp32_channels_last_weights_with_fused_adam():
    trainer = Pix2PixTrainer(
        PARAMS.model_copy(update={"precision": "bf16"}), image_size=SIZE, device=torch.device("cuda")
    )
    convolution_weights = [
        p for network in (trainer.generator, trainer.discriminator) for p in network.parameters() if p.dim() == 4
    ]
    assert all(p.is_cuda and p.is_contiguous(memory_format=torch.channels_last) for p in convolution_weights)
    assert trainer.optimizer_g.param_groups[0]["fused"] and trainer.optimizer_d.param_groups[0]["fused"]
    before = _weights(trainer)
    batch = next(trainer.epoch_batches(JitteredPairs(learnable_pairs(2, size=SIZE), 1.125, True), epoch=0))
    assert all(tensor.is_cuda for tensor in batch)
    logs = trainer.train_step(*batch)
    assert all(torch.isfinite(torch.tensor(value)) for value in logs.values()), logs
    after = _weights(trainer)
    assert all(value.dtype != torch.bfloat16 for value in after.values()), "autocast keeps the fp32 master weights"
    changed = [key for key in before if not torch.equal(before[key], after[key])]
    assert any(key.startswith("generator.") for key in changed) and any(
        key.startswith("discriminator.") for key in changed
    )


def _deterministic_resume(process: int, root: Path) -> None:
    """In a fresh process: cuBLAS reads its workspace setting when it starts, and determinism is global."""
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    torch.use_deterministic_algorithms(True)
    cuda = torch.device("cuda")
    reference = _fit(root / "reference", cuda)
    with pytest.raises(Crash):
        _fit(root / "crashed", cuda, _crash)
    step = load_checkpoint(root / "crashed/checkpoint.pt")["loop"]["global_step"]
    seen = []
    resumed = _fit(root / "crashed", cuda, lambda step, logs: seen.append(step))
    torch.save(
        {
            "checkpoint_step": step,
            "first_resumed_step": seen[0],
            "reference": _weights(reference),
            "resumed": _weights(resumed),
        },
        root / "result.pt",
    )


def test_a_killed_cuda_run_resumes_like_an_uninterrupted_one(tmp_path):
    """With cuDNN's deterministic algorithms, CUDA resumes bit for bit too: the dropout generator carries over."""
    mp.spawn(_deterministic_resume, args=(tmp_path,), nprocs=1, join=True)
    result = torch.load(tmp_path / "result.pt", weights_only=True)
    assert (result["checkpoint_step"], result["first_resumed_step"]) == (CRASH_STEP - 1, CRASH_STEP)
    for key, value in result["reference"].items():
        assert torch.equal(value, result["resumed"][key]), f"{key} differs after resuming"


def test_a_cuda_checkpoint_resumes_on_the_cpu_with_a_warning(tmp_path):
    with pytest.raises(Crash):
        _fit(tmp_path, torch.device("cuda"), _crash)
    seen = []
    with pytest.warns(UserWarning, match="written on cuda, this run trains on cpu"):
        resumed = _fit(tmp_path, torch.device("cpu"), lambda step, logs: seen.append(step))
    assert seen == list(range(CRASH_STEP, 10)), "3 epochs of 3 steps, from the step after the checkpoint"
    for optimizer in (resumed.optimizer_g, resumed.optimizer_d):
        for parameter, moments in optimizer.state.items():
            assert moments["exp_avg"].device.type == "cpu"
            assert moments["exp_avg"].stride() == parameter.stride(), "moments re-laid out like their CPU parameters"
    assert all(torch.isfinite(value).all() for value in _weights(resumed).values() if value.is_floating_point())
