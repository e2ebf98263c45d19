"""A-posteriori error estimates and multigrid correction of the stationary FEM problems.

For a candidate solution ``u`` (e.g. a neural prediction) of a P1 / Q1 problem
``A u_h = b`` (see :mod:`gnnops.problems._linear`), the error against the solution
``u*`` of the PDE splits as ``u - u* = (u - u_h) + (u_h - u*)``:

- **algebraic** ``u - u_h``: the residual equation ``A_ff e = r`` (``r = b - A u``
  on the free dofs; on Dirichlet dofs ``e = g - u`` exactly) solved approximately by
  conjugate gradients preconditioned with one smoothed-aggregation V-cycle per
  iteration (pyamg; one forward Gauss-Seidel sweep before the coarse correction, one
  backward after), until the last update is below ``rtol`` (``RTOL`` = 15 %) of ``||e||``.
  The aggregation (prolongators) is built once per mesh from the unit-coefficient
  operator; a new coefficient only recomputes the Galerkin products ``P^T A P``; the
  free-dof matrix and the flux recovery's operators are gathers / sparse mat-vecs cached
  per mesh (:mod:`gnnops.problems._estimator_ops`).
- **discretization** ``u_h - u*``: Zienkiewicz-Zhu flux recovery on
  ``u_h ~ u + e``: the per-cell flux ``sigma_h`` (darcy ``a grad u``, elasticity the
  stress) is projected onto the nodes (lumped L2 projection) and the energy-type
  indicator ``eta_K = ||G sigma_h - sigma_h||_K / k_K`` (``k_K`` the cell's
  coefficient) is turned into an L2 indicator by the Aubin-Nitsche scaling
  ``eta_L2,K = L2_CONSTANT * h_K * eta_K`` (``h_K`` the cell diameter).
  ``L2_CONSTANT`` is one number for every problem and mesh, calibrated on
  manufactured solutions with closed forms (tests/problems/test_estimators.py).

Both are relative to ``||u_h||`` (lumped-mass L2 norms ``||v||_M^2 = sum_i m_i |v_i|^2``).
They combine as ``total = sqrt(alg^2 + disc^2)``: the network's error and the mesh's
error come from independent sources, so their cross term averages to zero and the
Pythagorean sum estimates ``||u - u*||``; ``alg + disc`` would be the worst-case bound
(at most sqrt(2) larger). The per-node indicator ``sqrt(e_i^2 + d_i^2)`` (``d_i`` the
nodal share of the cells' ``eta_L2,K^2``) has ``||indicator||_M`` = the absolute total.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.problems._amg_levels import (
    SMOOTHERS,
    amg_solver,
    free_matrix,
    native_cg,
    vcycle,
)
from gnnops.problems._estimator_ops import cells_to_nodes, simplex_recovery
from gnnops.problems._fem import FemMesh
from gnnops.problems._linear import LinearSystem
from gnnops.problems._vcycle import amg_cg

__all__ = ["L2_CONSTANT", "RTOL", "SMOOTHERS", "ErrorEstimate", "lumped_mass", "cell_diameters",
           "amg_solver", "amg_cg", "algebraic_error", "recovery_indicators", "estimate_error",
           "correct"]

# eta_L2,K = L2_CONSTANT * h_K * ||G sigma - sigma||_K / k_K (h_K the cell diameter): the
# geometric mean of true / estimated L2 error with constant 1 over 28 manufactured solutions
# (benchmarks/estimator_calibration.py: P1 triangles with a = 1, smooth a, a layered 12/3
# coefficient across an unaligned interface, the L-shape corner singularity, a plate with a
# hole; Q1 quads; P1 tetrahedra; 2D elasticity; h = 0.1 .. 0.0125), each within [0.28, 0.76]
L2_CONSTANT = 0.43
# AMG-CG of the algebraic part stops when its last update is <= RTOL of the correction
# (M-norm); measured at 3k and 51k nodes on smooth, rough and scaled 10 % perturbations of
# three Darcy solutions: ||e||_M within 1.7 % of the exact one after 2 - 3 cycles (0.05:
# within 1.2 % after 3 - 4; 0.3: within 6.6 % after 2). The estimate's target is a factor 2.
RTOL = 0.15

# a flux map: gradients [C, Q, c, d] at the quadrature points -> (flux [C, Q, m], k_K [C])
FluxMap = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class ErrorEstimate:
    """Estimated relative L2 error of a candidate solution (see the module docstring).

    Attributes:
        total: ``sqrt(algebraic^2 + discretization^2)``.
        algebraic: ``||u - u_h||_M / ||u_h||_M`` (vs the exact discrete solution).
        discretization: ``||u_h - u*|| / ||u_h||`` estimated by flux recovery.
        per_node: [N] estimated absolute error at each node (units of ``u``).
        norm: ``||u_h||_M`` (estimated).
        iterations: AMG-CG iterations of the algebraic part.
        converged: the algebraic part reached its tolerance.
        seconds: wall time of the estimate.
        correction: [n] the algebraic error ``u_h - u`` (dofs, node-major).
    """

    total: float
    algebraic: float
    discretization: float
    per_node: np.ndarray
    norm: float
    iterations: int
    converged: bool
    seconds: float
    correction: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers (no arrays)."""
        return {"total": self.total, "algebraic": self.algebraic,
                "discretization": self.discretization, "iterations": self.iterations,
                "converged": self.converged, "seconds": self.seconds}


