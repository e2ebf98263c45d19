"""Error estimator and AMG correction (gnnops.problems.estimators) against known answers.

Manufactured solutions with closed forms: the discretization estimate is within a factor 2
of the true L2 error (quadrature of order 6) on every mesh of a refinement sequence; the
algebraic part of the exact discrete solution is ~0 and that of a known perturbation matches
its norm within 10 %; correct() contracts the algebraic error at least by the V-cycle's.
"""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from gnnops import meshing
from gnnops.errors import ProblemError
from gnnops.problems import estimators as est
from gnnops.problems import get
from gnnops.problems._estimator_ops import _digest
from gnnops.problems._fem import fem_mesh
from gnnops.problems._linear import LinearSystem, direct_solve
from gnnops.problems.elasticity import Elasticity

PI = np.pi


def _sin(x: np.ndarray) -> np.ndarray:
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def _true_l2(fm, uh: np.ndarray, exact, comps: int = 1) -> float:
    """||u_h - u|| / ||u|| by order-6 quadrature of the P1 function u_h."""
    basis = skfem.CellBasis(fm.skfem_mesh, skfem.ElementTriP1(), intorder=6)
    ue = exact(basis.mapping.F(basis.quadrature[0])).reshape(comps, *basis.dx.shape)
    err = nrm = 0.0
    for j in range(comps):
        uq = np.asarray(basis.interpolate(uh.reshape(-1, comps)[:, j]))
        err += float((basis.dx * (uq - ue[j]) ** 2).sum())
        nrm += float((basis.dx * ue[j] ** 2).sum())
    return np.sqrt(err / nrm)


def _layered(x: np.ndarray, a1: float = 12.0, a2: float = 3.0) -> np.ndarray:
    """-(a u')' = 1 on (0, 1), u(0) = u(1) = 0, a = a1 for x < 1/2 else a2 (flux continuous)."""
    def prim(s, c):
        left = np.minimum(s, 0.5)
        val = (c * left - left**2 / 2) / a1
        return val + np.where(s > 0.5, (c * s - s**2 / 2 - (c * 0.5 - 0.125)) / a2, 0.0)

    f0 = prim(1.0, 0.0)
    return prim(x[0], -f0 / (prim(1.0, 1.0) - f0))


def _corner(x: np.ndarray) -> np.ndarray:
    """r^(2/3) sin(2 theta / 3) around the L-shape's re-entrant corner (0.5, 0.5)."""
    dx, dy = x[0] - 0.5, x[1] - 0.5
    theta = np.mod(np.arctan2(dy, dx) - PI / 2, 2 * PI)
    return np.hypot(dx, dy) ** (2 / 3) * np.sin(2 * theta / 3)


DARCY_CASES = {
    # name: (geometry, coefficient, exact solution, source, Dirichlet data from the exact)
    "sin, a = 1": (meshing.unit_square, lambda x: np.ones(x.shape[1]), _sin,
                   lambda x: 2 * PI**2 * _sin(x), False),
    "layered a = 12 / 3, interface not on the mesh": (
        meshing.unit_square, lambda x: np.where(x[0] < 0.5, 12.0, 3.0), _layered,
        lambda x: np.ones(x.shape[1]), True),
    "L-shape corner singularity": (meshing.l_shape, lambda x: np.ones(x.shape[1]), _corner,
                                   lambda x: np.zeros(x.shape[1]), True),
}


def _darcy(fm, case):
    _, coef, exact, source, dirichlet = case
    darcy = get("darcy")
    x = fm.points.T
    a = coef(x)
    system = darcy.system(fm, a=a, f=source(x))
    if dirichlet:
        system = LinearSystem(system.A, system.b, system.fixed,
                              np.where(system.fixed, exact(x), 0.0))
    return darcy, a, system


@pytest.mark.parametrize("name", list(DARCY_CASES))
def test_discretization_estimate_within_factor_2_on_refined_meshes(name):
    case = DARCY_CASES[name]
    ratios = []
    for h in (0.1, 0.05, 0.025):
        fm = fem_mesh(case[0](h))
        darcy, a, system = _darcy(fm, case)
        uh = direct_solve(system)
        e = est.estimate_error(fm, system, uh, darcy._flux(fm, {"a": a}),
                               unit=darcy._unit_matrix(fm))
        assert e.algebraic < 1e-10  # the exact discrete solution
        assert e.total == pytest.approx(np.hypot(e.algebraic, e.discretization))
        ratios.append(e.discretization / _true_l2(fm, uh, case[2]))
    assert all(0.5 <= r <= 2.0 for r in ratios), ratios


