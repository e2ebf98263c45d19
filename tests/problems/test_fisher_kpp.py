"""fisher_kpp: dx/dt = -rho L x + alpha x (1 - x) against closed forms and fine-step RK4."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from gnnops.errors import ProblemError
from gnnops.graphs.families import make_graph
from gnnops.problems import get
from gnnops.problems._graph_ops import adjacency, laplacian


def _rk4(g, x0, t_end, dt, rho, alpha):
    lap = laplacian(adjacency(g))

    def f(x):
        return -rho * (lap @ x) + alpha * x * (1 - x)

    x = np.asarray(x0, dtype=np.float64)
    for _ in range(round(t_end / dt)):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def test_matches_fine_step_rk4():
    g = nx.grid_2d_graph(6, 6)
    x0 = np.zeros(36)
    x0[[0, 1, 6]] = [0.9, 0.5, 0.7]
    got = get("fisher_kpp").solve(g, x0=x0, times=[1.0, 2.5])["x"]
    np.testing.assert_allclose(got[:, 0], _rk4(g, x0, 1.0, 1e-3, 0.5, 2.0), atol=1e-8)
    np.testing.assert_allclose(got[:, 1], _rk4(g, x0, 2.5, 1e-3, 0.5, 2.0), atol=1e-8)


def test_logistic_closed_form_without_diffusion():
    g = nx.empty_graph(4)
    x0 = np.array([0.01, 0.2, 0.5, 1.0])
    t = np.linspace(0, 5, 21)
    got = get("fisher_kpp", rho=0.0, alpha=1.5).solve(g, x0=x0, times=t)["x"]
    e = np.exp(1.5 * t)[None, :]
    want = x0[:, None] * e / (1 - x0[:, None] + x0[:, None] * e)
    np.testing.assert_allclose(got, want, atol=1e-8)


@pytest.mark.parametrize("family", ["barabasi_albert", "grid", "voronoi"])
def test_stays_in_unit_interval_and_spreads(family):
    g = make_graph(family, 400, seed=2)
    prob = get("fisher_kpp")
    x0 = prob.sample_inputs(np.random.default_rng(1)).at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    assert x.min() >= -1e-9 and x.max() <= 1 + 1e-9
    mean = x.mean(0)
    assert np.all(np.diff(mean) > 0)  # total burden only grows (from 0 < x0 < 1 seeds)
    assert mean[0] < 0.2 and mean[-1] > 0.5  # seeded region -> widespread within T = 5
    assert prob.residual(g, {"x": x}, x0=x0) < 1e-3


def test_rejects_states_outside_unit_interval():
    with pytest.raises(ProblemError, match=r"x0 in \[0, 1\] \(got range \[0, 1.5\]\)"):
        get("fisher_kpp").solve(nx.path_graph(3), x0=[0.0, 1.5, 0.2])


def test_perturbed_trajectory_residual_grows_linearly():
    g = nx.grid_2d_graph(8, 8)
    prob = get("fisher_kpp", n_times=51)
    x0 = prob.sample_inputs(np.random.default_rng(0), recipe="uniform").at(g)["x0"]
    x = prob.solve(g, x0=x0)["x"]
    r0 = prob.residual(g, {"x": x}, x0=x0)
    noise = np.random.default_rng(1).standard_normal(x.shape)
    eps = np.array([1e-4, 1e-3, 1e-2])
    r = np.array([prob.residual(g, {"x": x + e * noise}, x0=x0) for e in eps])
    assert r0 < 1e-4
    assert np.polyfit(np.log(eps), np.log(r), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert r[-1] > 1e3 * r0
