"""Data-parallel training across processes started by `torchrun` (one per GPU, or per CPU slot).

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them training is one plain process.
Every rank walks the same seeded sequence of in-memory batches and keeps every WORLD_SIZE-th one
(what DistributedSampler does for a Dataset), padding the last round by wrapping around so that
all ranks take the same number of steps. Gradients are averaged by DistributedDataParallel.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

Batch = TypeVar("Batch")
Value = TypeVar("Value")


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, draws the progress bar and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE_PROCESS = ProcessGroup()


def group_from_environment() -> ProcessGroup:
    """The process's place in a torchrun launch, or SINGLE_PROCESS outside one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return SINGLE_PROCESS
    return ProcessGroup(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), world_size)


@contextmanager
def process_group(group: ProcessGroup, device: torch.device) -> Iterator[ProcessGroup]:
    """Joins the collective (nccl on CUDA, gloo elsewhere) for the duration of training."""
    if not group.distributed:
        yield group
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before NCCL starts, so that each rank talks from its own GPU
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield group
    finally:
        dist.destroy_process_group()


def steps_per_epoch(batches_per_epoch: int, group: ProcessGroup) -> int:
    return -(-batches_per_epoch // group.world_size)


def shard(batches: Iterable[Batch], batches_per_epoch: int, group: ProcessGroup) -> Iterator[Batch]:
    """This rank's share of one epoch: batches rank, rank + W, ..., wrapping to fill the last round."""
    head: list[Batch] = []
    padded_length = steps_per_epoch(batches_per_epoch, group) * group.world_size
    for index, batch in enumerate(batches):
        if index < group.world_size:
            head.append(batch)
        if index % group.world_size == group.rank:
            yield batch
    for index in range(batches_per_epoch, padded_length):
        if index % group.world_size == group.rank:
            yield head[(index - batches_per_epoch) % len(head)]  # fewer batches than ranks: round again


def norm_group_size(device: torch.device, group: ProcessGroup) -> int:
    """How many processes' batches one batch norm normalises together (see `synchronise_norms`)."""
    return group.world_size if group.distributed and device.type == "cuda" else 1


def synchronise_norms(module: nn.Module, device: torch.device, group: ProcessGroup) -> nn.Module:
    """BatchNorm statistics over the global batch: SyncBatchNorm where PyTorch supports it (CUDA).

    On the CPU (gloo) PyTorch has no SyncBatchNorm: each rank normalises its own batch, and
    DDP broadcasts rank 0's running statistics every step, so all ranks still hold equal models.
    """
    if norm_group_size(device, group) > 1:
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def data_parallel(module: nn.Module, device: torch.device, group: ProcessGroup) -> nn.Module:
    """DDP around `module` in a multi-process run; the module itself otherwise."""
    if not group.distributed:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def share_buffers(module: nn.Module, group: ProcessGroup) -> None:
    """Rank 0's norm statistics on every rank, as DDP's next forward would make them.

    Called before validating or saving, so that the saved model is the one every rank holds.
    """
    if group.distributed:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def any_rank(flag: bool, group: ProcessGroup) -> bool:
    """True on every rank when it is true on one (a stop request must stop all ranks together)."""
    if not group.distributed:
        return flag
    value = torch.tensor([int(flag)])
    if dist.get_backend() == "nccl":
        value = value.cuda()
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather_to_main(value: Value, group: ProcessGroup) -> list[Value] | None:
    """Every rank's (picklable) value in rank order on rank 0, None on the others; all ranks must call it."""
    if not group.distributed:
        return [value]
    gathered = [None] * group.world_size if group.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def broadcast_int(value: int, group: ProcessGroup) -> int:
    """Rank 0's value on every rank."""
    if not group.distributed:
        return value
    tensor = torch.tensor([value])
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.broadcast(tensor, src=0)
    return int(tensor.item())
