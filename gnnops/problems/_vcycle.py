"""A lean V-cycle for scalar (CSR) AMG hierarchies: pyamg's V-cycle without its per-call cost.

The error estimate applies 2 - 4 V-cycles to a hierarchy it builds for every new
coefficient. Through pyamg (a ``MultilevelSolver`` built per coefficient and its
``aspreconditioner``) each application also computed two fine-level residual norms and
went through ``LinearOperator`` dispatch and per-sweep argument checks: on a 3k-node mesh
48 sparse mat-vecs per estimate (42 with this class) and 3.6 ms per estimate (2.4 ms),
``benchmarks/results/estimate_profile.txt``. :class:`VCycle` does the same arithmetic
(same Gauss-Seidel kernels of ``pyamg.amg_core``, the same order of sweeps, the coarsest
level by its inverse where pyamg's ``coarse_solver="pinv"`` takes the pseudo-inverse;
equal to pyamg's cycle to round-off, tests/problems/test_vcycle.py) as one short recursion
over prebuilt arrays.
:func:`amg_cg` (CG with one V-cycle per iteration) runs on either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["VCycle", "amg_cg"]

# sweeps before and after the coarse correction, per smoother name (estimators.SMOOTHERS)
_SWEEPS = {"symmetric": (("forward", "backward"), ("forward", "backward")),
           "single": (("forward",), ("backward",))}


class VCycle:
    """One V-cycle of a scalar AMG hierarchy, as a preconditioner ``z = M r``.

    Args:
        levels: ``(A_l, P_l, R_l)`` per level, CSR, the last ``(A_coarse, None, None)``
            (:func:`gnnops.problems._amg_levels.galerkin_levels`).
        smoother: ``"symmetric"`` (a forward and a backward Gauss-Seidel sweep before and
            after the coarse correction) or ``"single"`` (forward before, backward after).
    """

    def __init__(self, levels: list[tuple[Any, Any, Any]], smoother: str) -> None:
        from pyamg import amg_core

        self._gs = amg_core.gauss_seidel
        pre, post = _SWEEPS[smoother]
        self.levels = []
        for a, p, r in levels[:-1]:
            a = sp.csr_matrix(a)
            n = a.shape[0]
            bounds = {"forward": (0, n, 1), "backward": (n - 1, -1, -1)}
            self.levels.append((a, p, r, [bounds[s] for s in pre], [bounds[s] for s in post]))
        coarse = levels[-1][0]
        dense = coarse.toarray() if sp.issparse(coarse) else np.asarray(coarse)
        try:  # SPD (free dofs): the inverse, 10x cheaper than pyamg's pinv on a few dofs
            self.coarse_inv = np.linalg.inv(dense)
        except np.linalg.LinAlgError:
            self.coarse_inv = np.linalg.pinv(dense)

    def aspreconditioner(self, cycle: str = "V") -> VCycle:
        """``self`` (the interface of pyamg's solver that :func:`amg_cg` uses)."""
        if cycle != "V":
            raise ValueError(f"VCycle runs V-cycles only, got cycle={cycle!r}")
        return self

    def __matmul__(self, b: np.ndarray) -> np.ndarray:
        """``z = M b`` ``[n]``: one V-cycle from a zero initial guess."""
        return self._cycle(0, np.asarray(b, dtype=np.float64))

    def _cycle(self, lvl: int, b: np.ndarray) -> np.ndarray:
        if lvl == len(self.levels):
            return self.coarse_inv @ b
        a, p, r, pre, post = self.levels[lvl]
        x = np.zeros_like(b)
        for start, stop, step in pre:
            self._gs(a.indptr, a.indices, a.data, x, b, start, stop, step)
        x += p @ self._cycle(lvl + 1, r @ (b - a @ x))
        for start, stop, step in post:
            self._gs(a.indptr, a.indices, a.data, x, b, start, stop, step)
        return x


def amg_cg(a: sp.spmatrix, b: np.ndarray, ml: Any, *, x0: np.ndarray | None = None,
           cycles: int = 20, rtol: float | None = None, weights: np.ndarray | None = None,
           min_cycles: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """Conjugate gradients preconditioned by one V-cycle of ``ml`` per iteration.

    Stops after ``cycles`` iterations, or earlier (not before ``min_cycles``) when the last
    update's weighted norm ``||dx||_W`` is ``<= rtol * ||x - x0||_W`` (``W = diag(weights)``).

    Returns:
        ``x: [n]`` and info: ``cycles`` (iterations run), ``converged`` (``rtol`` met),
        ``residuals`` (``||b - A x||`` before each iteration and after the last).
    """
    w = np.ones(len(b)) if weights is None else weights
    x = np.zeros(len(b)) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    dx_total = np.zeros(len(b))
    r = b - a @ x
    m = ml.aspreconditioner(cycle="V")
    res, p, rz, k, converged = [float(np.linalg.norm(r))], None, 0.0, 0, False
    while k < cycles and res[-1] > 0:
        z = m @ r
        rz_new = float(r @ z)
        p = z if p is None else z + (rz_new / rz) * p
        rz = rz_new
        ap = a @ p
        alpha = rz / float(p @ ap)
        step = alpha * p
        x += step
        dx_total += step
        r -= alpha * ap
        res.append(float(np.linalg.norm(r)))
        k += 1
        if rtol is not None and k >= min_cycles:
            if np.sqrt(w @ step**2) <= rtol * np.sqrt(w @ dx_total**2):
                converged = True
                break
    return x, {"cycles": k, "converged": converged or res[-1] == 0, "residuals": res}
