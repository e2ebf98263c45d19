"""Linear systems with Dirichlet rows (problems/_linear.py): 1-D Poisson with a known nodal
solution, the residual's definition, PCG, field checks, torch sparse conversion."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gnnops.errors import ProblemError
from gnnops.problems._linear import (
    LinearSystem,
    _blas_setters,
    as_array,
    blas_threads,
    check_field,
    direct_solve,
    factorize,
    pcg,
    to_torch_sparse,
)


def poisson_1d(n: int = 11) -> tuple[LinearSystem, np.ndarray]:
    """P1 elements for -u'' = 1 on [0, 1], u(0) = 0, u(1) = 1/2: exact u = x - x^2 / 2, which
    linear elements reproduce at the nodes (1-D)."""
    h = 1.0 / (n - 1)
    x = np.linspace(0, 1, n)
    a = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tolil()
    a[0, 0] = a[-1, -1] = 1.0
    b = np.full(n, h)
    b[[0, -1]] = h / 2
    fixed = np.zeros(n, dtype=bool)
    fixed[[0, -1]] = True
    g = np.zeros(n)
    g[-1] = 0.5
    exact = x * (1 - x) / 2 + x / 2
    return LinearSystem((a / h).tocsr(), b, fixed, g), exact


def test_direct_and_amg_solve_reproduce_the_nodal_solution():
    system, exact = poisson_1d()
    for method in ("direct", "amg", "auto"):
        u = direct_solve(system, method=method)
        np.testing.assert_allclose(u, exact, atol=1e-10)
        assert system.residual(u) < 1e-10
    with pytest.raises(ProblemError, match="unknown solver method 'lu'"):
        direct_solve(system, method="lu")


def _laplacian_2d(m: int) -> sp.csr_matrix:
    """5-point Laplacian on an m x m grid (SPD), [m^2, m^2]."""
    t = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return sp.csr_matrix(sp.kronsum(t, t))


def test_factorize_orders_spd_matrices_symmetrically_and_solves_them_like_colamd():
    a = _laplacian_2d(30)
    rng = np.random.default_rng(0)
    b = rng.standard_normal(a.shape[0])
    lu = factorize(a)
    assert lu.symmetric
    x = lu.solve(b)
    np.testing.assert_allclose(a @ x, b, atol=1e-10)
    import scipy.sparse.linalg as spla
    np.testing.assert_allclose(x, spla.splu(a.tocsc()).solve(b), rtol=1e-10, atol=1e-12)
    # the symmetric (minimum degree) ordering fills less than SuperLU's default here
    colamd = spla.splu(a.tocsc())
    assert lu.lu.L.nnz + lu.lu.U.nnz < colamd.L.nnz + colamd.U.nnz


def test_factorize_pivots_where_the_matrix_is_not_symmetric():
    rng = np.random.default_rng(1)
    a = _laplacian_2d(6)
    b = rng.standard_normal(a.shape[0])
    nonsym = a + sp.diags(np.ones(a.shape[0] - 1), 1)
    lu = factorize(nonsym)
    assert not lu.symmetric
    np.testing.assert_allclose(nonsym @ lu.solve(b), b, atol=1e-10)
    # symmetric, positive diagonal, indefinite: whichever factors are kept, they solve it
    ind = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 1.0]]))
    np.testing.assert_allclose(ind @ factorize(ind).solve(b[:3]), b[:3], atol=1e-12)


class _WrongFactors:
    """Factors that do not solve the system (a failed factorization without pivoting)."""

    def solve(self, b: np.ndarray) -> np.ndarray:
        return 2.0 * b


def _splu_symmetric_fails(how: str):
    import scipy.sparse.linalg as spla

    real = spla.splu

    def splu(a, **kw):
        if kw.get("options", {}).get("SymmetricMode"):
            if how == "raise":
                raise RuntimeError("Factor is exactly singular")
            return _WrongFactors()
        return real(a, **kw)
    return splu


@pytest.mark.parametrize("how", ["raise", "wrong"])
def test_failed_symmetric_factors_fall_back_to_pivoting(monkeypatch, how):
    import gnnops.problems._linear as lin

    monkeypatch.setattr(lin.spla, "splu", _splu_symmetric_fails(how))
    a = _laplacian_2d(8)
    b = np.random.default_rng(2).standard_normal(a.shape[0])
    lu = factorize(a)
    assert not lu.symmetric
    np.testing.assert_allclose(a @ lu.solve(b), b, atol=1e-10)
    system = LinearSystem(a, b, np.zeros(a.shape[0], dtype=bool), np.zeros(a.shape[0]))
    np.testing.assert_allclose(a @ direct_solve(system, method="direct"), b, atol=1e-10)


def test_residual_is_linear_in_a_perturbation_and_sees_the_dirichlet_mismatch():
    system, exact = poisson_1d()
    ahat, bhat = system.dirichlet_operator()
    n = len(exact)
    # fixed rows are d_i e_i with d_i the diagonal of A (here 1/h = 10), b̂ = d_i g_i
    np.testing.assert_array_equal(ahat.getrow(0).toarray()[0], np.eye(n)[0] * 10)
    assert bhat[0] == 0.0 and bhat[-1] == pytest.approx(5.0)
    v = np.sin(np.arange(n))
    for eps in (1e-3, 1e-2):
        want = eps * np.linalg.norm(ahat @ v) / np.linalg.norm(system.b[1:-1])
        assert system.residual(exact + eps * v) == pytest.approx(want, rel=1e-8)
    bad = exact.copy()
    bad[-1] += 0.1  # boundary value off by 0.1: |d (u - g)| = 1 in the last row
    per_node = system.residual_per_node(bad)
    assert per_node[-1] == pytest.approx(1.0) and per_node[:-2].max() < 1e-12
    a_ff, rhs = system.reduced()
    assert a_ff.shape == (n - 2, n - 2)
    np.testing.assert_allclose(system.expand(np.linalg.solve(a_ff.toarray(), rhs)), exact,
                               atol=1e-12)


def test_residual_per_node_of_vector_fields_is_the_norm_over_components():
    a = sp.identity(4, format="csr")
    system = LinearSystem(a, np.ones(4), np.zeros(4, dtype=bool), np.zeros(4), components=2)
    u = np.array([1.0, 1.0, 4.0, 5.0])  # node 0: (0, 0) off; node 1: (3, 4) off
    np.testing.assert_allclose(system.residual_per_node(u), [0.0, 5.0])
    assert system.residual(u) == pytest.approx(5.0 / 2.0)


@pytest.mark.parametrize("kind", ["amg", "ilu", "none"])
def test_pcg_reaches_its_tolerance(kind):
    system, exact = poisson_1d(41)
    a_ff, rhs = system.reduced()
    x, info = pcg(a_ff, rhs, tol=1e-10, preconditioner=kind)
    assert info["converged"] and info["residual"] <= 1e-10
    np.testing.assert_allclose(system.expand(x), exact, atol=1e-8)
    x2, info2 = pcg(a_ff, rhs, x0=x, tol=1e-6, preconditioner=kind)
    assert info2["iterations"] == 0 and np.array_equal(x2, x)  # a converged start stays
    with pytest.raises(ProblemError, match="unknown preconditioner 'jacobi'"):
        pcg(a_ff, rhs, preconditioner="jacobi")


def test_preconditioning_cuts_iterations():
    system, _ = poisson_1d(41)
    a_ff, rhs = system.reduced()
    its = {k: pcg(a_ff, rhs, tol=1e-10, preconditioner=k)[1]["iterations"]
           for k in ("none", "amg", "ilu")}
    assert its["amg"] < its["none"] and its["ilu"] < its["none"]
    assert its["ilu"] <= 2  # drop_tol 1e-5 ILU of a tridiagonal matrix is its exact LU


def test_check_field_broadcasts_and_validates():
    np.testing.assert_array_equal(check_field("a", 2.0, 3), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(check_field("a", [[1.0], [2.0]], 2), [1.0, 2.0])
    np.testing.assert_array_equal(check_field("f", [1.0, -1.0], 2, components=2),
                                  [[1.0, -1.0], [1.0, -1.0]])
    np.testing.assert_array_equal(check_field("a", torch.tensor([1.0, 3.0]), 2), [1.0, 3.0])
    with pytest.raises(ProblemError, match=r"expected 'a' with 1 value per node \(N=3\), got "
                                           r"shape \[2\]"):
        check_field("a", [1.0, 2.0], 3)
    with pytest.raises(ProblemError, match=r"'a' contains non-finite values \(1 of 2\)"):
        check_field("a", [1.0, np.inf], 2)
    with pytest.raises(ProblemError, match=r"expected 'a' > 0 everywhere, got min -1"):
        check_field("a", [1.0, -1.0], 2, positive=True)
    with pytest.raises(ProblemError, match="missing input 'a'"):
        check_field("a", None, 2)
    assert as_array(torch.ones(2, requires_grad=True)).dtype == np.float64


def test_to_torch_sparse_sums_duplicates_and_carries_gradients():
    a = sp.coo_matrix(([1.0, 2.0, 5.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    t = to_torch_sparse(a, torch.float64)
    torch.testing.assert_close(t.to_dense(), torch.tensor([[0.0, 3.0], [5.0, 0.0]],
                                                          dtype=torch.float64))
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (t @ x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([5.0, 3.0], dtype=torch.float64))


def test_blas_threads_restores_the_previous_count():
    setters = _blas_setters()
    if not setters:
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local in this process")
    before = [fn(2) for fn in setters]  # set 2, remember the old count
    with blas_threads(1):
        assert [fn(1) for fn in setters] == [1] * len(setters)  # inside: 1 thread
    assert [fn(2) for fn in setters] == [2] * len(setters)  # restored to 2 on exit
    for fn, old in zip(setters, before, strict=True):
        fn(old)


def test_a_high_contrast_darcy_system_keeps_the_symmetric_factors():
    """Contrast 1e6 across the thresholded field: the backward-error check keeps the
    symmetric factors (no needless second factorization) and they agree with COLAMD's."""
    import scipy.sparse.linalg as spla

    from gnnops.meshing import make_geometry
    from gnnops.problems import get
    from gnnops.problems._fem import fem_mesh
    from gnnops.problems._linear import _solves

    darcy = get("darcy")
    fm = fem_mesh(make_geometry("unit_square", 0.05))
    sample = darcy.sample_inputs(np.random.default_rng(0), a_pos=1e6, a_neg=1.0)
    system = darcy.system(fm, **darcy.evaluate_inputs(sample, fm))
    a, b = system.reduced()
    lu = factorize(a, check=False)
    x = lu.solve(b)
    assert lu.symmetric and _solves(a, lu, b, x)
    np.testing.assert_allclose(x, spla.splu(a.tocsc()).solve(b), rtol=1e-8,
                               atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(direct_solve(system, method="direct")[system.free], x,
                               rtol=1e-12, atol=0)
