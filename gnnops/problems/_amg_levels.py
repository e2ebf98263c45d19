"""The AMG hierarchies of the error estimate and the correction (:mod:`estimators`).

Smoothed-aggregation prolongators are built once per mesh and Dirichlet set from the
unit-coefficient operator; each new coefficient only recomputes the Galerkin products
``P^T A P`` (through the per-mesh :class:`~gnnops.problems._estimator_ops.GalerkinMap`
from the second coefficient on). The V-cycle over those levels is the lean
:class:`~gnnops.problems._vcycle.VCycle` for scalar CSR levels, pyamg's solver otherwise;
for scalar systems with a C compiler at hand, the whole AMG-CG of the residual equation
runs in one compiled call (:mod:`gnnops.problems._native`, :func:`native_cg`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.problems import _native
from gnnops.problems._estimator_ops import GalerkinMap, _digest, free_index, free_submatrix
from gnnops.problems._fem import FemMesh
from gnnops.problems._linear import LinearSystem
from gnnops.problems._vcycle import VCycle

__all__ = ["SMOOTHERS", "amg_solver", "free_matrix", "galerkin_levels", "vcycle",
           "native_plan", "native_cg"]


def _near_nullspace(fm: FemMesh, free: np.ndarray, components: int) -> np.ndarray:
    """[n_free, m] constants (scalar) or rigid-body modes (vector, c = d) on the free dofs."""
    if components == 1:
        return np.ones((int(free.sum()), 1))
    d, n = fm.dim, fm.n_nodes
    x = fm.points - fm.points.mean(axis=0)
    modes = [np.kron(np.ones(n), np.eye(d)[k]) for k in range(d)]
    for a, b in ([(0, 1)] if d == 2 else [(0, 1), (1, 2), (0, 2)]):
        rot = np.zeros((n, d))
        rot[:, a], rot[:, b] = -x[:, b], x[:, a]
        modes.append(rot.reshape(-1))
    return np.stack(modes, axis=1)[free]


def _blocked(a: sp.spmatrix, free: np.ndarray, components: int) -> Any:
    """BSR with node blocks when every node's dofs are all free or all fixed, else CSR."""
    if components > 1 and (free.reshape(-1, components).all(1)
                           | ~free.reshape(-1, components).any(1)).all():
        return sp.bsr_matrix(a, blocksize=(components, components))
    return sp.csr_matrix(a)


def free_matrix(fm: FemMesh, system: LinearSystem) -> sp.csr_matrix:
    """``A_ff`` (free rows and columns), cached on the system (a gather of the data of
    ``A`` on a mesh seen before, :func:`free_submatrix`)."""
    a = system.__dict__.get("_a_ff")
    if a is None:
        a = system.__dict__["_a_ff"] = free_submatrix(fm, system.A, system.fixed)
    return a


def _prolongators(fm: FemMesh, system: LinearSystem, unit: sp.csr_matrix) -> list[Any]:
    """Smoothed-aggregation prolongators of the unit-coefficient operator (once per mesh
    and Dirichlet set)."""
    def build() -> list[Any]:
        import pyamg

        free = system.free
        a = _blocked(unit[free][:, free], free, system.components)
        ml = pyamg.smoothed_aggregation_solver(
            a, B=_near_nullspace(fm, free, system.components), max_coarse=10)
        # scalar: CSR (pyamg returns 1x1-block BSR, several times slower to multiply)
        return [lvl.P if system.components > 1 else sp.csr_matrix(lvl.P)
                for lvl in ml.levels[:-1]]

    return fm.cached(f"amg:{system.components}:{_digest(system.fixed)}", build)


def _restrictions(fm: FemMesh, system: LinearSystem, prolongators: list[Any]) -> list[Any]:
    """``R_l = P_l^T`` (CSR for scalar systems), cached with the prolongators."""
    return fm.cached(f"amg-r:{system.components}:{_digest(system.fixed)}", lambda: [
        p.T.tocsr() if p.T.format == "csc" else p.T for p in prolongators])


# V-cycle smoothers: "symmetric" = a forward and a backward Gauss-Seidel sweep before and
# after the coarse correction (correct()); "single" = one forward sweep before, one backward
# after: still a symmetric preconditioner, half the smoothing work (the error estimate)
SMOOTHERS = ("symmetric", "single")


def galerkin_levels(fm: FemMesh, system: LinearSystem,
                     unit: sp.csr_matrix | None) -> list[tuple[Any, Any, Any]]:
    """``(A_l, P_l, R_l)`` per level (the last with ``P = R = None``), cached on the system:
    the mesh's prolongators and the Galerkin products ``R A P`` of this coefficient."""
    cached = system.__dict__.get("_amg_levels")
    if cached is not None:
        return cached
    a = _blocked(free_matrix(fm, system), system.free, system.components)
    levels = []
    prolongators = _prolongators(fm, system, system.A if unit is None else unit)
    restrictions = _restrictions(fm, system, prolongators)
    maps = _galerkin_maps(fm, system, a, prolongators)
    for k, (p, r) in enumerate(zip(prolongators, restrictions, strict=True)):
        levels.append((a, p, r))
        if maps is not None and maps[k].matches(a):
            a = maps[k](a)
        else:
            a = r @ (a @ p)
        if sp.issparse(a) and a.format == "csc":
            a = a.tocsr()
    levels.append((a, None, None))
    system.__dict__["_amg_levels"] = levels
    return levels