def lumped_mass(fm: FemMesh) -> np.ndarray:
    """[N] row sums of the consistent mass matrix (the node's share of the volume)."""
    return fm.cached("lumped_mass", lambda: np.asarray(fm.mass().sum(axis=1)).ravel())


def cell_diameters(fm: FemMesh) -> np.ndarray:
    """[C] longest distance between two nodes of each cell."""
    def build() -> np.ndarray:
        x = fm.points[fm.cells]  # [C, k, d]
        k = x.shape[1]
        i, j = np.triu_indices(k, 1)
        return np.linalg.norm(x[:, i] - x[:, j], axis=2).max(axis=1)

    return fm.cached("diameters", build)


def algebraic_error(fm: FemMesh, system: LinearSystem, u: np.ndarray, *,
                    unit: sp.csr_matrix | None = None, rtol: float = RTOL,
                    max_cycles: int = 30, smoother: str = "single"
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """``e ~ u_h - u`` (``[n]`` dofs): AMG-CG on ``A_ff e = b_f - A_f: u``, ``g - u`` on
    Dirichlet dofs (``smoother``: see :data:`SMOOTHERS`); info as :func:`amg_cg`."""
    free = system.free
    w = np.repeat(lumped_mass(fm), system.components)[free]
    out = native_cg(fm, system, u, w, unit, cycles=max_cycles, min_cycles=2, rtol=rtol,
                     smoother=smoother)
    if out is not None:
        return out
    e = np.where(system.fixed, system.g - u, 0.0)
    r = (system.b - system.A @ (u + e))[free]
    ml = vcycle(fm, system, unit, smoother)
    x, info = amg_cg(free_matrix(fm, system), r, ml, cycles=max_cycles, rtol=rtol, weights=w,
                     min_cycles=2)
    e[free] = x
    return e, info


def recovery_indicators(fm: FemMesh, u: np.ndarray, flux: FluxMap) -> np.ndarray:
    """Per-cell L2 indicators ``eta_L2,K`` ``[C]`` of the discrete solution ``u: [N, c]``.

    ``flux`` maps the gradients ``[C, Q, c, d]`` at the quadrature points to the flux
    ``[C, Q, m]`` and the cell coefficient ``k_K [C]``. Simplices (P1: the flux is constant
    per cell, the recovered flux linear) integrate exactly with one point; Q1 cells use the
    quadrature of :meth:`FemMesh.shape_data`.
    """
    if fm.cell_type in ("triangle", "tetra"):  # cached sparse operators, one point
        eta2 = simplex_recovery(fm, u, flux)
        return L2_CONSTANT * cell_diameters(fm) * np.sqrt(eta2)
    vals, grads, dx, edofs = fm.shape_data()  # [k, C, Q], [k, d, C, Q], [C, Q], [C, k]
    k = edofs.shape[1]
    grad = 0.0  # [C, Q, c, d]; sums over the k element nodes (cheaper than einsum here)
    for i in range(k):
        grad = grad + u[edofs[:, i]][:, None, :, None] * grads[i].transpose(1, 2, 0)[:, :, None]
    sigma, coef = flux(grad)  # [C, Q, m], [C]
    m = sigma.shape[2]
    vdx = vals * dx[None]  # [k, C, Q]: the integral of each shape function
    num = np.zeros((fm.n_nodes, m))
    den = np.zeros(fm.n_nodes)
    for i in range(k):
        part = (vdx[i][:, :, None] * sigma).sum(axis=1)  # [C, m]
        for j in range(m):
            num[:, j] += np.bincount(edofs[:, i], weights=part[:, j], minlength=fm.n_nodes)
        den += np.bincount(edofs[:, i], weights=vdx[i].sum(axis=1), minlength=fm.n_nodes)
    g = num / np.where(den > 0, den, 1.0)[:, None]
    diff = -sigma
    for i in range(k):
        diff = diff + vals[i][:, :, None] * g[edofs[:, i]][:, None, :]
    eta2 = (dx * (diff**2).sum(axis=2)).sum(axis=1) / coef**2
    return L2_CONSTANT * cell_diameters(fm) * np.sqrt(eta2)


def estimate_error(fm: FemMesh, system: LinearSystem, u: np.ndarray, flux: FluxMap, *,
                   unit: sp.csr_matrix | None = None, rtol: float = RTOL,
                   max_cycles: int = 30) -> ErrorEstimate:
    """The estimate of the module docstring for the candidate ``u: [n]`` (dofs).

    Args:
        fm, system: the mesh and its assembled system.
        u: candidate solution, node-major dofs.
        flux: the problem's flux map (see :func:`recovery_indicators`).
        unit: the unit-coefficient operator (see :func:`amg_solver`).
        rtol, max_cycles: AMG-CG stopping rule of the algebraic part.
    """
    t0 = time.perf_counter()
    c = system.components
    e, info = algebraic_error(fm, system, u, unit=unit, rtol=rtol, max_cycles=max_cycles)
    uh = (u + e).reshape(-1, c)
    m = lumped_mass(fm)
    norm = float(np.sqrt(m @ (uh**2).sum(axis=1)))
    eta = recovery_indicators(fm, uh, flux)
    e2 = (e.reshape(-1, c) ** 2).sum(axis=1)
    d2 = cells_to_nodes(fm, eta**2, m)
    den = norm if norm > 0 else 1.0
    alg = float(np.sqrt(m @ e2)) / den
    disc = float(np.sqrt((eta**2).sum())) / den
    return ErrorEstimate(total=float(np.hypot(alg, disc)), algebraic=alg, discretization=disc,
                         per_node=np.sqrt(e2 + d2), norm=norm, iterations=int(info["cycles"]),
                         converged=bool(info["converged"]), seconds=time.perf_counter() - t0,
                         correction=e)


def correct(fm: FemMesh, system: LinearSystem, u: np.ndarray, cycles: int, *,
            unit: sp.csr_matrix | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """``u`` improved by ``cycles`` AMG-CG iterations (one V-cycle each) on this mesh's own
    system; Dirichlet dofs are set to their data. Info as :func:`amg_cg` plus ``seconds``."""
    t0 = time.perf_counter()
    u = np.asarray(u, dtype=np.float64)
    # CG from x0 on A x = b and from 0 on A e = b - A x0 take the same steps
    native = native_cg(fm, system, u, lumped_mass(fm)[system.free], unit, cycles=cycles,
                        min_cycles=1, rtol=None, smoother="symmetric")
    if native is not None:
        e, info = native
        info["seconds"] = time.perf_counter() - t0
        return np.where(system.fixed, system.g, u + e), info
    free = system.free
    out = np.where(system.fixed, system.g, u)
    rhs = (system.b - system.A @ np.where(system.fixed, system.g, 0.0))[free]
    ml = vcycle(fm, system, unit, "symmetric")
    x, info = amg_cg(free_matrix(fm, system), rhs, ml, x0=out[free], cycles=cycles)
    out[free] = x
    info["seconds"] = time.perf_counter() - t0
    return out, info
