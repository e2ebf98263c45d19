"""StationaryFemProblem (problems/_stationary.py) on a toy reaction-diffusion problem with exact
discrete solutions: solve, residuals (numpy and torch, batched), iterative solve, batch split."""

from __future__ import annotations

import numpy as np
import pytest
import skfem
import torch
from skfem.io.meshio import to_meshio
from torch_geometric.data import Batch

from gnnops.errors import ProblemError
from gnnops.graphs import from_meshio
from gnnops.problems._fem import FemMesh, fem_mesh
from gnnops.problems._linear import LinearSystem, check_field
from gnnops.problems._stationary import StationaryFemProblem, batch_inputs, split_batch


class Reaction(StationaryFemProblem):
    """``-Δu + u = f`` with P1 elements; natural boundary (``dirichlet=False``) or ``u = f`` on
    the boundary. A constant f (natural) or a linear f (Dirichlet) is the exact discrete
    solution: the stiffness rows of free nodes annihilate linear fields."""

    name = "toy_reaction"
    input_fields = ("f",)
    output_fields = ("u",)

    def __init__(self, dirichlet: bool) -> None:
        self.dirichlet = dirichlet

    def _inputs(self, fm: FemMesh, inputs: dict) -> dict[str, np.ndarray]:
        return {"f": check_field("f", inputs.get("f"), fm.n_nodes)}

    def _system(self, fm: FemMesh, inputs: dict) -> LinearSystem:
        a = fm.structure("stiffness").matrix(np.ones(len(fm.cells))) + fm.mass()
        fixed = fm.boundary.copy() if self.dirichlet else np.zeros(fm.n_nodes, dtype=bool)
        return LinearSystem(a.tocsr(), fm.mass() @ inputs["f"], fixed, inputs["f"])

    def _options_key(self) -> tuple:
        return (self.dirichlet,)


def _mesh(k: int):
    return to_meshio(skfem.MeshTri().refined(k))


def test_exact_discrete_solutions_and_zero_residual():
    mesh = _mesh(3)
    x = fem_mesh(mesh).points[:, 0]
    u = Reaction(False).solve(mesh, f=3.0)["u"]
    np.testing.assert_allclose(u, 3.0, atol=1e-12)
    assert Reaction(False).residual(mesh, {"u": u}, f=3.0) < 1e-13
    prob = Reaction(True)
    u = prob.solve(mesh, f=x)["u"]
    np.testing.assert_allclose(u, x, atol=1e-12)
    assert prob.residual(mesh, {"u": u}, f=x) < 1e-13
    out, info = prob.solve_iterative(mesh, f=x, tol=1e-10)
    assert info["converged"] and info["residual"] <= 1e-8  # CG stops on the free-dof norm
    np.testing.assert_allclose(out["u"], x, atol=1e-8)
    assert prob.solve_iterative(mesh, f=x, x0={"u": x}, tol=1e-10)[1]["iterations"] == 0
    with pytest.raises(ProblemError, match="unknown iterative method 'gmres'"):
        prob.solve_iterative(mesh, f=x, method="gmres")


def test_residual_per_node_of_a_point_perturbation():
    mesh = _mesh(3)
    prob = Reaction(False)
    fm = fem_mesh(mesh)
    sys_ = prob.system(mesh, f=1.0)
    assert prob.system(fm, f=1.0) is sys_  # assembled once per mesh and inputs
    bump = np.zeros(fm.n_nodes)
    bump[40] = 0.01
    per_node = prob.residual_per_node(mesh, {"u": 1.0 + bump}, f=1.0)
    np.testing.assert_allclose(per_node, np.abs(sys_.A @ bump), atol=1e-15)  # Â = A: no fixed
    assert set(np.flatnonzero(per_node > 1e-15)) == {40} | set(sys_.A[40].indices)
    with pytest.raises(ProblemError, match=r"expected output 'u' of shape \[81\], got \[80\]"):
        prob.residual(mesh, {"u": np.ones(80)}, f=1.0)


def test_torch_residual_matches_numpy_over_a_batch():
    prob = Reaction(True)
    meshes = [_mesh(2), _mesh(3)]
    datas = [from_meshio(m) for m in meshes]
    fs = [fem_mesh(m).points[:, 0] for m in meshes]
    outs = [prob.solve(m, f=f)["u"] * (1 + 0.01 * (i + 1)) for i, (m, f) in
            enumerate(zip(meshes, fs, strict=True))]
    want = [prob.residual(m, {"u": u}, f=f) for m, u, f in zip(meshes, outs, fs, strict=True)]
    assert min(want) > 1e-4
    one = prob.residual_torch(datas[0], torch.tensor(outs[0])[:, None], f=fs[0])
    assert one.item() == pytest.approx(want[0], rel=1e-10)
    batch = Batch.from_data_list(datas)
    u = torch.tensor(np.concatenate(outs), requires_grad=True)
    both = prob.residual_torch(batch, u[:, None], f=np.concatenate(fs))
    assert both.item() == pytest.approx(np.mean(want), rel=1e-10)
    both.backward()
    assert torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0
    batch.x = torch.tensor(np.concatenate(fs))[:, None]  # f from data.x (one column per input)
    assert prob.residual_torch(batch, u[:, None]).item() == pytest.approx(both.item(), rel=1e-12)
    with pytest.raises(ProblemError, match=r"expected outputs with 106 values \(106 nodes\)"):
        prob.residual_torch(batch, u[:-1, None])


def test_split_batch_gives_each_graph_its_mesh_and_slice():
    meshes = [_mesh(1), _mesh(2)]
    parts = split_batch(Batch.from_data_list([from_meshio(m) for m in meshes]))
    assert [sl for _, sl in parts] == [slice(0, 9), slice(9, 34)]
    for (fm, _), mesh in zip(parts, meshes, strict=True):
        ref = fem_mesh(mesh)
        np.testing.assert_allclose(fm.points, ref.points, atol=1e-7)
        np.testing.assert_array_equal(fm.cells, ref.cells)
    single = split_batch(from_meshio(meshes[0]))
    assert len(single) == 1 and single[0][1] == slice(0, 9)
    data = from_meshio(meshes[0])
    del data.cell_index
    with pytest.raises(ProblemError, match="'cell_index'"):
        split_batch(data)


def test_batch_inputs_keywords_columns_and_missing():
    prob = Reaction(True)
    data = from_meshio(_mesh(1))
    assert batch_inputs(prob, data, {"f": 1.0}) == {"f": 1.0}
    data.x = torch.arange(9.0)[:, None]
    torch.testing.assert_close(batch_inputs(prob, data, {})["f"], torch.arange(9.0))
    data.x = torch.zeros(9, 2)
    with pytest.raises(ProblemError, match=r"toy_reaction residual needs inputs \['f'\]; "
                                           r"missing \['f'\]"):
        batch_inputs(prob, data, {})
