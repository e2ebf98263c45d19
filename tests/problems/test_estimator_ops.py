"""Per-mesh operators of the error estimate (gnnops.problems._estimator_ops) against the
direct computations they replace: sliced matrices and the per-cell ZZ loop."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from gnnops import meshing
from gnnops.problems import _estimator_ops as ops
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh
from gnnops.problems.elasticity import Elasticity


def test_free_submatrix_gathers_the_sliced_matrix_for_every_coefficient():
    darcy = get("darcy")
    fm = fem_mesh(meshing.unit_square(0.1))
    rng = np.random.default_rng(0)
    for _ in range(2):  # the second call hits the cached index
        system = darcy.system(fm, a=rng.uniform(1, 5, fm.n_nodes))
        got = ops.free_submatrix(fm, system.A, system.fixed)
        want = sp.csr_matrix(system.A[system.free][:, system.free])
        assert got.shape == want.shape == (int(system.free.sum()),) * 2
        assert abs(got - want).max() == 0.0
    # another pattern on the same mesh and Dirichlet set is sliced, not gathered
    other = sp.csr_matrix(sp.eye(fm.n_nodes) * 2.0)
    got = ops.free_submatrix(fm, other, system.fixed)
    np.testing.assert_array_equal(got.diagonal(), np.full(got.shape[0], 2.0))
    assert got.nnz == got.shape[0]


def _zz_loop(fm, u, flux):
    """The per-cell ZZ indicator written out cell by cell (lumped projection)."""
    _, grads, dx, edofs = fm.shape_data()
    n_cells, k = edofs.shape
    grad = np.einsum("ckj,kdc->cjd", u[edofs], grads[..., 0])  # [C, c, d]
    sigma, coef = flux(grad[:, None])
    sigma = sigma[:, 0]
    vol = dx.sum(axis=1)
    num = np.zeros((fm.n_nodes, sigma.shape[1]))
    den = np.zeros(fm.n_nodes)
    for c in range(n_cells):
        for i in edofs[c]:
            num[i] += vol[c] / k * sigma[c]
            den[i] += vol[c] / k
    g = num / den[:, None]
    out = np.zeros(n_cells)
    for c in range(n_cells):
        v = g[edofs[c]] - sigma[c]  # [k, m], linear in the cell
        out[c] = vol[c] * ((v**2).sum() + (v.sum(axis=0) ** 2).sum()) / (k * (k + 1))
    return out / coef**2


@pytest.mark.parametrize("kind", ["darcy-tri", "darcy-tet", "elasticity-tri"])
def test_simplex_recovery_matches_the_cell_loop(kind):
    rng = np.random.default_rng(1)
    if kind == "darcy-tet":
        fm = fem_mesh(meshing.box(0.35))
    else:
        fm = fem_mesh(meshing.unit_square(0.15))
    if kind.startswith("darcy"):
        prob, field = get("darcy"), {"a": rng.uniform(1, 5, fm.n_nodes)}
        u = rng.standard_normal((fm.n_nodes, 1))
    else:
        prob, field = Elasticity(), {"E": rng.uniform(1, 2, fm.n_nodes)}
        u = rng.standard_normal((fm.n_nodes, 2))
    flux = prob._flux(fm, prob._inputs(fm, field))
    got = ops.simplex_recovery(fm, u, flux)
    np.testing.assert_allclose(got, _zz_loop(fm, u, flux), rtol=1e-10)
    # a linear field has a constant flux (a = 1): nothing to recover, indicator 0
    if kind == "darcy-tri":
        lin = (fm.points @ np.array([2.0, -1.0]))[:, None]
        one = prob._flux(fm, prob._inputs(fm, {"a": np.ones(fm.n_nodes)}))
        assert ops.simplex_recovery(fm, lin, one).max() < 1e-20


def test_cells_to_nodes_conserves_the_total():
    fm = fem_mesh(meshing.unit_square(0.2))
    eta2 = np.random.default_rng(2).uniform(0, 1, len(fm.cells))
    mass = np.asarray(fm.mass().sum(axis=1)).ravel()
    d2 = ops.cells_to_nodes(fm, eta2, mass)
    assert mass @ d2 == pytest.approx(eta2.sum(), rel=1e-12)
