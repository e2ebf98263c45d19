"""Linear systems with Dirichlet rows: solve, residual, torch residual, PCG.

A discretized stationary problem is ``A u = b`` on the free dofs with ``u = g``
on the fixed (Dirichlet) dofs. Its residual uses the *Dirichlet-row operator*
``Â`` (rows of ``A`` on free dofs, ``d_i e_i`` on fixed dofs, ``d_i`` the
diagonal of ``A`` or its mean where it is 0) and ``b̂`` (``b`` on free dofs,
``d_i g_i`` on fixed dofs):

    residual(u) = || Â u - b̂ || / || b_free ||

so it is the relative residual on free dofs plus the Dirichlet mismatch in the
same units; the reference solution scores ~1e-14 and ``u + eps v`` scores
``eps * ||Â v|| / ||b_free||``. Per node it is ``|Â u - b̂|`` (vector fields: the
norm over the node's components).
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gnnops.errors import ProblemError

__all__ = ["Factors", "LinearSystem", "as_array", "blas_threads", "check_field",
           "direct_solve", "factorize", "pcg", "to_torch_sparse"]

# free dofs up to which "auto" factorizes (SuperLU) instead of AMG-preconditioned CG, per
# dimension; measured on the 2-core dev machine: SuperLU beat pyamg + CG at every 2D size
# tried (1k-100k nodes); 3D fill-in grows faster, so large 3D meshes go to AMG.
DIRECT_MAX_DOFS = {2: 400_000, 3: 60_000}
# free dofs below which SuperLU runs with single-threaded BLAS (see blas_threads)
SERIAL_BLAS_MAX_DOFS = 50_000

_BLAS_SETTERS: list[Any] | None = None


def _blas_setters() -> list[Any]:
    """``openblas_set_num_threads_local`` of every OpenBLAS loaded in this process (numpy
    and scipy each bundle one); empty where unavailable (non-Linux, other BLAS)."""
    global _BLAS_SETTERS
    if _BLAS_SETTERS is None:
        found: list[Any] = []
        try:
            with open("/proc/self/maps") as fh:
                paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower()
                                and ln.split()[-1].startswith("/")})
            for path in paths:
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
                    found.append(fn)
        except OSError:
            found = []
        _BLAS_SETTERS = found
    return _BLAS_SETTERS


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Run the body with ``n`` OpenBLAS threads in the calling thread (no-op elsewhere).

    Small BLAS calls (a 1k-node field evaluation, a SuperLU factorization of a few
    thousand dofs) gain nothing from threads, but OpenBLAS's worker threads then spin
    after each call and, on a loaded 2-core machine, steal the core the next step needs:
    measured 12 ms -> 0.8 ms for one 1k-node field evaluation.
    """
    olds = [fn(n) for fn in _blas_setters()]
    try:
        yield
    finally:
        for fn, old in zip(_blas_setters(), olds, strict=True):
            fn(old)


