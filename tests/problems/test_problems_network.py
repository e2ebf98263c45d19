"""NetworkProblem (problems/_network.py): right-hand sides, Jacobians, solvers, times, residual
schemes, torch residual."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems._graph_ops import NumpyGraphOp, adjacency
from gnnops.problems._network import resolve_times

NAMES = ["network_diffusion", "fisher_kpp", "gene_regulatory", "mutualistic"]


def test_rhs_by_hand_on_three_nodes(directed_path):
    """Hand-computed right-hand sides for the directed path 0 -(2)-> 1 -(3)-> 2."""
    x = np.array([1.0, 0.0, 0.0])[:, None]
    op_d, op_u = NumpyGraphOp(adjacency(directed_path)), NumpyGraphOp(adjacency(
        directed_path.to_undirected()))
    dif = get("network_diffusion")
    np.testing.assert_allclose(dif.rhs(x, op_d, dif.params())[:, 0], [0, 2, 0])
    np.testing.assert_allclose(dif.rhs(x, op_u, dif.params())[:, 0], [-2, 2, 0])
    grn = get("gene_regulatory")
    np.testing.assert_allclose(grn.rhs(x, op_d, grn.params())[:, 0], [-1, 1, 0])
    np.testing.assert_allclose(grn.rhs(x, op_u, grn.params())[:, 0], [-1, 1, 0])
    mut = get("mutualistic")
    y = np.array([1.0, 2.0, 3.0])[:, None]
    own = 0.1 + y[:, 0] * (1 - y[:, 0] / 5) * (y[:, 0] - 1)
    want = own + [0, 2 * 2 * 1 / (5 + 0.9 * 2 + 0.1 * 1), 3 * 3 * 2 / (5 + 0.9 * 3 + 0.1 * 2)]
    np.testing.assert_allclose(mut.rhs(y, op_d, mut.params())[:, 0], want, rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_matches_finite_differences(name):
    g = nx.gnp_random_graph(12, 0.3, seed=3, directed=True)
    for u, v in g.edges:
        g.edges[u, v]["weight"] = 0.5 + (u * 7 + v) % 5 / 4
    prob = get(name)
    op, p = NumpyGraphOp(adjacency(g)), prob.params()
    x = np.random.default_rng(0).uniform(0.1, 0.9, 12)
    jac = prob.jac(x, op, p).toarray()
    eps = 1e-6
    fd = np.stack([(prob.rhs((x + eps * e)[:, None], op, p) - prob.rhs(
        (x - eps * e)[:, None], op, p))[:, 0] / (2 * eps) for e in np.eye(12)], 1)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_stiff_solvers_with_jacobian_agree(name):
    g = nx.grid_2d_graph(5, 5)
    x0 = np.linspace(0.05, 0.95, 25)
    prob = get(name, t_end=2.0, n_times=11)
    ref = prob.solve(g, x0=x0, rtol=1e-11, atol=1e-13)["x"]
    for method in ("BDF", "Radau", "LSODA"):
        got = prob.solve(g, x0=x0, method=method)["x"]
        assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()


def _smooth_case():
    g = nx.cycle_graph(8)
    x0 = 0.5 + 0.3 * np.cos(2 * np.pi * np.arange(8) / 8)
    return g, x0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("scheme", "order"), [("hermite_simpson", 4), ("trapezoid", 2)])
def test_residual_order_of_exact_trajectory(name, scheme, order):
    g, x0 = _smooth_case()
    prob = get(name, t_end=1.0, scheme=scheme, rtol=1e-13, atol=1e-15)
    steps, res = [], []
    for nt in (6, 11, 21, 41):
        x = prob.solve(g, x0=x0, n_times=nt)["x"]
        res.append(prob.residual(g, {"x": x}, x0=x0, n_times=nt))
        steps.append(1.0 / (nt - 1))
    rate = np.polyfit(np.log(steps), np.log(res), 1)[0]
    assert abs(rate - order) < 0.1, (rate, res)


def test_irregular_times_and_late_start():
    g, x0 = _smooth_case()
    prob = get("gene_regulatory", rtol=1e-12, atol=1e-14)
    times = np.sort(np.random.default_rng(1).uniform(0.1, 2.0, 60))
    x = prob.solve(g, x0=x0, times=times)["x"]
    assert x.shape == (8, 60)
    assert prob.residual(g, {"x": x}, x0=x0, times=times) < 1e-5
    # a wrong x0 is seen through the prepended interval [t0, times[0]]
    assert prob.residual(g, {"x": x}, x0=x0 + 0.1, times=times) > 1e-2
    # initial column mismatch when times[0] == t0
    y = prob.solve(g, x0=x0, n_times=41, t_end=2.0)["x"]
    np.testing.assert_array_equal(y[:, 0], x0)
    y[:, 0] += 0.05
    assert prob.residual(g, {"x": y}, x0=x0, n_times=41, t_end=2.0) > 1e-2


def test_torch_residual_matches_numpy_batches_and_gradchecks():
    prob = get("mutualistic", t_end=1.0, n_times=9)
    g1, x0 = _smooth_case()
    g2 = nx.path_graph(5)
    x02 = np.linspace(0.2, 1.0, 5)
    d1 = Data(edge_index=torch.tensor(np.array(g1.to_directed().edges).T), num_nodes=8)
    d2 = Data(edge_index=torch.tensor(np.array(g2.to_directed().edges).T), num_nodes=5,
              edge_weight=torch.full((8,), 1.5, dtype=torch.float64))
    d1.edge_weight = torch.ones(16, dtype=torch.float64)
    x1 = prob.solve(d1, x0=x0)["x"] * 1.01
    x2 = prob.solve(d2, x0=x02)["x"] + 0.01
    r1 = prob.residual(d1, {"x": x1}, x0=x0)
    r2 = prob.residual(d2, {"x": x2}, x0=x02)
    t1 = prob.residual_torch(d1, torch.tensor(x1), x0=torch.tensor(x0))
    assert t1.item() == pytest.approx(r1, rel=1e-10)
    batch = Batch.from_data_list([d1, d2])
    out = torch.tensor(np.concatenate([x1, x2]), requires_grad=True)
    tb = prob.residual_torch(batch, out, x0=torch.tensor(np.concatenate([x0, x02])))
    assert tb.item() == pytest.approx((r1 + r2) / 2, rel=1e-10)
    batch.x = torch.tensor(np.concatenate([x0, x02]))[:, None]  # x0 taken from data.x
    assert prob.residual_torch(batch, out).item() == pytest.approx(tb.item(), rel=1e-12)
    tb.backward()
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    small = torch.tensor(x1, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda y: prob.residual_torch(d1, y, x0=torch.tensor(x0)), (small,), eps=1e-6, atol=1e-6)


def test_times_resolution_and_errors():
    np.testing.assert_allclose(resolve_times(t_end=5.0, n_times=11), np.arange(11) * 0.5)
    prob = get("network_diffusion", t_end=2.0, n_times=5)
    np.testing.assert_allclose(prob.times(), [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(prob.times(times=[0.3, 1.0]), [0.3, 1.0])
    for bad in ([1.0, 0.5], [-1.0, 1.0], [0.0, np.nan]):
        with pytest.raises(ProblemError, match="times"):
            prob.times(times=bad)
    with pytest.raises(ProblemError, match="n_times"):
        prob.times(n_times=1)
    with pytest.raises(ProblemError, match="unknown option.*'kk'.*expected some of"):
        get("network_diffusion", kk=1.0)
    with pytest.raises(ProblemError, match="scheme"):
        get("network_diffusion", scheme="simpson")
    g = nx.path_graph(4)
    with pytest.raises(ProblemError, match="expects input 'x0'"):
        prob.solve(g)
    with pytest.raises(ProblemError, match=r"x0 of shape \[N\] or \[N, 1\] with N = 4 \(got \[3\]"):
        prob.solve(g, x0=np.ones(3))
    with pytest.raises(ProblemError, match=r"shape \[N, T\] = \[4, 5\] \(got \[4, 3\]\)"):
        prob.residual(g, {"x": np.ones((4, 3))})
    with pytest.raises(ProblemError, match="networkx graph or a torch_geometric Data"):
        prob.solve(np.eye(3), x0=np.ones(3))