def test_elasticity_discretization_estimate_within_factor_2():
    nu = 0.3
    lam, mu = nu / ((1 + nu) * (1 - 2 * nu)), 1 / (2 * (1 + nu))

    def body(x):  # -div sigma of u = (s, s), s = sin(pi x) sin(pi y), E = 1
        s, c = _sin(x), np.cos(PI * x[0]) * np.cos(PI * x[1])
        f = -(lam + mu) * (-PI**2 * s + PI**2 * c) + mu * 2 * PI**2 * s
        return np.stack([f, f], axis=1)

    for h in (0.1, 0.05):
        fm = fem_mesh(meshing.unit_square(h))
        prob = Elasticity(clamp=fm.boundary, body_force=body(fm.points.T))
        ones = np.ones(fm.n_nodes)
        system = prob.system(fm, E=ones)
        uh = direct_solve(system)
        e = prob.error_estimate(fm, {"u": uh.reshape(-1, 2)}, E=ones)
        true = _true_l2(fm, uh, lambda x: np.stack([_sin(x), _sin(x)]), comps=2)
        assert e.algebraic < 1e-10
        assert 0.5 <= e.discretization / true <= 2.0, (h, e.discretization, true)


def _fno_case(h: float, seed: int = 0):
    darcy = get("darcy")
    fm = fem_mesh(meshing.unit_square(h))
    inputs = darcy.sample_inputs(np.random.default_rng(seed)).at(fm)
    uh = darcy.solve(fm, **inputs)["u"]
    return darcy, fm, inputs, uh


@pytest.mark.parametrize("kind", ["smooth", "rough"])
def test_algebraic_part_matches_a_known_perturbation(kind):
    darcy, fm, inputs, uh = _fno_case(0.03)
    x, y = fm.points.T
    if kind == "smooth":
        delta = np.sin(2 * PI * x) * np.sin(3 * PI * y)
    else:
        delta = np.random.default_rng(1).standard_normal(fm.n_nodes)
    delta *= 0.1 * np.abs(uh).max() * ~fm.boundary  # zero on the Dirichlet nodes
    m = est.lumped_mass(fm)
    e = darcy.error_estimate(fm, {"u": uh + delta}, **inputs)
    want = np.sqrt(m @ delta**2) / np.sqrt(m @ uh**2)
    assert e.algebraic == pytest.approx(want, rel=0.1)
    assert e.converged and e.iterations <= 30
    # the per-node indicator is the absolute error: its M-norm is the absolute total
    assert np.sqrt(m @ e.per_node**2) == pytest.approx(e.total * e.norm, rel=1e-9)
    # a Dirichlet mismatch is an exact part of the algebraic error
    shift = uh + 0.05 * fm.boundary
    e_bnd = darcy.error_estimate(fm, {"u": shift}, **inputs)
    assert e_bnd.algebraic * e_bnd.norm == pytest.approx(0.05 * np.sqrt(m @ fm.boundary),
                                                         rel=0.1)


def test_exact_discrete_solution_has_no_algebraic_error_elasticity():
    fm = fem_mesh(meshing.plate_with_hole(0.06))
    prob = Elasticity()
    E = np.full(fm.n_nodes, 2.0)
    u = prob.solve(fm, E=E)["u"]
    assert prob.error_estimate(fm, {"u": u}, E=E).algebraic < 1e-8
    e = prob.error_estimate(fm, {"u": 1.1 * u}, E=E)
    assert e.algebraic == pytest.approx(0.1 / 1.1, rel=0.1)


def _vcycle_contraction(a, ml, n_iter: int = 25) -> float:
    """Energy-norm contraction of the stationary V-cycle iteration (power iteration)."""
    rng = np.random.default_rng(0)
    err = rng.standard_normal(a.shape[0])
    m = ml.aspreconditioner(cycle="V")
    rho = 0.0
    for _ in range(n_iter):
        new = err - m @ (a @ err)
        rho = np.sqrt(new @ (a @ new) / (err @ (a @ err)))
        err = new / np.sqrt(new @ (a @ new))
    return float(rho)