@dataclass
class LinearSystem:
    """``A u = b`` with ``u[fixed] = g[fixed]``; dofs are node-major (dof = node*c + comp).

    Attributes:
        A: [n, n] CSR matrix; b, g: [n]; fixed: [n] bool; components: dofs per node.
    """

    A: sp.csr_matrix
    b: np.ndarray
    fixed: np.ndarray
    g: np.ndarray
    components: int = 1

    @property
    def free(self) -> np.ndarray:
        return ~self.fixed

    def dirichlet_operator(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """``(Â, b̂)`` of the module docstring."""
        diag = self.A.diagonal()
        d = np.where(diag > 0, diag, diag[diag > 0].mean() if (diag > 0).any() else 1.0)
        keep = sp.diags(self.free.astype(np.float64))
        ahat = (keep @ self.A + sp.diags(np.where(self.fixed, d, 0.0))).tocsr()
        bhat = np.where(self.fixed, d * self.g, self.b)
        return ahat, bhat

    def reduced(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Free-dof system ``A_ff x = b_f - A_fd g_d``."""
        free = self.free
        a_free_rows = self.A[free]
        rhs = self.b[free] - a_free_rows[:, self.fixed] @ self.g[self.fixed]
        return a_free_rows[:, free].tocsr(), rhs

    def expand(self, x_free: np.ndarray) -> np.ndarray:
        u = self.g.astype(np.float64).copy()
        u[self.free] = x_free
        return u

    def residual_vector(self, u: np.ndarray) -> np.ndarray:
        ahat, bhat = self.dirichlet_operator()
        return ahat @ u - bhat

    def denominator(self) -> float:
        den = float(np.linalg.norm(self.b[self.free]))
        return den if den > 0 else 1.0

    def residual(self, u: np.ndarray) -> float:
        return float(np.linalg.norm(self.residual_vector(u))) / self.denominator()

    def residual_per_node(self, u: np.ndarray) -> np.ndarray:
        r = self.residual_vector(u).reshape(-1, self.components)
        return np.linalg.norm(r, axis=1)


def as_array(value: Any) -> np.ndarray:
    """numpy float64 view of an array-like or torch tensor (detached)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def check_field(name: str, value: Any, n: int, *, components: int = 1,
                positive: bool = False) -> np.ndarray:
    """Validate a per-node input field; a scalar is broadcast.

    Returns:
        ``[n]`` (components = 1) or ``[n, components]`` float64.

    Raises:
        ProblemError: wrong length / shape, non-finite or (``positive``) non-positive values.
    """
    if value is None:
        raise ProblemError(f"missing input {name!r}")
    arr = as_array(value)
    shape = (n,) if components == 1 else (n, components)
    if arr.ndim == 0 or (components > 1 and arr.shape == (components,)):
        arr = np.broadcast_to(arr, shape).copy()
    if components == 1 and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != shape:
        what = "1 value" if components == 1 else f"{components} values"
        raise ProblemError(f"expected {name!r} with {what} per node (N={n}), "
                           f"got shape {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ProblemError(f"{name!r} contains non-finite values "
                           f"({int((~np.isfinite(arr)).sum())} of {arr.size})")
    if positive and arr.min() <= 0:
        raise ProblemError(f"expected {name!r} > 0 everywhere, got min {arr.min():.6g}")
    return arr


# normwise backward error ||A x - b|| / (||A|| ||x|| + ||b||) (inf-norms) above which a
# factorization without pivoting is not trusted (factorize); a stable factorization gives
# ~1e-16 times a modest growth factor, whatever the condition number
SYMMETRIC_CHECK_TOL = 1e-10


def _symmetric_positive_diagonal(a: sp.csc_matrix) -> bool:
    """``a`` is symmetric (to round-off) with a positive diagonal: the FEM operators of the
    stationary problems and of backward Euler (SPD on the free dofs)."""
    if a.shape[0] != a.shape[1] or a.nnz == 0 or not (a.diagonal() > 0).all():
        return False
    asym = abs(a - a.T)
    return asym.nnz == 0 or float(asym.max()) <= 1e-12 * float(abs(a).max())


@dataclass
class Factors:
    """SuperLU factors and how they were made (:func:`factorize`).

    Attributes:
        lu: scipy's ``SuperLU`` object.
        symmetric: symmetric ordering without pivoting (else COLAMD with pivoting).
    """

    lu: Any
    symmetric: bool

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``x = A^-1 b`` for ``b: [n]`` or ``[n, k]``."""
        return self.lu.solve(b)


def factorize(a: sp.spmatrix, *, check: bool = True) -> Factors:
    """SuperLU factors of a square sparse matrix.

    A symmetric matrix with a positive diagonal (the SPD operators here) is ordered by
    minimum degree on ``A + A^T`` and factorized without pivoting (``SymmetricMode``:
    Cholesky's fill with LU's kernel); anything else, or a symmetric factorization that
    fails its check, by SuperLU's default (COLAMD, partial pivoting). Measured (1 thread,
    Darcy P1, ``benchmarks/direct_ordering.py``, medians of 5): 3k nodes 10.0 -> 8.2 ms,
    47k 419 -> 315 ms, 73k 814 -> 559 ms, 186k 3.18 -> 2.31 s, the same solutions to
    round-off.

    Args:
        a: ``[n, n]`` sparse matrix.
        check: verify symmetric factors on ``A @ 1`` (one solve) before returning them;
            ``False`` when the caller checks its own solve (:func:`direct_solve`).
    """
    a = sp.csc_matrix(a)
    if _symmetric_positive_diagonal(a):
        try:
            lu = Factors(spla.splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                                   options={"SymmetricMode": True}), True)
        except RuntimeError:  # a zero pivot: not positive definite
            lu = None
        if lu is not None and (not check or _solves(a, lu, a @ np.ones(a.shape[0]))):
            return lu
    return _pivoted(a)


def _pivoted(a: sp.spmatrix) -> Factors:
    """SuperLU's default factors (COLAMD ordering, partial pivoting)."""
    return Factors(spla.splu(sp.csc_matrix(a)), False)


def _solves(a: sp.spmatrix, lu: Factors, b: np.ndarray, x: np.ndarray | None = None) -> bool:
    """``lu`` solves ``a x = b`` with a backward error below :data:`SYMMETRIC_CHECK_TOL`
    (``x`` given or solved)."""
    x = lu.solve(b) if x is None else x
    a_norm = float(abs(a).sum(axis=1).max())
    den = a_norm * float(np.abs(x).max()) + float(np.abs(b).max())
    err = float(np.abs(a @ x - b).max()) / (den if den > 0 else 1.0)
    return bool(np.isfinite(err) and err <= SYMMETRIC_CHECK_TOL)


def direct_solve(system: LinearSystem, *, method: str = "auto", dim: int = 2) -> np.ndarray:
    """Solve the system: ``"direct"`` (SuperLU through :func:`factorize`; symmetric factors
    whose solve fails the backward-error check are replaced by pivoted ones), ``"amg"``
    (pyamg + CG to 1e-12) or ``"auto"`` (direct up to ``DIRECT_MAX_DOFS[dim]`` free dofs)."""
    a_ff, rhs = system.reduced()
    if method == "auto":
        method = "direct" if a_ff.shape[0] <= DIRECT_MAX_DOFS.get(dim, 60_000) else "amg"
    if method == "direct":
        small = a_ff.shape[0] <= SERIAL_BLAS_MAX_DOFS
        with blas_threads(1) if small else contextlib.nullcontext():
            lu = factorize(a_ff, check=False)
            x = lu.solve(rhs)
            if lu.symmetric and not _solves(a_ff, lu, rhs, x):
                x = _pivoted(a_ff).solve(rhs)  # not SPD after all: pivot
    elif method == "amg":
        x, _ = pcg(a_ff, rhs, tol=1e-12, preconditioner="amg")
    else:
        raise ProblemError(f"unknown solver method {method!r}; expected one of: auto, "
                           "direct, amg")
    return system.expand(x)


def _preconditioner(a: sp.csr_matrix, kind: str) -> Any:
    if kind == "amg":
        import pyamg

        return pyamg.smoothed_aggregation_solver(a).aspreconditioner(cycle="V")
    if kind == "ilu":
        ilu = spla.spilu(a.tocsc(), drop_tol=1e-5, fill_factor=20)
        return spla.LinearOperator(a.shape, matvec=ilu.solve, dtype=np.float64)
    if kind == "none":
        return None
    raise ProblemError(f"unknown preconditioner {kind!r}; expected one of: amg, ilu, none")


def pcg(a: sp.csr_matrix, b: np.ndarray, *, x0: np.ndarray | None = None, tol: float = 1e-8,
        preconditioner: str = "amg", maxiter: int | None = None) -> tuple[np.ndarray, dict]:
    """Preconditioned conjugate gradients, stopping at ``||b - A x|| <= tol ||b||``.

    Returns:
        ``x: [n]`` and info: ``iterations``, ``seconds`` (total), ``setup_seconds``,
        ``residual`` (final true relative residual), ``converged``.
    """
    t0 = time.perf_counter()
    m = _preconditioner(a, preconditioner)
    setup = time.perf_counter() - t0
    x = np.zeros_like(b) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    bnorm = float(np.linalg.norm(b)) or 1.0
    r = b - a @ x
    maxiter = 10 * len(b) if maxiter is None else maxiter
    it = 0
    p = rz = None
    while np.linalg.norm(r) > tol * bnorm and it < maxiter:
        z = r if m is None else m @ r
        rz_new = float(r @ z)
        p = z if p is None else z + (rz_new / rz) * p
        rz = rz_new
        ap = a @ p
        step = rz / float(p @ ap)
        x += step * p
        r -= step * ap
        it += 1
    res = float(np.linalg.norm(b - a @ x)) / bnorm
    return x, {"iterations": it, "seconds": time.perf_counter() - t0,
               "setup_seconds": setup, "residual": res, "converged": it < maxiter}


def to_torch_sparse(a: sp.spmatrix, dtype: Any) -> Any:
    """scipy sparse -> coalesced torch sparse COO tensor of ``dtype`` (autograd in ``a @ x``
    flows to the dense ``x``)."""
    import torch

    a = a.tocsr()
    a.sum_duplicates()
    a = a.tocoo()
    idx = torch.from_numpy(np.vstack([a.row, a.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(a.data).to(dtype), a.shape,
                                   is_coalesced=True, check_invariants=False)
