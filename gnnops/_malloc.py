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
process-wide: memory freed after a peak is kept by the process instead of returned to the
system. The trainer (``train.reuse_memory``, on by default) holds it only while it trains,
through :func:`freed_memory_reused`, whose exit sets glibc's default values back (fixed
ones: glibc has no way back to its adaptive thresholds) and returns the kept memory to the
system (``malloc_trim``). Elsewhere than on glibc (macOS, musl) both do nothing and say so.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import platform
from collections.abc import Iterator
from typing import Any

__all__ = ["reuse_freed_memory", "restore_default_memory", "freed_memory_reused",
           "M_MMAP_MAX", "M_TRIM_THRESHOLD", "TRIM_THRESHOLD"]

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest value it can hold (2 GiB)
# glibc's defaults (malloc/malloc.c: DEFAULT_MMAP_MAX, DEFAULT_TRIM_THRESHOLD)
DEFAULT_MMAP_MAX = 65536
DEFAULT_TRIM_THRESHOLD = 128 * 1024

_applied: bool | None = None


def _libc() -> Any | None:
    """glibc as a ctypes library (``None`` elsewhere or where it cannot be loaded)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("_malloc: not glibc (%s), allocator left as it is", platform.libc_ver())
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError) as exc:  # no loadable libc / no mallopt
        log.debug("_malloc: %s", exc)
        return None
    return libc


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
    libc = _libc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error
    _applied = (bool(libc.mallopt(M_MMAP_MAX, 0))
                and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    log.debug("reuse_freed_memory: %s", "in effect" if _applied else "mallopt refused")
    return _applied


def restore_default_memory() -> bool:
    """glibc's default thresholds back (mmap for large blocks, trimming above 128 KiB) and
    the freed memory the process kept returned to the system (``malloc_trim(0)``).

    Returns:
        True when done, False off glibc.
    """
    global _applied
    libc = _libc()
    if libc is None:
        return False
    ok = (bool(libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX))
          and bool(libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)))
    libc.malloc_trim(0)
    _applied = None
    return ok


@contextlib.contextmanager
def freed_memory_reused() -> Iterator[bool]:
    """:func:`reuse_freed_memory` for the body of a ``with`` block (yields its result); on
    exit :func:`restore_default_memory`, unless the setting was already in effect before
    the block (a caller that set it process-wide keeps it)."""
    before = _applied is True
    on = reuse_freed_memory()
    try:
        yield on
    finally:
        if on and not before:
            restore_default_memory()