def test_correct_contracts_by_the_vcycle_factor():
    darcy, fm, inputs, uh = _fno_case(0.02, seed=3)
    system = darcy.system(fm, **inputs)
    a_ff = system.reduced()[0]
    free = system.free
    rho = _vcycle_contraction(a_ff, est.amg_solver(fm, system, darcy._unit_matrix(fm)))
    assert 0.05 < rho < 0.9
    x, y = fm.points.T
    u0 = uh * (1 + 0.3 * np.sin(3 * PI * x) * np.cos(2 * PI * y))

    def energy(u):
        d = (u - uh)[free]
        return np.sqrt(d @ (a_ff @ d))

    e0 = energy(u0)
    for k in (1, 2, 5):
        fields, info = darcy.correct(fm, {"u": u0}, cycles=k, **inputs)
        assert info["cycles"] == k
        # CG minimizes the energy error over a space holding the stationary iterate
        assert energy(fields["u"]) <= 1.05 * rho**k * e0
        # the new estimate sees the remaining algebraic error (within 10 %)
        after = darcy.error_estimate(fm, fields, **inputs)
        m = est.lumped_mass(fm)
        true = np.sqrt(m @ (fields["u"] - uh) ** 2) / np.sqrt(m @ uh**2)
        assert after.algebraic == pytest.approx(true, rel=0.1)
    with pytest.raises(ProblemError, match="cycles as an integer >= 0"):
        darcy.correct(fm, {"u": u0}, cycles=-1, **inputs)


def test_aggregation_is_built_once_per_mesh():
    darcy, fm, inputs, _ = _fno_case(0.05, seed=5)
    other = get("darcy").sample_inputs(np.random.default_rng(6)).at(fm)
    s1, s2 = darcy.system(fm, **inputs), darcy.system(fm, **other)
    m1 = est.amg_solver(fm, s1, darcy._unit_matrix(fm))
    m2 = est.amg_solver(fm, s2, darcy._unit_matrix(fm))
    assert m1 is not m2 and m1.levels[0].P is m2.levels[0].P  # shared prolongators
    assert est.amg_solver(fm, s1) is m1  # cached on the system


def test_single_sweep_vcycle_shares_the_levels_and_is_symmetric():
    darcy, fm, inputs, uh = _fno_case(0.04, seed=7)
    system = darcy.system(fm, **inputs)
    sym = est.amg_solver(fm, system, darcy._unit_matrix(fm))
    single = est.amg_solver(fm, system, darcy._unit_matrix(fm), smoother="single")
    assert single is not sym and single.levels[1].A is sym.levels[1].A  # one Galerkin product
    m = single.aspreconditioner(cycle="V")
    rng = np.random.default_rng(0)
    r, s = rng.standard_normal((2, sym.levels[0].A.shape[0]))
    assert r @ (m @ s) == pytest.approx(s @ (m @ r), rel=1e-10)  # a CG preconditioner
    assert r @ (m @ r) > 0
    # the estimate (single sweeps, RTOL) of a known perturbation: within 1 %
    delta = 0.05 * np.sin(3 * PI * fm.points[:, 0]) * ~fm.boundary
    e = darcy.error_estimate(fm, {"u": uh + delta}, **inputs)
    mass = est.lumped_mass(fm)
    assert e.algebraic * e.norm == pytest.approx(np.sqrt(mass @ delta**2), rel=0.01)
    assert e.converged and e.iterations <= 8
    with pytest.raises(ValueError, match="unknown smoother"):
        est.amg_solver(fm, system, smoother="jacobi")


def test_galerkin_map_gives_scipys_products_from_the_second_coefficient_on():
    from gnnops.problems._estimator_ops import GalerkinMap

    darcy, fm, _, _ = _fno_case(0.04, seed=8)
    unit = darcy._unit_matrix(fm)
    draws = [get("darcy").sample_inputs(np.random.default_rng(20 + k)).at(fm) for k in range(3)]
    solvers = [est.amg_solver(fm, darcy.system(fm, **inp), unit) for inp in draws]
    maps = fm._store[f"galerkin:{_digest(darcy.system(fm, **draws[0]).fixed)}"]
    assert len(maps) == len(solvers[0].levels) - 1 and all(isinstance(g, GalerkinMap)
                                                           for g in maps)
    for ml in solvers:  # first: scipy's products; second and third: the cached maps
        for fine, coarse in zip(ml.levels[:-1], ml.levels[1:], strict=True):
            want = (fine.R @ (fine.A @ fine.P)).toarray()
            got = coarse.A.toarray()
            assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
    # a matrix of another pattern is not mapped
    other = maps[0]
    a = solvers[0].levels[0].A.tolil()
    a[0, a.shape[1] - 1] = 1.0
    assert not other.matches(a.tocsr())
