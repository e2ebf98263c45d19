"""Hybrid solve: the Darcy CG solver warm-started from a prediction."""

from __future__ import annotations

import numpy as np
import pytest
from inference_fixtures import coefficient, make_artifact, square_mesh

import gnnops
from gnnops.errors import ProblemError
from gnnops.problems import get


@pytest.fixture
def darcy_model(tmp_path):
    return gnnops.load(make_artifact(tmp_path / "d.pt", problem="darcy", inputs=("a", "f")))


def test_refine_from_a_close_start_needs_fewer_iterations(darcy_model):
    m = square_mesh(33)
    a = coefficient(m)
    pred = darcy_model.predict(m, a=a, f=1.0)
    assert pred.residual is not None and pred.per_node_residual.shape == (33 * 33,)
    u_ref = get("darcy").solve(pred.data, a=a, f=np.ones(len(a)))["u"]
    # an untrained network is far from the solution: the residual says so
    assert pred.residual > 1e-2
    # stand-in for a good surrogate: the reference with a smooth 1e-3 relative error
    x, y = m.points[:, 0], m.points[:, 1]
    pred.fields = {"u": u_ref * (1 + 1e-3 * np.sin(np.pi * x) * np.sin(np.pi * y))}
    tol = 1e-10
    ref = darcy_model.refine(pred, tol=tol)
    assert ref.residual <= tol and ref.zero_residual <= tol
    assert ref.iterations < ref.zero_iterations
    np.testing.assert_allclose(ref.fields["u"], u_ref, atol=1e-6 * np.abs(u_ref).max())
    # from the (bad) untrained prediction it still converges to the same solution
    bad = darcy_model.refine(m, tol=tol, compare=False, a=a, f=1.0)
    assert bad.residual <= tol and bad.zero_iterations is None
    np.testing.assert_allclose(bad.fields["u"], u_ref, atol=1e-6 * np.abs(u_ref).max())


def test_refine_without_problem_is_refused(artifact):
    with pytest.raises(ProblemError, match="names none"):
        gnnops.load(artifact).refine(square_mesh(5), a=5.0)
