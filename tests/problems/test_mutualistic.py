"""mutualistic: b + x(1 - x/k)(x/c - 1) + sum_j A_ij x_i x_j / (d + e x_i + h x_j)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from gnnops.graphs.families import make_graph
from gnnops.problems import get


def _isolated_equilibria(b=0.1, k=5.0, c=1.0):
    roots = np.roots([-1 / (k * c), 1 / c + 1 / k, -1.0, b])  # b + x(1 - x/k)(x/c - 1) = 0
    return np.sort(roots.real[np.abs(roots.imag) < 1e-12])


def test_isolated_species_converge_to_the_stable_equilibria():
    low, mid, high = _isolated_equilibria()
    assert low < mid < high
    x = get("mutualistic").solve(nx.empty_graph(2), x0=[0.5, 3.0], times=[40.0])["x"][:, 0]
    np.testing.assert_allclose(x, [low, high], rtol=1e-6)  # Allee threshold at `mid`


def test_symmetric_pair_stays_symmetric_and_mutualism_helps():
    g = nx.Graph()
    g.add_edge(0, 1, weight=4.0)
    x = get("mutualistic").solve(g, x0=[3.0, 3.0], times=[10.0])["x"][:, 0]
    assert x[0] == pytest.approx(x[1], rel=1e-9)
    # equilibrium: b + x(1 - x/5)(x - 1) + 4 x^2 / (5 + x) = 0, above the isolated one
    f = 0.1 + x[0] * (1 - x[0] / 5) * (x[0] - 1) + 4 * x[0] ** 2 / (5 + x[0])
    assert abs(f) < 1e-6 and x[0] > _isolated_equilibria()[-1]


def test_own_solution_residual_tiny_on_dense_save_grid():
    g = make_graph("watts_strogatz", 100, seed=0)
    prob = get("mutualistic", t_end=1.0, n_times=201, rtol=1e-12, atol=1e-13)
    x0 = prob.sample_inputs(np.random.default_rng(0), high=3.0).at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    assert prob.residual(g, {"x": x}, x0=x0) < 1e-8


def test_perturbed_trajectory_residual_grows_linearly():
    g = make_graph("community", 120, seed=1, p_in=0.1, p_out=0.01)
    prob = get("mutualistic", n_times=101)
    x0 = prob.sample_inputs(np.random.default_rng(1), high=4.0).at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    r0 = prob.residual(g, {"x": x}, x0=x0)
    noise = np.random.default_rng(2).standard_normal(x.shape)
    eps = np.array([1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    r = np.array([prob.residual(g, {"x": x + e * noise}, x0=x0) for e in eps])
    assert np.all(np.diff(r) > 0)  # grows, linearly while the noise is below the increments
    assert r0 < 1e-3
    assert np.polyfit(np.log(eps[:3]), np.log(r[:3]), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert r[-1] > 1e2 * r0
