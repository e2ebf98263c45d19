"""P1 transfer: exact on P1 functions, second-order on smooth ones, clamped outside."""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from gnnops.errors import ProblemError
from gnnops.problems.transfer import P1Transfer


def test_linear_functions_are_reproduced_exactly_2d_and_3d() -> None:
    rng = np.random.default_rng(0)
    for mesh in (skfem.MeshTri().refined(3), skfem.MeshTet().refined(2)):
        pts, cells = mesh.p.T, mesh.t.T
        coef = rng.normal(size=pts.shape[1])
        tr = P1Transfer(pts, cells)
        x = rng.uniform(0, 1, size=(500, pts.shape[1]))
        np.testing.assert_allclose(tr(pts @ coef + 0.5, x), x @ coef + 0.5, atol=1e-12)
        assert tr.outside_distance.max() < 1e-12


def test_smooth_function_converges_at_second_order() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(2000, 2))
    u = lambda p: np.sin(3 * p[:, 0]) * np.cos(2 * p[:, 1])  # noqa: E731
    errs, hs = [], []
    for k in (2, 3, 4, 5):
        m = skfem.MeshTri().refined(k)
        errs.append(np.abs(P1Transfer(m.p.T, m.t.T)(u(m.p.T), x) - u(x)).max())
        hs.append(2.0 ** -k)
    rate = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert 1.8 < rate < 2.3


def test_outside_points_are_clamped_and_reported() -> None:
    m = skfem.MeshTri().refined(2)
    tr = P1Transfer(m.p.T, m.t.T)
    v = tr(m.p[0], np.array([[1.01, 0.5], [0.5, 0.5]]))  # u = x
    np.testing.assert_allclose(v, [1.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(tr.outside_distance, [0.01, 0.0], atol=1e-12)


def test_bad_shapes() -> None:
    m = skfem.MeshTri()
    with pytest.raises(ProblemError, match=r"\[C, 3\]"):
        P1Transfer(m.p.T, m.t.T[:, :2])
    with pytest.raises(ProblemError, match=r"\[M, 2\]"):
        P1Transfer(m.p.T, m.t.T).matrix(np.zeros((3, 3)))
