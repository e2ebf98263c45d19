"""LinearStencil: exactly linear in the state, rebuildable, learns known linear steps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from skfem import Basis, BilinearForm, ElementTriP1, MeshTri
from skfem.helpers import dot, grad
from torch_geometric.data import Batch, Data

from gnnops.errors import ModelError
from gnnops.models import build

pytestmark = pytest.mark.usefixtures("one_thread")


def tri_mesh(k: int, f_in: int = 4, seed: int = 0) -> Data:
    """``MeshTri().refined(k)`` with cells (``cell_index``, ``cell_type``) and random ``x``."""
    m = MeshTri().refined(k)
    p, t = m.p.T, m.t.T
    e = np.unique(np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), 1), axis=0)
    ei = torch.tensor(np.concatenate([e, e[:, ::-1]]).T)
    g = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(len(p), f_in, generator=g), pos=torch.tensor(p, dtype=torch.float32),
                edge_index=ei, cell_index=torch.tensor(t.T.copy()), cell_type="triangle",
                num_nodes=len(p))


def _with_state(data: Data, u: torch.Tensor, col: int = 0) -> Data:
    d = data.clone()
    d.x = data.x.clone()
    d.x[:, col] = u
    return d


VARIANTS = [
    {},
    {"hops": 2, "length_power": 2.0, "scale_free": True, "source_columns": []},
    {"implicit": True, "hops": 1, "scale_free": True, "source_columns": [2]},
    {"implicit": True, "hops": 0},
]


@pytest.mark.parametrize("kw", VARIANTS)
def test_exactly_linear_and_homogeneous_in_the_state(kw) -> None:
    torch.manual_seed(0)
    data = tri_mesh(2)
    model = build("linear_stencil", in_channels=4, out_channels=1, pos_dim=2, latent=16,
                  depth=1, hidden_layers=1, **kw).eval()
    n = data.num_nodes
    u1, u2 = torch.randn(n), torch.randn(n) * 30.0  # ~30x amplitude range
    a, b = 0.7, -2.3
    with torch.no_grad():
        f = {k: model(_with_state(data, u)) for k, u in
             (("0", torch.zeros(n)), ("1", u1), ("2", u2), ("ab", a * u1 + b * u2))}
    lhs = f["ab"] - f["0"]
    rhs = a * (f["1"] - f["0"]) + b * (f["2"] - f["0"])
    assert float((lhs - rhs).abs().max()) <= 1e-5 * float(lhs.abs().max())
    assert float(lhs.abs().max()) > 0  # not trivially zero
    if kw.get("source_columns") is not None:  # no forcing, no state: exactly no increment
        zero = _with_state(_with_state(data, torch.zeros(n)), torch.zeros(n),
                           col=kw["source_columns"][0]) if kw["source_columns"] else \
            _with_state(data, torch.zeros(n))
        with torch.no_grad():
            assert float(model(zero).abs().max()) == 0.0


def test_rebuilt_from_config_and_weights_gives_the_same_output() -> None:
    torch.manual_seed(1)
    data = tri_mesh(2)
    model = build("linear_stencil", in_channels=4, out_channels=1, pos_dim=2, latent=8,
                  depth=1, implicit=True, scale_free=True, source_columns=[3]).eval()
    with torch.no_grad():
        out = model(data)  # first forward sets the length unit (a buffer)
    assert model.homogeneous_columns == [0, 3] and model.state_units_output
    again = build("linear_stencil", **model.config())
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(data), out)
    assert float(again.length_unit) == float(model.length_unit) > 0


@pytest.mark.parametrize("kw, match", [
    ({"implicit": True, "out_channels": 2}, "out_channels == state_dim"),
    ({"source_columns": [0]}, "source_columns"),
    ({"source_columns": [1, 2, 3]}, "no static input column"),
    ({"length_power": -1.0}, "length_power"),
    ({"scale_free": True, "pos_dim": 0}, "node positions"),
    ({"hops": -1}, "hops"),
    ({"state_dim": 4}, "state_dim < in_channels"),
])
def test_invalid_options_are_model_errors(kw, match) -> None:
    args = {"in_channels": 4, "out_channels": 1, "pos_dim": 2, **kw}
    with pytest.raises(ModelError, match=match):
        build("linear_stencil", **args)


def _laplacian(data: Data) -> torch.Tensor:
    """Dense graph Laplacian ``L u = sum_j (u_i - u_j)`` [N, N]."""
    n = data.num_nodes
    a = torch.zeros(n, n)
    a[data.edge_index[1], data.edge_index[0]] = 1.0
    return torch.diag(a.sum(1)) - a


def test_learns_the_graph_laplacian_step() -> None:
    """Target: one explicit diffusion step ``-alpha L u``; < 1 % error on new states."""
    torch.manual_seed(0)
    data = tri_mesh(3, f_in=2)
    data.x[:, 1] = 1.0  # one constant static column
    lap = _laplacian(data)
    model = build("linear_stencil", in_channels=2, out_channels=1, pos_dim=2, latent=16,
                  depth=0, hidden_layers=1, channels=2, hops=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    n = data.num_nodes

    def pair(u: torch.Tensor) -> Data:
        d = _with_state(data, u)
        d.y = -0.1 * (lap @ u)[:, None]
        return d

    for _ in range(150):
        b = Batch.from_data_list([pair(torch.randn(n)) for _ in range(4)])
        loss = ((model(b) - b.y) ** 2).mean() / (b.y ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = pair(torch.randn(n) * 5.0)
    with torch.no_grad():
        err = float((model(test) - test.y).norm() / test.y.norm())
    assert err < 0.01  # measured 0.25 %


def _backward_euler(k: int, dt: float) -> tuple[Data, np.ndarray]:
    """Mesh and the lumped-mass backward Euler step matrix ``(M + dt K)^-1 M`` (kappa = 1)."""
    m = MeshTri().refined(k)
    basis = Basis(m, ElementTriP1())
    stiff = BilinearForm(lambda u, v, w: dot(grad(u), grad(v))).assemble(basis)
    mass = np.asarray(BilinearForm(lambda u, v, w: u * v).assemble(basis).sum(axis=1)).ravel()
    step = spla.splu((sp.diags(mass) + dt * stiff).tocsc()).solve(np.diag(mass))
    return tri_mesh(k, f_in=2), step


def test_implicit_step_learned_on_one_mesh_transfers_to_a_finer_one() -> None:
    """The implicit variant learns a backward Euler step on a mesh and, with the mesh's own
    P1 operators, steps the 4x finer mesh of the same domain consistently."""
    torch.manual_seed(0)
    dt = 2e-3
    coarse, s_c = _backward_euler(3, dt)
    fine, s_f = _backward_euler(4, dt)
    model = build("linear_stencil", in_channels=2, out_channels=1, pos_dim=2, latent=16,
                  depth=0, hidden_layers=1, hops=0, implicit=True, scale_free=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)

    def pair(data: Data, step: np.ndarray, u: np.ndarray) -> Data:
        d = _with_state(data, torch.tensor(u, dtype=torch.float32))
        d.x[:, 1] = 1.0
        d.y = torch.tensor(step @ u - u, dtype=torch.float32)[:, None]
        return d

    def smooth(data: Data, rng: np.random.Generator) -> np.ndarray:
        x, y = data.pos[:, 0].double().numpy(), data.pos[:, 1].double().numpy()
        c = rng.normal(size=(3, 3))
        return sum(c[i, j] * np.sin((i + 1) * np.pi * x) * np.sin((j + 1) * np.pi * y)
                   for i in range(3) for j in range(3))

    rng = np.random.default_rng(0)
    for _ in range(120):
        b = Batch.from_data_list([pair(coarse, s_c, smooth(coarse, rng)) for _ in range(4)])
        loss = ((model(b) - b.y) ** 2).sum() / (b.y ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        errs = [float((model(t) - t.y).norm() / t.y.norm())
                for t in (pair(coarse, s_c, smooth(coarse, rng)),
                          pair(fine, s_f, smooth(fine, rng)))]
    assert errs[0] < 0.02 and errs[1] < 0.02, errs  # measured 0.34 % and 0.39 %


def test_prepare_attaches_the_p1_operators_and_changes_nothing() -> None:
    torch.manual_seed(2)
    data = tri_mesh(2)
    model = build("linear_stencil", in_channels=4, out_channels=1, pos_dim=2, latent=8,
                  depth=1, implicit=True, scale_free=True).eval()
    with torch.no_grad():
        plain = model(data)
        prepared = model.prepare(data.clone())
        assert prepared.p1_weight.shape == (data.edge_index.shape[1],)
        assert prepared.p1_mass.shape == (data.num_nodes,)
        torch.testing.assert_close(model(prepared), plain)
        batch = Batch.from_data_list([prepared, model.prepare(tri_mesh(1))])
        torch.testing.assert_close(model(batch)[:data.num_nodes], plain)
