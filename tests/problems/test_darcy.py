"""Darcy flow: convergence, residuals, torch residual, iterative solve, errors."""

import meshio
import numpy as np
import pytest
import torch
from skfem import MeshQuad, MeshTet, MeshTri
from skfem.io.meshio import to_meshio
from torch_geometric.data import Batch, Data

from gnnops.errors import MeshError, ProblemError
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh


def square(k: int, kind=MeshTri) -> meshio.Mesh:
    """Unit square refined k times, stored with a z = 0 column (exercises the 2D drop)."""
    m = to_meshio(kind().refined(k))
    return meshio.Mesh(np.c_[m.points[:, :2], np.zeros(len(m.points))], m.cells)


def as_data(mesh: meshio.Mesh) -> Data:
    cells = mesh.cells[0]
    return Data(pos=torch.tensor(mesh.points[:, :2], dtype=torch.float32),
                cell_index=torch.tensor(cells.data.T, dtype=torch.long), cell_type=cells.type)


def manufactured(p):
    """u = prod sin(pi x_i), a = 1 + x^2 + y/2 (+ z/3); f = -div(a grad u)."""
    d = p.shape[1]
    s, c = np.sin(np.pi * p), np.cos(np.pi * p)
    u = s.prod(axis=1)
    grad = np.stack([np.pi * c[:, i] * np.delete(s, i, axis=1).prod(axis=1)
                     for i in range(d)], axis=1)
    da = np.zeros_like(p)
    da[:, 0] = 2 * p[:, 0]
    da[:, 1] = 0.5
    a = 1 + p[:, 0] ** 2 + 0.5 * p[:, 1]
    if d == 3:
        da[:, 2] = 1 / 3
        a = a + p[:, 2] / 3
    f = -(da * grad).sum(axis=1) + a * d * np.pi**2 * u
    return u, a, f


def l2_rate(meshes):
    darcy, hs, errs = get("darcy"), [], []
    for mesh in meshes:
        fm = fem_mesh(mesh)
        u, a, f = manufactured(fm.points)
        e = darcy.solve(mesh, a=a, f=f)["u"] - u
        errs.append(np.sqrt(e @ fm.mass() @ e))
        hs.append(fm.n_nodes ** (-1.0 / fm.dim))
    return np.polyfit(np.log(hs), np.log(errs), 1)[0]


def test_p1_triangles_second_order():
    assert l2_rate([square(k) for k in (3, 4, 5, 6)]) >= 1.9


def test_q1_quads_second_order():
    assert l2_rate([square(k, MeshQuad) for k in (2, 3, 4, 5)]) >= 1.9


def test_p1_tets_second_order():
    # level 1 has no interior node; 3 levels of a 3D mesh are still slightly pre-asymptotic
    assert l2_rate([to_meshio(MeshTet().refined(k)) for k in (2, 3, 4)]) >= 1.85


@pytest.fixture(scope="module")
def case():
    mesh = square(4)
    darcy = get("darcy")
    inputs = darcy.sample_inputs(np.random.default_rng(0)).at(mesh)
    return darcy, mesh, inputs, darcy.solve(mesh, **inputs)["u"]


def test_sample_is_fno_threshold_and_inputs_agree_across_formats(case, tmp_path):
    darcy, mesh, inputs, u = case
    assert set(np.unique(inputs["a"])) == {3.0, 12.0}
    np.testing.assert_array_equal(inputs["f"], 1.0)
    path = tmp_path / "sq.vtu"
    meshio.write(path, mesh)
    for other in (path, as_data(mesh)):
        np.testing.assert_allclose(darcy.solve(other, **inputs)["u"], u, atol=1e-6)
    lognormal = darcy.sample_inputs(np.random.default_rng(0), kind="lognormal").at(mesh)
    assert lognormal["a"].min() > 0 and len(np.unique(lognormal["a"])) > 100


def test_residual_zero_for_solution_and_proportional_to_perturbation(case):
    darcy, mesh, inputs, u = case
    assert darcy.residual(mesh, {"u": u}, **inputs) <= 1e-10
    rng = np.random.default_rng(1)
    v = rng.standard_normal(len(u))
    res = [darcy.residual(mesh, {"u": u + eps * v}, **inputs) for eps in (1e-4, 1e-3, 1e-2)]
    assert res[0] < res[1] < res[2]
    np.testing.assert_allclose(res[1] / res[0], 10, rtol=1e-3)
    np.testing.assert_allclose(res[2] / res[1], 10, rtol=1e-3)
    per_node = darcy.residual_per_node(mesh, {"u": u + 1e-3 * v}, **inputs)
    assert per_node.shape == (len(u),) and per_node.min() >= 0
    # a Dirichlet mismatch alone is seen too
    bad = u.copy()
    bad[fem_mesh(mesh).boundary] += 1e-3
    assert darcy.residual(mesh, {"u": bad}, **inputs) > 1e-5


