"""Where and how fast training runs: device choice, backend switches, mixed precision."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from dataclasses import dataclass

import torch

from sketch2face.config import DeviceKind, ParamsError, Precision

GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_MAX = -1, -4  # mallopt parameter numbers from glibc's malloc.h


def resolve_device(kind: DeviceKind, local_rank: int = 0) -> torch.device:
    """auto picks cuda, else mps, else cpu; an explicit device that is missing is a ValueError.

    `local_rank` is the process's GPU in a torchrun launch (one process per GPU).
    """
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if kind == "auto":
        kind = next(name for name in ("cuda", "mps", "cpu") if available[name])
    if not available[kind]:
        found = ", ".join(name for name, present in available.items() if present)
        raise ValueError(
            f"device '{kind}' is not available on this machine (available: {found}; use auto or one of them)"
        )
    if kind != "cuda":
        return torch.device(kind)
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"LOCAL_RANK {local_rank} has no CUDA device: {torch.cuda.device_count()} visible "
            "(start at most that many processes per node)"
        )
    return torch.device(kind, local_rank)


def training_device(kind: DeviceKind, local_rank: int = 0) -> torch.device:
    """resolve_device for the train stage, where a missing device is a mistake in `train.device`."""
    try:
        return resolve_device(kind, local_rank)
    except ValueError as exc:
        raise ParamsError(f"train.device: {exc}") from None


def configure_backends(device: torch.device, threads: int) -> None:
    """TF32 matmuls/convs and cuDNN autotuning on CUDA; thread count and allocator on the CPU."""
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cpu":
        keep_freed_memory_mapped()
    if device.type == "cuda":
        if device.index is not None:  # a bare "cuda" means the current GPU, which stays current
            torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def keep_freed_memory_mapped() -> bool:
    """Stops glibc from returning large freed blocks to the kernel; False where libc is not glibc.

    glibc serves every block over 32 MiB with its own mmap and unmaps it on free. A 256 px U-Net's
    1024x512x4x4 weight gradients are 33.5 MB, so each step page-faulted them in afresh (about 40k
    faults and 0.1 s of kernel time per step). Taken from the heap, and with the heap never trimmed,
    the pages stay mapped from one step to the next; the process keeps its peak size until it ends.
    """
    library = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(library), "mallopt", None) if library else None
    if mallopt is None:
        return False
    return bool(mallopt(GLIBC_M_MMAP_MAX, 0)) and bool(mallopt(GLIBC_M_TRIM_THRESHOLD, 2**31 - 1))


@dataclass(frozen=True)
class MemoryFormats:
    """The layout each network's weights and activations use on a device."""

    generator: torch.memory_format
    discriminator: torch.memory_format


def memory_formats(device: torch.device) -> MemoryFormats:
    """Channels-last (NHWC) where it measured faster; the input batches take the generator's.

    On CUDA NHWC feeds the tensor cores, so both networks use it (an H100's 256 px step: 1.05x
    the all-NCHW one in fp32, 1.09x in bf16). On the CPU it speeds up the
    PatchGAN's oneDNN convolutions (a 256 px step 1.03x in fp32, 1.05x in bf16; within noise at
    64 px; `benchmarks/memory_format.py`) but slows the U-Net, whose skip concatenations and GEMM
    levels work on NCHW. The choice does not depend on the image size.
    """
    if device.type == "cuda":
        return MemoryFormats(generator=torch.channels_last, discriminator=torch.channels_last)
    if device.type == "cpu":
        return MemoryFormats(generator=torch.contiguous_format, discriminator=torch.channels_last)
    return MemoryFormats(generator=torch.contiguous_format, discriminator=torch.contiguous_format)


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """bf16 autocast for the forward passes; fp32 runs without any context."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def adam_implementation(device: torch.device) -> dict[str, bool]:
    """One fused kernel for all parameters where PyTorch has it, else the multi-tensor path."""
    return {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
