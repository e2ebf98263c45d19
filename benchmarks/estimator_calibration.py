"""Calibration of the discretization error estimator (``gnnops.problems.estimators``).

The flux-recovery indicator is turned into an L2 estimate by ``L2_CONSTANT * h_K``; this
script computes, with the constant set to 1, the ratio true / estimated L2 error of the
exact discrete solution on manufactured problems with closed-form solutions, and prints
its geometric mean (the value of ``L2_CONSTANT``) and range. The true error is the L2 norm
of ``u_h - u`` by order-6 quadrature. No case of the trust benchmark (random Darcy
coefficients, network predictions) is used.

Usage::

    python benchmarks/estimator_calibration.py [--hs 0.1 0.05 0.025 0.0125]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

PI = np.pi


def true_l2(fm, uh, exact, comps=1) -> float:
    """||u_h - u|| / ||u|| by order-6 quadrature."""
    import skfem

    el = {"triangle": skfem.ElementTriP1(), "tetra": skfem.ElementTetP1(),
          "quad": skfem.ElementQuad1()}[fm.cell_type]
    basis = skfem.CellBasis(fm.skfem_mesh, el, intorder=6)
    ue = exact(basis.mapping.F(basis.quadrature[0])).reshape(comps, *basis.dx.shape)
    err = nrm = 0.0
    for j in range(comps):
        uq = np.asarray(basis.interpolate(uh.reshape(-1, comps)[:, j]))
        err += float((basis.dx * (uq - ue[j]) ** 2).sum())
        nrm += float((basis.dx * ue[j] ** 2).sum())
    return float(np.sqrt(err / nrm))


def _s(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def _layered(x, a1=12.0, a2=3.0):
    def prim(s, c):
        left = np.minimum(s, 0.5)
        val = (c * left - left**2 / 2) / a1
        return val + np.where(s > 0.5, (c * s - s**2 / 2 - (c * 0.5 - 0.125)) / a2, 0.0)

    f0 = prim(1.0, 0.0)
    return prim(x[0], -f0 / (prim(1.0, 1.0) - f0))


def _corner(x):
    dx, dy = x[0] - 0.5, x[1] - 0.5
    return np.hypot(dx, dy) ** (2 / 3) * np.sin(2 * np.mod(np.arctan2(dy, dx) - PI / 2,
                                                           2 * PI) / 3)


def _smooth_a(x):
    return 1 + 0.5 * np.sin(2 * PI * x[0]) * np.cos(PI * x[1])


def _u2(x):
    return np.sin(PI * x[0]) * np.sin(2 * PI * x[1])


def _f2(x):
    ax = PI * np.cos(2 * PI * x[0]) * np.cos(PI * x[1])
    ay = -0.5 * PI * np.sin(2 * PI * x[0]) * np.sin(PI * x[1])
    ux = PI * np.cos(PI * x[0]) * np.sin(2 * PI * x[1])
    uy = 2 * PI * np.sin(PI * x[0]) * np.cos(2 * PI * x[1])
    return -(_smooth_a(x) * (-5 * PI**2 * _u2(x)) + ax * ux + ay * uy)


def _plate_u(x):
    return _s(x) * ((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 - 0.04)


def _plate_f(x):
    q = (x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 - 0.04
    sx = PI * np.cos(PI * x[0]) * np.sin(PI * x[1])
    sy = PI * np.sin(PI * x[0]) * np.cos(PI * x[1])
    return -(q * (-2 * PI**2 * _s(x)) + 2 * (sx * 2 * (x[0] - 0.5) + sy * 2 * (x[1] - 0.5))
             + 4 * _s(x))


def _s3(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1]) * np.sin(PI * x[2])


def darcy_cases():
    from gnnops import meshing

    one = lambda x: np.ones(x.shape[1])  # noqa: E731
    return {
        "P1 sin, a = 1": (meshing.unit_square, one, _s, lambda x: 2 * PI**2 * _s(x), False),
        "P1 smooth variable a": (meshing.unit_square, _smooth_a, _u2, _f2, False),
        "P1 layered a 12/3": (meshing.unit_square, lambda x: np.where(x[0] < 0.5, 12.0, 3.0),
                              _layered, one, True),
        "P1 L-shape corner": (meshing.l_shape, one, _corner, lambda x: 0 * one(x), True),
        "P1 plate with hole": (meshing.plate_with_hole, one, _plate_u, _plate_f, True),
        "Q1 sin, a = 1": (lambda h: meshing.unit_square(h, quad=True), one, _s,
                          lambda x: 2 * PI**2 * _s(x), False),
        "P1 tets sin, a = 1": (meshing.box, one, _s3, lambda x: 3 * PI**2 * _s3(x), False),
    }


def darcy_ratio(mesh, coef, exact, source, dirichlet) -> tuple[int, float, float]:
    """(nodes, true L2 error, estimate with constant 1) of the exact discrete solution."""
    from gnnops.problems import estimators as est
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems._linear import LinearSystem, direct_solve

    fm = fem_mesh(mesh)
    darcy, x = get("darcy"), fm.points.T
    a = coef(x)
    system = darcy.system(fm, a=a, f=source(x))
    if dirichlet:
        system = LinearSystem(system.A, system.b, system.fixed,
                              np.where(system.fixed, exact(x), 0.0))
    uh = direct_solve(system, dim=fm.dim)
    e = est.estimate_error(fm, system, uh, darcy._flux(fm, {"a": a}),
                           unit=darcy._unit_matrix(fm))
    return fm.n_nodes, true_l2(fm, uh, exact), e.discretization


def elasticity_ratio(h: float) -> tuple[int, float, float]:
    from gnnops import meshing
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems.elasticity import Elasticity

    nu = 0.3
    lam, mu = nu / ((1 + nu) * (1 - 2 * nu)), 1 / (2 * (1 + nu))
    fm = fem_mesh(meshing.unit_square(h))
    x = fm.points.T
    f = -(lam + mu) * (-PI**2 * _s(x) + PI**2 * np.cos(PI * x[0]) * np.cos(PI * x[1]))
    f = f + mu * 2 * PI**2 * _s(x)
    prob = Elasticity(clamp=fm.boundary, body_force=np.stack([f, f], axis=1))
    ones = np.ones(fm.n_nodes)
    u = prob.solve(fm, E=ones)["u"]
    e = prob.error_estimate(fm, {"u": u}, E=ones)
    return fm.n_nodes, true_l2(fm, u.reshape(-1), lambda X: np.stack([_s(X), _s(X)]), 2), \
        e.discretization


def main() -> None:
    from gnnops.problems import estimators as est

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hs", type=float, nargs="+", default=[0.1, 0.05, 0.025, 0.0125])
    args = ap.parse_args()
    saved, est.L2_CONSTANT = est.L2_CONSTANT, 1.0
    rows = []
    t0 = time.perf_counter()
    print(f"{'case':22s} {'h':>7s} {'nodes':>6s} {'true L2':>9s} {'est (C=1)':>9s} "
          f"{'ratio':>6s}")
    for name, (geo, coef, exact, source, dirichlet) in darcy_cases().items():
        hs = [max(h, 0.07) for h in args.hs[:3]] if "tets" in name else args.hs[:3] \
            if "Q1" in name else args.hs
        for h in sorted(set(hs), reverse=True):
            n, true, eta = darcy_ratio(geo(h), coef, exact, source, dirichlet)
            rows.append(true / eta)
            print(f"{name:22s} {h:7.4f} {n:6d} {true:9.3e} {eta:9.3e} {true / eta:6.3f}")
    for h in args.hs[:3]:
        n, true, eta = elasticity_ratio(h)
        rows.append(true / eta)
        print(f"{'P1 elasticity':22s} {h:7.4f} {n:6d} {true:9.3e} {eta:9.3e} {true / eta:6.3f}")
    est.L2_CONSTANT = saved
    r = np.array(rows)
    gm = float(np.exp(np.log(r).mean()))
    print(f"\n{len(r)} cases: geometric mean {gm:.3f} (L2_CONSTANT = {saved}), range "
          f"[{r.min():.3f}, {r.max():.3f}]; with the constant, estimate / true in "
          f"[{saved / r.max():.2f}, {saved / r.min():.2f}]; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
