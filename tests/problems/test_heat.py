"""Heat equation: backward Euler order in time, residuals, torch residual, errors."""

import numpy as np
import pytest
import scipy.linalg
import torch
from skfem import MeshQuad, MeshTri
from skfem.io.meshio import to_meshio
from torch_geometric.data import Batch, Data

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems._fem import fem_mesh


def test_backward_euler_first_order_in_time():
    """Against the exact semi-discrete solution u(t) = V exp(-Lambda t) V^T M u0."""
    mesh = to_meshio(MeshTri().refined(3))
    fm = fem_mesh(mesh)
    x, y = fm.points.T
    u0, kappa = np.sin(np.pi * x) * np.sin(np.pi * y), 1 + x
    free = ~fm.boundary
    k = fm.structure("stiffness").matrix(fm.cell_mean(kappa)).toarray()[np.ix_(free, free)]
    m = fm.mass().toarray()[np.ix_(free, free)]
    lam, v = scipy.linalg.eigh(k, m)
    exact = v @ (np.exp(-lam * 0.05) * (v.T @ m @ u0[free]))
    dts, errs = [], []
    for n in (10, 20, 40, 80):
        heat = get("heat", t_end=0.05, n_steps=n)
        traj = heat.solve(mesh, u0=u0, kappa=kappa)["u"]
        assert traj.shape == (len(x), n) and heat.times[-1] == pytest.approx(0.05)
        e = traj[free, -1] - exact
        errs.append(np.sqrt(e @ m @ e))
        dts.append(heat.dt)
    assert np.polyfit(np.log(dts), np.log(errs), 1)[0] >= 0.9
    # and on a finer mesh the decay matches the single mode exp(-2 pi^2 t) for kappa = 1
    fine = to_meshio(MeshTri().refined(4))
    x, y = fine.points[:, :2].T
    one = get("heat", t_end=0.05, n_steps=80).solve(
        fine, u0=np.sin(np.pi * x) * np.sin(np.pi * y), kappa=1.0)["u"][:, -1]
    assert one.max() == pytest.approx(np.exp(-2 * np.pi**2 * 0.05), rel=0.015)


@pytest.fixture(scope="module")
def case():
    mesh = to_meshio(MeshQuad().refined(3))
    heat = get("heat", n_steps=10)
    inputs = heat.sample_inputs(np.random.default_rng(0), f=1.0).at(mesh)
    return heat, mesh, inputs, heat.solve(mesh, **inputs)["u"]


def test_sampler_and_save_every(case):
    heat, mesh, inputs, traj = case
    p = fem_mesh(mesh).points
    on_box = (p.min(axis=1) == 0) | (p.max(axis=1) == 1)
    np.testing.assert_allclose(inputs["u0"][on_box], 0.0, atol=1e-12)  # sine series
    assert inputs["kappa"].min() > 0 and np.abs(inputs["u0"]).max() > 0.05
    every = get("heat", n_steps=10, save_every=5)
    np.testing.assert_allclose(every.times, [0.025, 0.05])
    np.testing.assert_allclose(every.solve(mesh, **inputs)["u"], traj[:, [4, 9]])


def test_residuals(case):
    heat, mesh, inputs, traj = case
    assert heat.residual(mesh, {"u": traj}, **inputs) <= 1e-10
    v = np.random.default_rng(1).standard_normal(traj.shape)
    res = [heat.residual(mesh, {"u": traj + eps * v}, **inputs) for eps in (1e-5, 1e-4, 1e-3)]
    np.testing.assert_allclose(np.diff(np.log10(res)), 1.0, atol=0.01)
    assert heat.residual_per_node(mesh, {"u": traj}, **inputs).shape == (len(traj),)
    cells = mesh.cells[0]
    data = Data(pos=torch.tensor(mesh.points[:, :2]), cell_index=torch.tensor(cells.data.T),
                cell_type=cells.type)
    out = torch.tensor(traj + 1e-4 * v, requires_grad=True)
    r = heat.residual_torch(data, out, **inputs)
    assert r.item() == pytest.approx(res[1], rel=1e-6)
    r.backward()
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    batch = Batch.from_data_list([data, data])
    two = {k: np.r_[val, val] for k, val in inputs.items()}
    rb = heat.residual_torch(batch, torch.cat([out.detach(), torch.tensor(traj)]), **two)
    assert rb.item() == pytest.approx(res[1] / 2, rel=1e-6)


def test_errors(case):
    heat, mesh, inputs, traj = case
    with pytest.raises(ProblemError, match=r"'kappa' with 1 value per node \(N=81\)"):
        heat.solve(mesh, u0=inputs["u0"], kappa=np.ones(3))
    with pytest.raises(ProblemError, match="missing input 'u0'"):
        heat.solve(mesh, kappa=1.0)
    with pytest.raises(ProblemError, match=r"shape \[81, 10\]"):
        heat.residual(mesh, {"u": traj[:, :3]}, **inputs)
    with pytest.raises(ProblemError, match="must divide"):
        get("heat", n_steps=10, save_every=3)