def test_residual_torch_matches_and_batches(case):
    darcy, mesh, inputs, u = case
    data = as_data(mesh)
    rng = np.random.default_rng(2)
    up = u + 1e-3 * rng.standard_normal(len(u))
    out = torch.tensor(up[:, None], requires_grad=True)
    r = darcy.residual_torch(data, out, **inputs)
    assert r.item() == pytest.approx(darcy.residual(mesh, {"u": up}, **inputs), rel=1e-6)
    r.backward()
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    # batch of two graphs (second one coarser, other inputs): the mean of both residuals
    small = square(3)
    inp2 = darcy.sample_inputs(np.random.default_rng(5)).at(small)
    u2 = darcy.solve(small, **inp2)["u"] + 1e-2
    batch = Batch.from_data_list([data, as_data(small)])
    both = torch.tensor(np.r_[up, u2][:, None])
    rb = darcy.residual_torch(batch, both, a=np.r_[inputs["a"], inp2["a"]], f=1.0)
    expected = 0.5 * (darcy.residual(mesh, {"u": up}, **inputs)
                      + darcy.residual(small, {"u": u2}, **inp2))
    assert rb.item() == pytest.approx(expected, rel=1e-6)
    # inputs may come from data.x columns ("a", "f")
    data.x = torch.tensor(np.c_[inputs["a"], inputs["f"]])
    assert darcy.residual_torch(data, torch.tensor(up)).item() == pytest.approx(r.item())


def test_same_sample_coarse_vs_fine_within_discretization_error():
    from scipy.interpolate import LinearNDInterpolator

    darcy = get("darcy")
    sample = darcy.sample_inputs(np.random.default_rng(3), kind="lognormal")
    meshes = [square(k) for k in (4, 5, 6)]
    sols = [darcy.solve(m, **sample.at(m))["u"] for m in meshes]
    finest = fem_mesh(meshes[2])

    def diff(i):
        p = fem_mesh(meshes[i]).points
        interp = LinearNDInterpolator(p, sols[i])(finest.points)
        e = interp - sols[2]
        return np.sqrt(e @ finest.mass() @ e)

    coarse, mid = diff(0), diff(1)
    norm = np.sqrt(sols[2] @ finest.mass() @ sols[2])
    assert coarse / norm < 0.02  # same field, so a small discretization error only
    assert 2.5 < coarse / mid < 6  # and it shrinks like h^2 (factor 4 per refinement)


def test_solve_iterative_warm_start(case):
    darcy, mesh, inputs, u = case
    exact, info0 = darcy.solve_iterative(mesh, x0={"u": u}, tol=1e-8, **inputs)
    assert info0["iterations"] == 0 and info0["residual"] <= 1e-8
    for pre in ("amg", "ilu", "none"):
        cold_u, cold = darcy.solve_iterative(mesh, tol=1e-8, preconditioner=pre, **inputs)
        guess = u * (1 + 1e-4 * np.sin(3 * fem_mesh(mesh).points[:, 0]))  # residual ~1e-4
        _, warm = darcy.solve_iterative(mesh, x0=guess, tol=1e-8, preconditioner=pre, **inputs)
        assert cold["residual"] <= 1e-8 and warm["residual"] <= 1e-8
        if pre == "ilu":  # near-exact factorization on 289 nodes: 2 iterations cold
            assert warm["iterations"] <= cold["iterations"]
        else:
            assert warm["iterations"] < cold["iterations"]
        assert darcy.residual(mesh, cold_u, **inputs) <= 1e-8
        np.testing.assert_allclose(cold_u["u"], u, atol=1e-6 * np.abs(u).max())


def test_errors(case, tmp_path):
    darcy, mesh, inputs, u = case
    n = len(u)
    with pytest.raises(ProblemError, match=rf"1 value per node \(N={n}\), got shape \[5\]"):
        darcy.solve(mesh, a=np.ones(5))
    with pytest.raises(ProblemError, match="> 0 everywhere"):
        darcy.solve(mesh, a=-np.ones(n))
    bad = np.ones(n)
    bad[3] = np.nan
    with pytest.raises(ProblemError, match="non-finite"):
        darcy.solve(mesh, a=bad)
    with pytest.raises(ProblemError, match="unknown darcy inputs"):
        darcy.solve(mesh, a=1.0, kappa=1.0)
    with pytest.raises(ProblemError, match=r"shape \[289\]"):
        darcy.residual(mesh, {"u": u[:-1]}, **inputs)
    with pytest.raises(ProblemError, match="fno, lognormal"):
        darcy.sample_inputs(np.random.default_rng(0), kind="gauss")
    with pytest.raises(ProblemError, match="cell types"):
        darcy.solve(meshio.Mesh(np.zeros((3, 2)), [("line", np.array([[0, 1], [1, 2]]))]), a=1)
    with pytest.raises(MeshError, match="mesh file not found: .*missing.vtu"):
        darcy.solve(tmp_path / "missing.vtu", a=1.0)
    with pytest.raises(ProblemError, match="preconditioner"):
        darcy.solve_iterative(mesh, preconditioner="jacobi", **inputs)
    with pytest.raises(ProblemError, match="unknown problem 'darcyy'; expected one of: .*darcy"):
        get("darcyy")
