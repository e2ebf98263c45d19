"""Linear elasticity: manufactured convergence, boundary specs, residuals, errors."""

import meshio
import numpy as np
import pytest
import sympy
import torch
from skfem import MeshTet, MeshTri
from skfem.io.meshio import to_meshio
from torch_geometric.data import Batch, Data

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh

NU = 0.3


def manufactured():
    """u = (sin(pi x) sin(pi y), x y (1-x)(1-y)) (0 on the square's boundary), E = 1 + x + y^2/2;
    the body force is -div sigma, derived symbolically (plane strain)."""
    x, y = sympy.symbols("x y")
    e = 1 + x + y**2 / 2
    lam, mu = e * NU / ((1 + NU) * (1 - 2 * NU)), e / (2 * (1 + NU))
    u = [sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y), x * y * (1 - x) * (1 - y)]
    xs = (x, y)
    grad = [[sympy.diff(u[i], xs[j]) for j in range(2)] for i in range(2)]
    div = grad[0][0] + grad[1][1]
    sig = [[mu * (grad[i][j] + grad[j][i]) + (lam * div if i == j else 0) for j in range(2)]
           for i in range(2)]
    f = [-sum(sympy.diff(sig[i][j], xs[j]) for j in range(2)) for i in range(2)]
    lam_f = sympy.lambdify((x, y), [u[0], u[1], e, f[0], f[1]], "numpy")

    def at(p):
        vals = [np.broadcast_to(v, (len(p),)) for v in lam_f(p[:, 0], p[:, 1])]
        return np.c_[vals[0], vals[1]], vals[2], np.c_[vals[3], vals[4]]

    return at


def on_square_boundary(x):
    return (np.abs(x[0] * (1 - x[0])) < 1e-12) | (np.abs(x[1] * (1 - x[1])) < 1e-12)


def test_plane_strain_second_order():
    at = manufactured()
    hs, errs = [], []
    for k in (3, 4, 5, 6):
        mesh = to_meshio(MeshTri().refined(k))
        fm = fem_mesh(mesh)
        u, e, f = at(fm.points)
        prob = get("elasticity", nu=NU, clamp=on_square_boundary, body_force=f)
        err = prob.solve(mesh, E=e)["u"] - u
        errs.append(np.sqrt((err * (fm.mass() @ err)).sum()))
        hs.append(2.0**-k)
    assert np.polyfit(np.log(hs), np.log(errs), 1)[0] >= 1.9


def test_tags_traction_and_3d():
    # a 2x1 rectangle of 2 triangles' refinement, with tagged left / right edges (gmsh style)
    m = MeshTri.init_tensor(np.linspace(0, 2, 9), np.linspace(0, 1, 5))
    p = m.p.T
    left = np.flatnonzero(p[:, 0] == 0)
    right = np.flatnonzero(p[:, 0] == 2)
    left_lines = np.c_[left[:-1], left[1:]]
    right_lines = np.c_[right[:-1], right[1:]]
    mesh = meshio.Mesh(p, [("triangle", m.t.T), ("line", left_lines), ("line", right_lines)],
                       cell_data={"gmsh:physical": [np.full(m.t.shape[1], 3),
                                                    np.full(4, 1), np.full(4, 2)]},
                       field_data={"wall": np.array([1, 1]), "tip": np.array([2, 1]),
                                   "body": np.array([3, 2])})
    prob = get("elasticity", clamp="wall", body_force=(0.0, 0.0), traction=(0.0, -2.0),
               traction_on="tip")
    system = prob.system(mesh, E=1.0)
    load = system.b.reshape(-1, 2)
    assert load[:, 1].sum() == pytest.approx(-2.0 * 1.0)  # traction x edge length
    np.testing.assert_allclose(load[right, 1], [-0.25, -0.5, -0.5, -0.5, -0.25])
    u = prob.solve(mesh, E=1.0)["u"]
    np.testing.assert_array_equal(u[left], 0.0)
    assert u[right, 1].max() < 0  # the tip bends down
    # same clamp by side name and by callable
    for clamp in ("left", lambda x: x[0] < 1e-9):
        other = get("elasticity", clamp=clamp, body_force=(0.0, 0.0), traction=(0.0, -2.0),
                    traction_on="right").solve(mesh, E=1.0)["u"]
        np.testing.assert_allclose(other, u, atol=1e-12)
    with pytest.raises(ProblemError, match=r"unknown clamp 'base'.*\['body', 'tip', 'wall'\]"):
        get("elasticity", clamp="base").solve(mesh, E=1.0)
    # 3D tetrahedra, default clamp (min x) and body force (0, 0, -1)
    cube = to_meshio(MeshTet().refined(2))
    prob3 = get("elasticity")
    e3 = prob3.sample_inputs(np.random.default_rng(0), dim=3).at(cube)
    u3 = prob3.solve(cube, **e3)["u"]
    assert u3.shape == (len(cube.points), 3) and u3[:, 2].mean() < 0
    assert prob3.residual(cube, {"u": u3}, **e3) <= 1e-10


