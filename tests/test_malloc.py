"""gnnops._malloc: freed large blocks are reused instead of page-faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="mallopt settings are glibc's")

# a "train step": three 36 MiB tensors (above glibc's largest adaptive mmap threshold,
# 32 MiB) alive at once, then freed; 5 steps to settle, then the minor page faults per step
# of 5 more, and the pages the step touches
_SCRIPT = """
import resource, sys, torch
from gnnops._malloc import reuse_freed_memory
if sys.argv[1] == "tuned":
    assert reuse_freed_memory() and reuse_freed_memory()
n = 9 * 2**20
def step():
    a = torch.empty(n).fill_(1.0)
    b = torch.empty(n).fill_(2.0)
    return (a + b).sum()
for _ in range(5):
    step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 5, 3 * 4 * n // 4096)
"""


def _faults(mode: str) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


@glibc
def test_a_freed_large_tensor_is_reused_without_page_faults() -> None:
    system, pages = _faults("system")
    tuned, _ = _faults("tuned")
    # glibc as it comes: every 36 MiB block is a fresh mmap whose pages all fault in again
    assert system > 0.9 * pages, (system, pages)
    # reuse_freed_memory: the same heap block every time, its pages already mapped
    assert tuned < 0.01 * pages, (tuned, pages)


def test_off_glibc_it_says_it_did_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import gnnops._malloc as M

    monkeypatch.setattr(M, "_applied", None)
    monkeypatch.setattr(M.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert M.reuse_freed_memory() is False
