"""gene_regulatory: dx_i/dt = -b x_i^f + sum_j A_ij x_j^h / (x_j^h + 1)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from gnnops.graphs.families import make_graph
from gnnops.problems import get


def test_isolated_nodes_closed_forms():
    g = nx.empty_graph(3)
    x0 = np.array([0.5, 2.0, 10.0])
    t = np.linspace(0, 5, 11)
    lin = get("gene_regulatory", b=0.7).solve(g, x0=x0, times=t)["x"]
    np.testing.assert_allclose(lin, x0[:, None] * np.exp(-0.7 * t), rtol=1e-7)
    quad = get("gene_regulatory", f=2.0).solve(g, x0=x0, times=t)["x"]  # x' = -x^2
    np.testing.assert_allclose(quad, x0[:, None] / (1 + x0[:, None] * t), rtol=1e-7)


def test_driven_target_by_hand():
    """0 -> 1 with x_0 held by a self-loop at the fixed point: x_1 -> x_0^2 / (x_0^2 + 1)."""
    g = nx.DiGraph()
    g.add_edge(0, 1)
    x = get("gene_regulatory").solve(g, x0=[0.0, 3.0], times=[5.0])["x"][:, 0]
    np.testing.assert_allclose(x, [0.0, 3.0 * np.exp(-5.0)], rtol=1e-7)
    g.add_edge(0, 0, weight=2.5)  # x0' = -x0 + 2.5 x0^2/(x0^2+1): fixed point x0 = 2
    x = get("gene_regulatory").solve(g, x0=[2.0, 0.0], times=[8.0])["x"][:, 0]
    np.testing.assert_allclose(x, [2.0, 0.8 * (1 - np.exp(-8.0))], rtol=1e-7)


def test_own_solution_residual_tiny_on_dense_save_grid():
    g = make_graph("barabasi_albert", 100, seed=0)
    prob = get("gene_regulatory", t_end=1.0, n_times=201, rtol=1e-12, atol=1e-13)
    x0 = prob.sample_inputs(np.random.default_rng(0), high=2.0).at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    assert prob.residual(g, {"x": x}, x0=x0) < 1e-8
    coarse = get("gene_regulatory")  # defaults: T = 5, 101 saved times
    y = coarse.solve(g, x0=x0)["x"]
    assert coarse.residual(g, {"x": y}, x0=x0) < 1e-4


def test_perturbed_trajectory_residual_grows_linearly():
    g = make_graph("erdos_renyi", 80, seed=3, mean_degree=5)
    prob = get("gene_regulatory", n_times=101)
    x0 = prob.sample_inputs(np.random.default_rng(1)).at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    r0 = prob.residual(g, {"x": x}, x0=x0)
    noise = np.random.default_rng(2).standard_normal(x.shape)
    eps = np.array([1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    r = np.array([prob.residual(g, {"x": x + e * noise}, x0=x0) for e in eps])
    assert np.all(np.diff(r) > 0)  # grows, linearly while the noise is below the increments
    assert r0 < 1e-4
    assert np.polyfit(np.log(eps[:3]), np.log(r[:3]), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert r[-1] > 1e3 * r0
