import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import python_path

from sketch2face.config import ParamsError
from sketch2face.training.device import configure_backends, memory_formats, resolve_device, training_device

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"


def test_auto_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda' is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)


def test_a_missing_training_device_is_a_params_error_naming_the_key(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(
        ParamsError, match=r"^train.device: device 'cuda' is not available on this machine \(available: cpu;"
    ):
        training_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert training_device("cuda", local_rank=1) == torch.device("cuda", 1)
    with pytest.raises(ParamsError, match=r"^train.device: LOCAL_RANK 2 has no CUDA device: 2 visible"):
        training_device("cuda", local_rank=2)
    assert training_device("cpu", local_rank=2) == torch.device("cpu"), "CPU ranks share the one CPU"


@pytest.mark.parametrize(
    ("device", "generator", "discriminator"),
    [
        ("cuda", torch.channels_last, torch.channels_last),
        ("cpu", torch.contiguous_format, torch.channels_last),
        ("mps", torch.contiguous_format, torch.contiguous_format),
    ],
)
def test_memory_formats_per_device(device, generator, discriminator):
    formats = memory_formats(torch.device(device))
    assert (formats.generator, formats.discriminator) == (generator, discriminator)


LARGE_BLOCK_IN_THE_HEAP = """
import ctypes, torch
from sketch2face.training.device import keep_freed_memory_mapped

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Mallinfo2

def large_block():
    \"\"\"Bytes mmapped for a 40 MB block (above glibc's largest mmap threshold), heap bytes trimmed on its free.\"\"\"
    before = mallinfo2()
    block = torch.ones(10_000_000)
    held = mallinfo2()
    del block
    return held.hblkhd - before.hblkhd, held.arena - mallinfo2().arena

default_mmapped, _ = large_block()
applied = keep_freed_memory_mapped()
kept_mmapped, trimmed = large_block()
print(applied, default_mmapped, kept_mmapped, trimmed)
"""


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or tuple(map(int, platform.libc_ver()[1].split("."))) < (2, 33),
    reason="mallopt parameters and mallinfo2 are glibc's (2.33+)",
)
def test_large_blocks_come_from_the_heap_and_stay_there_once_freed():
    result = subprocess.run(
        [sys.executable, "-c", LARGE_BLOCK_IN_THE_HEAP],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": python_path(SOURCE_ROOT)},
    )
    applied, default_mmapped, kept_mmapped, trimmed = result.stdout.split()
    assert applied == "True", "keep_freed_memory_mapped reports success on glibc"
    assert int(default_mmapped) >= 40_000_000, "by default glibc serves the block with its own mmap"
    assert int(kept_mmapped) == 0, "then from the heap"
    assert int(trimmed) == 0, "which keeps its pages once the block is freed"


def test_configure_backends_keeps_freed_memory_mapped_on_the_cpu_only(monkeypatch):
    calls = []
    monkeypatch.setattr("sketch2face.training.device.keep_freed_memory_mapped", lambda: calls.append("mallopt"))
    configure_backends(torch.device("mps"), threads=0)
    assert calls == []
    configure_backends(torch.device("cpu"), threads=0)
    assert calls == ["mallopt"]


def test_configure_backends_selects_an_indexed_gpu_and_keeps_the_current_one_for_bare_cuda(monkeypatch):
    """A bare torch.device("cuda") has no index for torch.cuda.set_device, which would refuse it."""
    selected = []
    monkeypatch.setattr(torch.cuda, "set_device", selected.append)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark
    try:
        configure_backends(torch.device("cuda"), threads=0)
        assert selected == []
        configure_backends(torch.device("cuda", 1), threads=0)
        assert selected == [torch.device("cuda", 1)]
        assert (
            torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 and torch.backends.cudnn.benchmark
        )
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved
