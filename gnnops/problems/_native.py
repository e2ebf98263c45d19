"""Optional compiled kernel of the error estimate's algebraic part (``_native_estimate.c``).

On a mesh of a few thousand nodes the Python path of :func:`estimators.algebraic_error`
(the free-dof gather, the Galerkin products through the cached maps, the residual and
AMG-CG with the lean V-cycle) spends most of its time in per-call overhead around short
scipy / pyamg kernels. The C file does the same arithmetic in one call. It is compiled on
first use with the system's C compiler (``$CC``, else ``cc``) into the user cache
(``$GNNOPS_CACHE`` or ``~/.cache/gnnops``), keyed by the source's hash; without a compiler,
when the build fails, or with ``GNNOPS_NATIVE=0``, :func:`library` returns ``None`` and the
Python path runs. Both give the same estimate to round-off (tests/problems/test_native.py).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.problems._estimator_ops import same_pattern

__all__ = ["library", "enabled", "build_error", "NativePlan", "MAX_COARSE"]

_SOURCE = Path(__file__).with_name("_native_estimate.c")
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}
# coarsest level solved dense in C (pyamg stops at <= 10 dofs unless it runs out of levels)
MAX_COARSE = 400
MAX_LEVELS = 32  # the C file's MAX_LEVELS


def enabled() -> bool:
    """Whether the compiled path may be used (``GNNOPS_NATIVE`` unset or not ``0``)."""
    return os.environ.get("GNNOPS_NATIVE", "1").strip().lower() not in ("0", "false", "no")


def _cache_dir() -> Path:
    root = os.environ.get("GNNOPS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gnnops")
    return Path(root) / "native"


def _unsafe(target: Path) -> str | None:
    """Why the built library must not be loaded (someone else could have written it), or
    ``None``: on POSIX the file and its folder must belong to this user and be writable by
    no one else."""
    if not hasattr(os, "getuid"):
        return None
    for path in (target, target.parent):
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return (f"not loading {target}: {path} is owned by uid {st.st_uid} with mode "
                    f"{st.st_mode & 0o777:o}; expected uid {os.getuid()} and no group / other "
                    "write permission (set GNNOPS_CACHE to a private folder)")
    return None


def _build() -> ctypes.CDLL | None:
    src = _SOURCE.read_bytes()
    cc = os.environ.get("CC", "cc")
    flags = ["-O3", "-fPIC", "-shared", "-ffp-contract=off", "-std=c99"]
    tag = hashlib.blake2b(src + repr((cc, flags)).encode(), digest_size=8).hexdigest()
    target = _cache_dir() / f"estimate-{tag}.so"
    if not target.exists():
        if shutil.which(cc.split()[0]) is None:
            _STATE["error"] = f"no C compiler {cc.split()[0]!r} on PATH (set CC)"
            return None
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = Path(tmp) / target.name
            proc = subprocess.run([*cc.split(), *flags, str(_SOURCE), "-o", str(out), "-lm"],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0 or not out.exists():
                _STATE["error"] = proc.stderr.strip()[-2000:]
                return None
            os.replace(out, target)  # atomic: a concurrent build writes the same bytes
    unsafe = _unsafe(target)
    if unsafe:
        _STATE["error"] = unsafe
        return None
    lib = ctypes.CDLL(str(target))
    fn = lib.gn_algebraic_error
    fn.restype = ctypes.c_int
    p, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    fn.argtypes = [p, i64, p, p, p, p, p, p, p, i64, p, p, p, i64, i64, f64,
                   ctypes.c_int, p, p, p, p]
    size = lib.gn_workspace_size
    size.restype = i64
    size.argtypes = [p, i64]
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernel, built on first call; ``None`` when disabled or unavailable
    (the reason of a failed build in ``build_error()``)."""
    if not enabled():
        return None
    with _LOCK:
        if "lib" not in _STATE:
            try:
                _STATE["lib"] = _build()
            except (OSError, subprocess.SubprocessError) as exc:
                _STATE["error"] = str(exc)
                _STATE["lib"] = None
        return _STATE["lib"]


def build_error() -> str | None:
    """The compiler's message when the last build failed, else ``None``."""
    return _STATE.get("error")


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


