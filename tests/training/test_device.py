import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sketch2face.training.device import memory_formats, resolve_device

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
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)


@pytest.mark.parametrize(
    "device, generator, discriminator",
    [
        ("cuda", torch.channels_last, torch.channels_last),
        ("cpu", torch.contiguous_format, torch.channels_last),
        ("mps", torch.contiguous_format, torch.contiguous_format),
    ],
)
def test_memory_formats_per_device(device, generator, discriminator):
    formats = memory_formats(torch.device(device))
    assert (formats.generator, formats.discriminator) == (generator, discriminator)


FAULTS_OF_LARGE_BLOCKS = """
import resource, torch
from sketch2face.training.device import keep_freed_memory_mapped

def page_faults_of_large_blocks():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        torch.ones(10_000_000)  # 40 MB: above glibc's largest mmap threshold, written, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = page_faults_of_large_blocks()
assert keep_freed_memory_mapped()
# The heap grows to fit in the first rounds; how many it takes varies with where small blocks land.
kept = min(page_faults_of_large_blocks() for _ in range(6))
print(default, kept)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt parameters are glibc's")
def test_freed_large_blocks_stay_mapped_instead_of_faulting_back_in():
    result = subprocess.run(
        [sys.executable, "-c", FAULTS_OF_LARGE_BLOCKS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(SOURCE_ROOT)},
    )
    default, kept = map(int, result.stdout.split())
    assert default > 3 * 9000  # most of the five 40 MB blocks faulted in page by page (4 KiB pages)
    assert kept < default / 10  # once grown, a round of large blocks reuses mapped pages
