"""Keep freed memory for reuse: glibc's heap for large blocks, no trimming (training).

Why: a training step allocates and frees dozens of ``[E, 128]`` float tensors (tens of MB
each on a 10k-node mesh). glibc serves every block above its mmap threshold (at most 32 MiB,
however it adapts) with a fresh ``mmap`` and returns it with ``munmap`` when freed, so each
new tensor's pages are faulted in and zeroed by the kernel again: on the 12k-node
MeshGraphNet 15x128 train step of ``benchmarks/models.py`` a 36 MB ``torch.mm`` output
took 19.9 ms instead of 11.1 ms into a reused buffer, a 36 MB copy 10.8 ms instead of
2.3 ms, and the whole step 5.3 - 5.9 s instead of 3.3 - 3.5 s (2 threads; both measured
with the setting of :func:`reuse_freed_memory` made through ``GLIBC_TUNABLES`` and by
this module). The same idea as the jemalloc / tcmalloc preload that Intel's PyTorch CPU
tuning guide recommends, without a library to install.

:func:`reuse_freed_memory` sets ``M_MMAP_MAX = 0`` (every block from the heap) and a 2 GiB
``M_TRIM_THRESHOLD`` (freed memory stays mapped for the next step) with ``mallopt``. It is
process-wide and not undone (glibc has no way back to its adaptive thresholds), so only
the trainer calls it (``train.reuse_memory``, on by default); memory freed after a peak
is kept by the process instead of returned to the system. Elsewhere than on glibc (macOS,
musl) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

__all__ = ["reuse_freed_memory", "M_MMAP_MAX", "M_TRIM_THRESHOLD", "TRIM_THRESHOLD"]

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest value it can hold (2 GiB)

_applied: bool | None = None


def reuse_freed_memory() -> bool:
    """Serve large blocks from glibc's heap and keep freed memory (see the module doc).

    Returns:
        True when the setting is in effect in this process (set now or before), False
        where the C library is not glibc or ``mallopt`` refused.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("reuse_freed_memory: not glibc (%s), allocator left as it is",
                  platform.libc_ver())
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as exc:  # no loadable libc / no mallopt
        log.debug("reuse_freed_memory: %s", exc)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    log.debug("reuse_freed_memory: %s", "in effect" if _applied else "mallopt refused")
    return _applied
