"""network_diffusion: dx/dt = -k L x against matrix exponentials and closed forms."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.linalg

from gnnops.problems import get
from gnnops.problems._graph_ops import adjacency, laplacian
from gnnops.problems.network_diffusion import diffusion_exact, ndcn_initial_state


def _weighted_er(n: int = 60) -> nx.Graph:
    g = nx.gnp_random_graph(n, 0.1, seed=5)
    rng = np.random.default_rng(5)
    for u, v in g.edges:
        g.edges[u, v]["weight"] = float(rng.uniform(0.5, 2.0))
    return g


def _expm_traj(g, x0, times, k=1.0):
    lap = laplacian(adjacency(g)).toarray()
    return np.stack([scipy.linalg.expm(-k * lap * t) @ x0 for t in times], 1)


def test_matches_dense_matrix_exponential_irregular_times():
    g = _weighted_er()
    x0 = np.random.default_rng(0).uniform(0, 25, 60)
    times = np.sort(np.random.default_rng(1).choice(np.linspace(0, 5, 1001)[1:], 40,
                                                    replace=False))
    want = _expm_traj(g, x0, times)
    got = get("network_diffusion").solve(g, x0=x0, times=times)["x"]
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-6
    np.testing.assert_allclose(diffusion_exact(g, x0=x0, times=times), want, rtol=0,
                               atol=1e-10 * np.abs(want).max())


def test_ndcn_grid_matches_expm_multiply_and_conserves_mass():
    g = nx.grid_2d_graph(20, 20)  # row-major node order matches the NDCN layout
    x0 = ndcn_initial_state(400)
    prob = get("network_diffusion")
    got = prob.solve(g, x0=x0)["x"]
    want = diffusion_exact(g, x0=x0, times=prob.times())
    assert got.shape == (400, 101)
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-6
    np.testing.assert_allclose(got.sum(0), x0.sum(), rtol=1e-9)
    assert prob.residual(g, {"x": got}, x0=x0) < 1e-3


def test_directed_path_closed_form():
    """0 -(2)-> 1 -(3)-> 2 from x0 = e_0: x = (1, 1 - e^-2t, 1 - 3 e^-2t + 2 e^-3t)."""
    g = nx.DiGraph()
    g.add_edge(0, 1, weight=2.0)
    g.add_edge(1, 2, weight=3.0)
    t = np.linspace(0, 3, 31)
    got = get("network_diffusion").solve(g, x0=[1.0, 0.0, 0.0], times=t)["x"]
    want = np.stack([np.ones_like(t), 1 - np.exp(-2 * t), 1 - 3 * np.exp(-2 * t)
                     + 2 * np.exp(-3 * t)])
    np.testing.assert_allclose(got, want, atol=1e-8)
    und = get("network_diffusion").solve(g.to_undirected(), x0=[1.0, 0.0, 0.0], times=t)["x"]
    np.testing.assert_allclose(und.sum(0), 1.0, rtol=1e-9)  # undirected: mass conserved
    np.testing.assert_allclose(und[:, -1], 1 / 3, atol=1e-3)


def test_k_rescales_time():
    g = _weighted_er(30)
    x0 = np.random.default_rng(2).uniform(0, 1, 30)
    t = np.linspace(0, 1, 11)
    fast = get("network_diffusion", k=2.0).solve(g, x0=x0, times=t)["x"]
    slow = get("network_diffusion").solve(g, x0=x0, times=2 * t)["x"]
    np.testing.assert_allclose(fast, slow, atol=1e-8)


def test_perturbed_trajectory_residual_grows_linearly():
    g = nx.watts_strogatz_graph(50, 4, 0.3, seed=1)
    prob = get("network_diffusion", t_end=2.0, n_times=81)
    x0 = np.random.default_rng(3).uniform(0, 25, 50)
    x = prob.solve(g, x0=x0)["x"]
    r0 = prob.residual(g, {"x": x}, x0=x0)
    noise = np.random.default_rng(4).standard_normal(x.shape)
    eps = np.array([1e-3, 1e-2, 1e-1])
    r = np.array([prob.residual(g, {"x": x + e * noise}, x0=x0) for e in eps])
    assert r0 < 1e-5
    assert np.polyfit(np.log(eps), np.log(r), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert r[-1] > 1e3 * r0 and r[-1] > 0.1
    per_node = prob.residual_per_node(g, {"x": x + 0.1 * noise}, x0=x0)
    assert per_node.shape == (50,) and per_node.min() > 0
