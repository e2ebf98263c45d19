"""Shared network machinery: adjacency convention, times, residual schemes, torch residual."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems._graph_ops import NumpyGraphOp, adjacency, laplacian
from gnnops.problems._network import resolve_times
from gnnops.problems._network_inputs import ndcn_initial_state

NAMES = ["network_diffusion", "fisher_kpp", "gene_regulatory", "mutualistic"]


def _directed() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(3))
    g.add_edge(0, 1, weight=2.0)
    g.add_edge(1, 2, weight=3.0)
    return g


def test_adjacency_convention_directed_undirected_and_data():
    a = adjacency(_directed()).toarray()
    np.testing.assert_array_equal(a, [[0, 0, 0], [2, 0, 0], [0, 3, 0]])  # A[i, j]: j -> i
    u = adjacency(_directed().to_undirected()).toarray()
    np.testing.assert_array_equal(u, [[0, 2, 0], [2, 0, 3], [0, 3, 0]])
    data = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_weight=torch.tensor([2.0, 3.0]),
                num_nodes=3)
    np.testing.assert_array_equal(adjacency(data).toarray(), a)
    data1 = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_attr=torch.tensor([[2.0], [3.0]]),
                 num_nodes=3)
    np.testing.assert_array_equal(adjacency(data1).toarray(), a)
    np.testing.assert_array_equal(laplacian(adjacency(_directed())).toarray(),
                                  [[0, 0, 0], [-2, 2, 0], [0, -3, 3]])


def test_rhs_by_hand_on_three_nodes():
    """Hand-computed right-hand sides for the directed path 0 -(2)-> 1 -(3)-> 2."""
    x = np.array([1.0, 0.0, 0.0])[:, None]
    op_d, op_u = NumpyGraphOp(adjacency(_directed())), NumpyGraphOp(adjacency(
        _directed().to_undirected()))
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
    with pytest.raises(ProblemError, match="numeric edge attribute"):
        g2 = nx.path_graph(3)
        g2.edges[0, 1]["weight"] = "heavy"
        adjacency(g2)


def test_inputs_recipes_reproducible_and_size_free():
    big, small = nx.path_graph(400), nx.path_graph(50)
    for name in NAMES:
        prob = get(name)
        s1 = prob.sample_inputs(np.random.default_rng(7))
        s2 = prob.sample_inputs(np.random.default_rng(7))
        assert s1.params == s2.params
        json.dumps(s1.params)
        a, b = s1.at(big)["x0"], s2.at(big)["x0"]
        np.testing.assert_array_equal(a, b)
        assert a.shape == (400,) and s1.at(small)["x0"].shape == (50,)
    u = get("gene_regulatory").sample_inputs(np.random.default_rng(0)).at(big)["x0"]
    assert 0 <= u.min() and u.max() <= 25 and u.std() > 5
    s = get("network_diffusion").sample_inputs(np.random.default_rng(0)).at(big)["x0"]
    assert np.count_nonzero(s) == 40  # 10 % seed nodes
    nd = get("network_diffusion").sample_inputs(np.random.default_rng(0), recipe="ndcn")
    np.testing.assert_array_equal(nd.at(nx.grid_2d_graph(20, 20))["x0"], ndcn_initial_state())
    with pytest.raises(ProblemError, match="unknown initial-state recipe 'gauss'; expected one of"):
        get("fisher_kpp").sample_inputs(np.random.default_rng(0), recipe="gauss")
    with pytest.raises(ProblemError, match=r"unknown option\(s\) \['hops'\] for recipe 'uniform'"):
        get("mutualistic").sample_inputs(np.random.default_rng(0), hops=2)


def test_region_recipe_positions_and_hops():
    prob = get("fisher_kpp")
    sample = prob.sample_inputs(np.random.default_rng(3), value=0.8, radius=0.2, hops=2)
    g = nx.grid_2d_graph(21, 21)
    nx.set_node_attributes(g, {v: (v[0] / 20, v[1] / 20) for v in g.nodes}, "pos")
    x = sample.at(g)["x0"]
    pos = np.array([g.nodes[v]["pos"] for v in g.nodes])
    center = np.array(sample.params["center"][:2])
    want = np.linalg.norm(pos - center, axis=1) <= 0.2 * np.sqrt(2)
    np.testing.assert_array_equal(x == 0.8, want)
    h = nx.path_graph(30)  # no positions: 2-hop ball around floor(node_frac * 30)
    c = int(sample.params["node_frac"] * 30)
    ball = set(nx.ego_graph(h, c, radius=2).nodes)
    np.testing.assert_array_equal(np.flatnonzero(sample.at(h)["x0"]), sorted(ball))


def test_ndcn_initial_state_blocks():
    x = ndcn_initial_state(400).reshape(20, 20)
    assert (x == 25).sum() == 16 and (x == 20).sum() == 36 and (x == 17).sum() == 24
    assert x[1:5, 1:5].min() == 25 and x[9:15, 9:15].min() == 20 and x[1:5, 7:13].min() == 17
    assert x.sum() == 16 * 25 + 36 * 20 + 24 * 17
    assert ndcn_initial_state(1600).reshape(40, 40)[2:10, 2:10].min() == 25
    with pytest.raises(ProblemError, match=r"perfect square .*\(got 399\)"):
        ndcn_initial_state(399)