@pytest.fixture(scope="module")
def case():
    mesh = to_meshio(MeshTri().refined(4))
    prob = get("elasticity")
    inputs = prob.sample_inputs(np.random.default_rng(1)).at(mesh)
    return prob, mesh, inputs, prob.solve(mesh, **inputs)["u"]


def test_residuals(case):
    prob, mesh, inputs, u = case
    assert u.shape == (289, 2)
    assert prob.residual(mesh, {"u": u}, **inputs) <= 1e-10
    v = np.random.default_rng(2).standard_normal(u.shape)
    res = [prob.residual(mesh, {"u": u + eps * v}, **inputs) for eps in (1e-4, 1e-3, 1e-2)]
    np.testing.assert_allclose(np.diff(np.log10(res)), 1.0, atol=1e-3)
    assert prob.residual_per_node(mesh, {"u": u + 1e-3 * v}, **inputs).shape == (289,)
    data = Data(pos=torch.tensor(mesh.points[:, :2]), cell_index=torch.tensor(mesh.cells[0].data.T),
                cell_type="triangle")
    out = torch.tensor(u + 1e-3 * v, requires_grad=True)
    r = prob.residual_torch(data, out, **inputs)
    assert r.item() == pytest.approx(res[1], rel=1e-6)
    r.backward()
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    batch = Batch.from_data_list([data, data])
    both = torch.cat([out.detach(), torch.tensor(u)])
    rb = prob.residual_torch(batch, both, E=np.r_[inputs["E"], inputs["E"]])
    assert rb.item() == pytest.approx(res[1] / 2, rel=1e-6)


def test_solve_iterative(case):
    prob, mesh, inputs, u = case
    out, info = prob.solve_iterative(mesh, tol=1e-9, **inputs)
    assert info["residual"] <= 1e-9
    np.testing.assert_allclose(out["u"], u, atol=1e-6 * np.abs(u).max())
    _, warm = prob.solve_iterative(mesh, x0={"u": u}, tol=1e-9, **inputs)
    assert warm["iterations"] == 0


def test_errors(case):
    prob, mesh, inputs, u = case
    with pytest.raises(ProblemError, match=r"'E' with 1 value per node \(N=289\)"):
        prob.solve(mesh, E=np.ones(10))
    with pytest.raises(ProblemError, match="> 0"):
        prob.solve(mesh, E=0.0)
    with pytest.raises(ProblemError, match=r"\(-1, 0.5\)"):
        get("elasticity", nu=0.5)
    with pytest.raises(ProblemError, match="traction_on"):
        get("elasticity", traction=(1.0, 0.0))
    with pytest.raises(ProblemError, match="selects no nodes"):
        get("elasticity", clamp=lambda x: x[0] < -1).solve(mesh, E=1.0)
    with pytest.raises(ProblemError, match=r"shape \[289, 2\]"):
        prob.residual(mesh, {"u": u[:, 0]}, **inputs)


def test_declared_scaling_law_holds_for_the_solver():
    """u(la E) = u(E) / la: the law the recipe applies when ``model.scaling_law`` is on."""
    prob = get("elasticity")
    assert prob.scaling_laws == {"E": -1.0}
    mesh = to_meshio(MeshTri.init_tensor(np.linspace(0, 1, 9), np.linspace(0, 1, 9)))
    e = 1.0 + 0.5 * np.sin(3 * mesh.points[:, 0])
    u1 = prob.solve(mesh, E=e)["u"]
    u2 = prob.solve(mesh, E=7.0 * e)["u"]
    np.testing.assert_allclose(u2 * 7.0, u1, rtol=1e-9, atol=1e-12)
    assert np.abs(u1).max() > 1e-3


def test_zero_dirichlet_nodes_are_the_clamp():
    mesh = to_meshio(MeshTri.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5)))
    nodes = get("elasticity").zero_dirichlet_nodes(mesh)
    np.testing.assert_array_equal(nodes, np.isclose(mesh.points[:, 0], 0.0))
    assert get("darcy").zero_dirichlet_nodes(mesh).sum() == 16  # the whole boundary
