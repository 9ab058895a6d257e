"""Two CPU processes with gloo, as `torchrun --nproc_per_node=2` starts them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from tiny_pairs import OnStep, learnable_pairs

from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs
from sketch2face.training import distributed
from sketch2face.training.checkpoint import load_checkpoint
from sketch2face.training.distributed import ProcessGroup, shard
from sketch2face.training.loop import fit
from sketch2face.training.step import Pix2PixTrainer

WORLD_SIZE = 2
PARAMS = TrainParams(ngf=4, ndf=4, batch_size=2, seed=5, epochs_constant=2, epochs_decay=0, norm="batch")


def test_shards_cover_every_batch_once_padding_the_last_round():
    shards = [list(shard(iter(range(5)), 5, ProcessGroup(rank, rank, 2))) for rank in range(2)]
    assert shards == [[0, 2, 4], [1, 3, 0]]
    assert list(shard(iter(range(5)), 5, distributed.SINGLE_PROCESS)) == [0, 1, 2, 3, 4]


def test_fewer_batches_than_ranks_still_give_every_rank_a_step():
    shards = [list(shard(iter(range(3)), 3, ProcessGroup(rank, rank, 8))) for rank in range(8)]
    assert shards == [[0], [1], [2], [0], [1], [2], [0], [1]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _join_gloo_group(rank: int, port: int) -> ProcessGroup:
    """What torchrun sets up for one CPU process of the WORLD_SIZE."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    return distributed.group_from_environment()


def _worker(rank: int, port: int, root: Path, params: TrainParams) -> None:
    group = _join_gloo_group(rank, port)
    device = torch.device("cpu")
    with distributed.process_group(group, device):
        trainer = Pix2PixTrainer(params, image_size=32, device=device, group=group)
        pairs = learnable_pairs(6)
        steps = []
        fit(
            trainer,
            JitteredPairs(pairs, 1.125, True),
            pairs,
            root / "checkpoint.pt",
            "f",
            OnStep(lambda step, logs: steps.append(step)),
        )
        torch.save(
            {
                "generator": trainer.generator.state_dict(),
                "discriminator": trainer.discriminator.state_dict(),
                "steps": steps,
            },
            root / f"rank{rank}.pt",
        )


@pytest.mark.parametrize("hint_free_pass", [False, True], ids=["one-pass", "hint-free-pass"])
def test_two_gloo_ranks_end_with_identical_weights(tmp_path, hint_free_pass):
    params = PARAMS.model_copy(update={"hint_free_pass": hint_free_pass})
    mp.spawn(_worker, args=(_free_port(), tmp_path, params), nprocs=WORLD_SIZE, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD_SIZE)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == [1, 2, 3, 4], "6 pairs, batch 2, 2 ranks: 2 steps per epoch"
    for network in ("generator", "discriminator"):
        for key, value in ranks[0][network].items():
            assert torch.equal(value, ranks[1][network][key]), f"{network}.{key} differs between ranks"
    initial = Pix2PixTrainer(params, image_size=32).generator.state_dict()
    assert not all(torch.equal(initial[key], ranks[0]["generator"][key]) for key in initial), "no training happened"
    assert (tmp_path / "checkpoint.pt").exists()


RESUME_PARAMS = PARAMS.model_copy(update={"dropout": True, "checkpoint_every_steps": 1})
RESUME_SIZE = 64  # the smallest U-Net with a dropout level


class Crash(Exception):
    """A crash of both ranks after a step, like a kill: the last periodic checkpoint remains."""


def _resume_worker(rank: int, port: int, root: Path) -> None:
    """An uninterrupted run, then one that crashes at step 3 and is resumed by new trainers."""
    group = _join_gloo_group(rank, port)
    device = torch.device("cpu")
    pairs = learnable_pairs(5, size=RESUME_SIZE)

    def diverge(step: int, logs: dict) -> None:
        """Rank-dependent draws, as CUDA dropout makes (its offsets grow with the batch; the CPU's do not)."""
        for _ in range(rank):
            torch.rand(1)

    def crash(step: int, logs: dict) -> None:
        diverge(step, logs)
        if step == 3:
            raise Crash

    def run(name: str, on_step=diverge) -> Pix2PixTrainer:
        trainer = Pix2PixTrainer(RESUME_PARAMS, image_size=RESUME_SIZE, device=device, group=group)
        fit(trainer, JitteredPairs(pairs, 1.125, True), None, root / name / "checkpoint.pt", "f", OnStep(on_step))
        return trainer

    with distributed.process_group(group, device):
        reference = run("reference")
        with pytest.raises(Crash):
            run("crashed", crash)
        if group.is_main:
            crashed = load_checkpoint(root / "crashed/checkpoint.pt")
            torch.save({"rng": crashed["rng"], "step": crashed["loop"]["global_step"]}, root / "rng.pt")
        distributed.any_rank(False, group)  # rank 1 waits for the copy before the resume overwrites it
        resumed = run("crashed")
        torch.save(
            {"reference": reference.generator.state_dict(), "resumed": resumed.generator.state_dict()},
            root / f"resume{rank}.pt",
        )


def test_each_gloo_rank_resumes_its_own_dropout_generator(tmp_path):
    mp.spawn(_resume_worker, args=(_free_port(), tmp_path), nprocs=WORLD_SIZE, join=True)
    checkpointed = torch.load(tmp_path / "rng.pt", weights_only=False)
    assert checkpointed["step"] == 2, "precondition: the run crashed mid-way (in step 3, after the step-2 checkpoint)"
    saved = checkpointed["rng"]
    assert len(saved) == WORLD_SIZE and [states["device_type"] for states in saved] == ["cpu", "cpu"]
    assert not torch.equal(saved[0]["torch"], saved[1]["torch"]), "precondition: the ranks' generators differ"
    for rank in range(WORLD_SIZE):
        weights = torch.load(tmp_path / f"resume{rank}.pt", weights_only=True)
        for key, value in weights["reference"].items():
            assert torch.equal(value, weights["resumed"][key]), f"rank {rank}: generator.{key} differs after resuming"
