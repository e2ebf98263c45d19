"""P1 Laplacian weights and lumped masses against scikit-fem's assembly (2-D and 3-D)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skfem import Basis, BilinearForm, ElementTetP1, ElementTriP1, MeshTet, MeshTri
from skfem.helpers import dot, grad
from torch_geometric.data import Data

from gnnops.models.mesh_operators import p1_operators, simplex_mesh


def _edges(cells: np.ndarray) -> torch.Tensor:
    k = cells.shape[1]
    pairs = np.concatenate([cells[:, [a, b]] for a in range(k) for b in range(a + 1, k)])
    e = np.unique(np.sort(pairs, 1), axis=0)
    return torch.tensor(np.concatenate([e, e[:, ::-1]]).T)


@pytest.mark.parametrize("mesh, elem", [(MeshTri().refined(2), ElementTriP1()),
                                        (MeshTet().refined(1), ElementTetP1())])
def test_weights_and_masses_are_the_p1_operators(mesh, elem) -> None:
    basis = Basis(mesh, elem)
    stiff = BilinearForm(lambda u, v, w: dot(grad(u), grad(v))).assemble(basis).tocsr()
    mass = np.asarray(BilinearForm(lambda u, v, w: u * v).assemble(basis).sum(axis=1)).ravel()
    ei = _edges(mesh.t.T)
    w, m = p1_operators(torch.tensor(mesh.p.T), torch.tensor(mesh.t), ei)
    rows, cols = ei[1].numpy().copy(), ei[0].numpy().copy()
    k_off = -np.asarray(stiff[rows, cols]).ravel()
    np.testing.assert_allclose(w.numpy(), np.maximum(k_off, 0.0), atol=1e-12)
    np.testing.assert_allclose(m.numpy(), mass, rtol=1e-12)
    assert float(m.sum()) == pytest.approx(1.0)  # unit square / cube


def test_simplex_mesh_detection() -> None:
    pos = torch.rand(4, 2)
    tri = Data(pos=pos, cell_index=torch.tensor([[0], [1], [2]]), cell_type="triangle")
    assert simplex_mesh(tri)
    assert not simplex_mesh(Data(pos=pos, cell_index=torch.tensor([[0], [1], [2], [3]]),
                                 cell_type="quad"))
    assert not simplex_mesh(Data(pos=pos))  # a network / point cloud
    batch_like = Data(pos=pos, cell_index=torch.tensor([[0], [1], [2]]),
                      cell_type=["triangle", "triangle"])
    assert simplex_mesh(batch_like)
