"""gnnops._malloc: freed large blocks are reused instead of page-faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="mallopt settings are glibc's")

# a "train step": three 36 MiB tensors (above glibc's largest adaptive mmap threshold,
# 32 MiB) alive at once, then freed; 5 steps to settle, then the median of the minor page
# faults of 7 more steps (the heap may still grow once, in one step: 9216 faults, seen in
# 3 of 8 runs when this took the mean), and the pages the step touches
_STEPS = """
import resource, sys, torch
import gnnops._malloc as M
n = 9 * 2**20
def step():
    a = torch.empty(n).fill_(1.0)
    b = torch.empty(n).fill_(2.0)
    return (a + b).sum()
def faults():
    for _ in range(5):
        step()
    per_step = []
    for _ in range(7):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        step()
        per_step.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return sorted(per_step)[3]
"""
_SCRIPT = _STEPS + """
if sys.argv[1] == "tuned":
    assert M.reuse_freed_memory() and M.reuse_freed_memory()
print(faults(), 3 * 4 * n // 4096)
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


# inside freed_memory_reused(): a step without faults and 256 MiB freed but kept (RSS);
# after it: glibc's defaults again (large blocks mmapped, faulted in) and the memory returned
_RESTORE = _STEPS + """
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
base = rss()
with M.freed_memory_reused() as on:
    inside = faults()
    big = torch.empty(64 * 2**20).fill_(1.0)
    del big
    kept = rss() - base
after_kept = rss() - base
print(on, inside, faults(), kept, after_kept, 3 * 4 * n // 4096, M._applied)
"""


@glibc
def test_freed_memory_reused_holds_the_setting_for_its_block_only() -> None:
    out = subprocess.run([sys.executable, "-c", _RESTORE], capture_output=True, text=True,
                         check=True).stdout.split()
    on, inside, after, kept, after_kept, pages, state = (
        out[0], float(out[1]), float(out[2]), float(out[3]), float(out[4]), int(out[5]), out[6])
    assert on == "True" and state == "None"
    assert inside < 0.01 * pages, (inside, pages)
    # glibc's defaults again: blocks mmapped and unmapped (all three, or those the trimmed
    # heap cannot hold: at least one 36 MiB tensor's pages per step)
    assert after > 0.3 * pages, (after, pages)
    assert kept > 200, kept  # the freed 256 MiB stayed mapped inside the block
    assert after_kept < kept - 200, (kept, after_kept)  # and went back to the system


def test_freed_memory_reused_keeps_a_setting_made_before(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import gnnops._malloc as M

    restored = []
    monkeypatch.setattr(M, "_applied", True)
    monkeypatch.setattr(M, "restore_default_memory", lambda: restored.append(1) or True)
    with M.freed_memory_reused() as on:
        assert on
    assert restored == [] and M._applied is True


def test_off_glibc_it_says_it_did_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import gnnops._malloc as M

    monkeypatch.setattr(M, "_applied", None)
    monkeypatch.setattr(M.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert M.reuse_freed_memory() is False
    assert M.restore_default_memory() is False
    with M.freed_memory_reused() as on:
        assert on is False
