"""mmatrix_solve: exact solve, adjoint gradients, maximum principle, factorization reuse."""

from __future__ import annotations

import pytest
import torch

from gnnops.models.sparse_solve import assemble, mmatrix_solve

pytestmark = pytest.mark.usefixtures("one_thread")

SRC = torch.tensor([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0, 5])
DST = torch.tensor([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 5, 0])


def _system(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    d = torch.rand(6, generator=g, dtype=torch.float64) + 0.2
    c = torch.rand(12, generator=g, dtype=torch.float64)  # not symmetric: c_ij != c_ji
    b = torch.randn(6, 2, generator=g, dtype=torch.float64)
    return d, c, b


def test_solves_the_assembled_system() -> None:
    d, c, b = _system()
    x = mmatrix_solve(d, c, b, SRC, DST)
    a = torch.tensor(assemble(d, c, SRC, DST).toarray())
    torch.testing.assert_close(a @ x, b)
    # row i: d_i x_i + sum_{e: dst=i} c_e (x_i - x_src)
    lx = d[:, None] * x
    lx = lx.index_add(0, DST, c[:, None] * (x[DST] - x[SRC]))
    torch.testing.assert_close(lx, b)


def test_gradients_match_finite_differences() -> None:
    d, c, b = _system(1)
    args = tuple(t.clone().requires_grad_() for t in (d, c, b))
    assert torch.autograd.gradcheck(lambda d, c, b: mmatrix_solve(d, c, b, SRC, DST), args)


def test_maximum_principle() -> None:
    """``|| A^-1 diag(d) b ||_inf <= || b ||_inf`` for an M-matrix with any c >= 0."""
    d, c, b = _system(2)
    x = mmatrix_solve(d, c * 50.0, d[:, None] * b, SRC, DST)
    assert float(x.abs().max()) <= float(b.abs().max()) + 1e-12


def test_reused_factorization_only_for_the_same_matrix() -> None:
    d, c, b = _system(3)
    with torch.no_grad():
        x1 = mmatrix_solve(d, c, b, SRC, DST)
        x2 = mmatrix_solve(d.clone(), c.clone(), b, SRC, DST)  # cache hit: same matrix
        x3 = mmatrix_solve(d * 2.0, c, b, SRC, DST)  # another matrix: refactorized
    torch.testing.assert_close(x1, x2)
    a3 = torch.tensor(assemble(d * 2.0, c, SRC, DST).toarray())
    torch.testing.assert_close(a3 @ x3, b)