def _galerkin_maps(fm: FemMesh, system: LinearSystem, a: Any,
                   prolongators: list[Any]) -> list[GalerkinMap] | None:
    """The numeric-only Galerkin products of a scalar system's levels (built on the second
    coefficient seen on this mesh and Dirichlet set: a one-off estimate keeps scipy's
    products, whose symbolic pass is cheaper than building the maps)."""
    if system.components > 1 or not (sp.issparse(a) and a.format == "csr"):
        return None
    key = f"galerkin:{_digest(system.fixed)}"
    hit = fm._store.get(key)
    if hit is None:
        fm._store[key] = "seen"
        return None
    if hit == "seen":
        maps, lvl = [], a
        for p in prolongators:
            maps.append(GalerkinMap(lvl, p))
            lvl = maps[-1](lvl)
        fm._store[key] = hit = maps
    return hit


def amg_solver(fm: FemMesh, system: LinearSystem, unit: sp.csr_matrix | None = None, *,
               smoother: str = "symmetric") -> Any:
    """pyamg ``MultilevelSolver`` of the free-dof matrix of ``system`` (cached on it).

    Args:
        fm: the mesh of the system.
        system: the assembled system.
        unit: the same operator with coefficient 1 (whose aggregation is reused for every
            coefficient on this mesh); ``None``: aggregate ``system.A`` itself.
        smoother: one of :data:`SMOOTHERS` (both share the system's Galerkin products).
    """
    if smoother not in SMOOTHERS:
        raise ValueError(f"unknown smoother {smoother!r}; expected one of {SMOOTHERS}")
    key = "_amg_solver" if smoother == "symmetric" else f"_amg_solver:{smoother}"
    cached = system.__dict__.get(key)
    if cached is not None:
        return cached
    from pyamg.multilevel import MultilevelSolver
    from pyamg.relaxation.smoothing import change_smoothers

    levels = []
    for a, p, r in galerkin_levels(fm, system, unit):
        lvl = MultilevelSolver.Level()
        lvl.A = a
        if p is not None:
            lvl.P, lvl.R = p, r
        levels.append(lvl)
    ml = MultilevelSolver(levels, coarse_solver="pinv")
    gs = "block_gauss_seidel" if system.components > 1 else "gauss_seidel"
    if smoother == "symmetric":
        change_smoothers(ml, (gs, {"sweep": "symmetric"}), (gs, {"sweep": "symmetric"}))
    else:
        change_smoothers(ml, (gs, {"sweep": "forward"}), (gs, {"sweep": "backward"}))
    system.__dict__[key] = ml
    return ml


def vcycle(fm: FemMesh, system: LinearSystem, unit: sp.csr_matrix | None,
            smoother: str) -> Any:
    """The V-cycle of the estimate and the correction (cached on the system): the lean
    :class:`VCycle` on scalar CSR levels, pyamg's solver (:func:`amg_solver`) otherwise."""
    key = f"_vcycle:{smoother}"
    hit = system.__dict__.get(key)
    if hit is None:
        levels = galerkin_levels(fm, system, unit)
        scalar = system.components == 1 and all(sp.issparse(a) and a.format == "csr"
                                                for a, _, _ in levels[:-1])
        hit = (VCycle(levels, smoother) if scalar and smoother in SMOOTHERS
               else amg_solver(fm, system, unit, smoother=smoother))
        system.__dict__[key] = hit
    return hit


def native_plan(fm: FemMesh, system: LinearSystem,
                 unit: sp.csr_matrix | None) -> _native.NativePlan | None:
    """The compiled kernel's plan for this mesh and Dirichlet set (cached), or ``None``:
    no compiler (or ``GNNOPS_NATIVE=0``), a vector or non-CSR system, or the first
    coefficient seen on this mesh (whose scipy products are cheaper than building the
    Galerkin maps, see :func:`_galerkin_maps`)."""
    if system.components != 1 or not (sp.issparse(system.A) and system.A.format == "csr"):
        return None
    digest = _digest(system.fixed)
    if fm._store.get(f"galerkin:{digest}") is None or _native.library() is None:
        return None
    plan = fm._store.get(f"native:{digest}")
    if plan is not None:
        return plan if plan.matches(system.A) else None
    a_ff = free_matrix(fm, system)
    prolongators = _prolongators(fm, system, system.A if unit is None else unit)
    maps = _galerkin_maps(fm, system, a_ff, prolongators)
    if not maps or not maps[0].matches(a_ff) or maps[-1].m > _native.MAX_COARSE:
        return None
    take, indptr, indices = free_index(fm, system.A, system.fixed)
    plan = _native.NativePlan((indptr, indices), take, system.free, prolongators,
                              _restrictions(fm, system, prolongators), maps,
                              (system.A.indptr, system.A.indices))
    fm._store[f"native:{digest}"] = plan
    return plan


def native_cg(fm: FemMesh, system: LinearSystem, u: np.ndarray, w: np.ndarray,
               unit: sp.csr_matrix | None, *, cycles: int, min_cycles: int,
               rtol: float | None, smoother: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """AMG-CG on the residual equation of ``u`` by the compiled kernel (``e: [n]``, info as
    :func:`amg_cg`), or ``None`` where it does not apply (:func:`native_plan`)."""
    plan = native_plan(fm, system, unit) if smoother in SMOOTHERS else None
    if plan is None:
        return None
    return plan.algebraic_error(_native.library(), system.A, system.b, system.g, u, w,
                                cycles=cycles, min_cycles=min_cycles, rtol=rtol,
                                symmetric=smoother == "symmetric")