class NativePlan:
    """The static arrays of one mesh's hierarchy for ``gn_algebraic_error``: a table of their
    addresses (the arrays themselves are shared with the Python path's caches, not copied).

    Args:
        free_pattern: ``(indptr, indices)`` of the free-dof matrix ``A_ff`` (level 0).
        take: ``[nnz_ff]`` positions of ``A_ff``'s data in the assembled matrix's data.
        free: ``[n]`` bool, the free dofs.
        prolongators, restrictions: CSR ``P_l`` and ``R_l = P_l^T`` per transfer.
        maps: the :class:`~gnnops.problems._estimator_ops.GalerkinMap` per transfer.
        a_pattern: ``(indptr, indices)`` of the assembled matrix the plan expects.
    """

    def __init__(self, free_pattern: tuple[np.ndarray, np.ndarray], take: np.ndarray,
                 free: np.ndarray, prolongators: list[sp.csr_matrix],
                 restrictions: list[sp.csr_matrix], maps: list[Any],
                 a_pattern: tuple[np.ndarray, np.ndarray]) -> None:
        self._keep: list[np.ndarray] = []  # the arrays whose addresses are in the table

        def addr(arr: np.ndarray, dtype: type) -> int:
            arr = np.ascontiguousarray(arr, dtype=dtype)  # a copy only if not already so
            self._keep.append(arr)
            return _ptr(arr)

        patterns = [free_pattern] + [(m.c_indptr, m.c_indices) for m in maps]
        tab: list[int] = [len(patterns)]
        for indptr, indices in patterns:
            tab += [len(indptr) - 1, addr(indptr, np.int32), addr(indices, np.int32)]
        for p, r, m in zip(prolongators, restrictions, maps, strict=True):
            for mat in (p, r, m.t1, m.t2):
                mat = sp.csr_matrix(mat)
                if mat.nnz >= 2**31:
                    raise OverflowError("hierarchy too large for 32-bit indices")
                tab += [mat.shape[0], addr(mat.indptr, np.int32),
                        addr(mat.indices, np.int32), addr(mat.data, np.float64)]
        if len(patterns) > MAX_LEVELS:
            raise OverflowError(f"more than {MAX_LEVELS} levels")
        self.tab = np.asarray(tab, dtype=np.int64)
        self.free_idx = np.flatnonzero(free).astype(np.int64)
        self.fixed = (~free).astype(np.uint8)
        self.take = np.ascontiguousarray(take, dtype=np.int64)
        self.a_indptr = np.ascontiguousarray(a_pattern[0], dtype=np.int32)
        self.a_indices = np.ascontiguousarray(a_pattern[1], dtype=np.int32)
        self.n = len(free)
        self._static = (_ptr(self.tab),)
        self._work: np.ndarray | None = None
        self._lock = threading.Lock()  # one workspace: one call at a time (ctypes drops the GIL)

    def matches(self, a: sp.csr_matrix) -> bool:
        """Whether the assembled matrix ``a`` has the pattern this plan was built for."""
        return same_pattern(a, self.a_indptr, self.a_indices)

    def algebraic_error(self, lib: ctypes.CDLL, a: sp.csr_matrix, b: np.ndarray,
                        g: np.ndarray, u: np.ndarray, w: np.ndarray, *, cycles: int,
                        min_cycles: int, rtol: float | None, symmetric: bool
                        ) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``e: [n]`` and info as :func:`estimators.algebraic_error`, or ``None`` when the
        coarsest level is not positive definite (the caller takes the Python path).
        The workspace is allocated on the first call and kept (one call at a time)."""
        data = np.ascontiguousarray(a.data, dtype=np.float64)
        b, g, u, w = (np.ascontiguousarray(x, dtype=np.float64) for x in (b, g, u, w))
        sizes = (len(data), len(b), len(g), len(u), len(w), cycles)
        if sizes[:5] != (len(self.a_indices), self.n, self.n, self.n, len(self.free_idx)) \
                or cycles < 0:  # the C code trusts these lengths
            raise ValueError(f"arrays of lengths {sizes} do not fit this plan")
        e = np.empty(self.n)
        res = np.empty(cycles + 1)
        info = np.zeros(2, dtype=np.int64)
        with self._lock:
            if self._work is None:
                self._work = np.empty(lib.gn_workspace_size(*self._static, self.n))
            status = lib.gn_algebraic_error(
                *self._static, self.n, _ptr(self.a_indptr), _ptr(self.a_indices), _ptr(data),
                _ptr(b), _ptr(g), _ptr(self.fixed), _ptr(u), len(self.free_idx),
                _ptr(self.free_idx), _ptr(self.take), _ptr(w), cycles, min_cycles,
                -1.0 if rtol is None else float(rtol), int(symmetric), _ptr(self._work),
                _ptr(e), _ptr(res), _ptr(info))
        if status != 0:
            return None
        k = int(info[0])
        return e, {"cycles": k, "converged": bool(info[1]), "residuals": res[:k + 1].tolist()}

