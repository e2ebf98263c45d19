"""Rollout error estimate (problems/rollout_estimate.py): exact on linear diffusion with a
perturbed trajectory of known error, accurate on Fisher--KPP (quadratic), zero on the
exact trajectory, the initial mismatch counted, the matrix exponential, bad input."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems.network_diffusion import diffusion_exact
from gnnops.problems.rollout_estimate import expv, rollout_error_estimate

TIMES = np.linspace(0.0, 2.0, 21)


def _graph() -> tuple[nx.Graph, np.ndarray]:
    g = nx.watts_strogatz_graph(40, 4, 0.2, seed=1)
    x0 = np.where(np.arange(40) < 8, 1.0, 0.0)
    return g, x0


def _perturbed(exact: np.ndarray, size: float) -> tuple[np.ndarray, float]:
    """``exact`` + a smooth-in-time perturbation vanishing at t0; its true rel L2 error."""
    n, t = exact.shape
    bump = np.outer(np.cos(np.arange(n)), np.sin(np.linspace(0, np.pi, t)) + TIMES / 2)
    v = exact + size * bump
    err = np.linalg.norm(v[:, 1:] - exact[:, 1:]) / np.linalg.norm(exact[:, 1:])
    return v, float(err)


def test_linear_diffusion_estimate_equals_the_known_error():
    g, x0 = _graph()
    exact = diffusion_exact(g, x0=x0, times=TIMES)
    prob = get("network_diffusion")
    assert prob.trajectory_error_estimate(g, {"x": exact}, x0=x0, times=TIMES).total < 1e-5
    for size in (1e-3, 3e-2):
        v, true = _perturbed(exact, size)
        est = prob.trajectory_error_estimate(g, {"x": v}, x0=x0, times=TIMES)
        # linear ODE: e' = J e + r holds exactly; only the tolerances remain
        assert est.total == pytest.approx(true, rel=0.02)
        assert 0.5 < est.total / true < 2.0
        assert est.per_node.shape == (40,) and est.per_time.shape == (20,)
        err = v[:, 1:] - exact[:, 1:]
        np.testing.assert_allclose(est.per_node, np.sqrt(np.mean(err ** 2, axis=1)),
                                   rtol=0.05, atol=1e-3 * size)


def test_fisher_kpp_secant_propagation_tracks_a_nonlinear_error():
    g, x0 = _graph()
    prob = get("fisher_kpp", rtol=1e-10, atol=1e-12)
    exact = prob.solve(g, x0=x0, times=TIMES)["x"]
    v, true = _perturbed(exact, 0.05)
    est = prob.trajectory_error_estimate(g, {"x": v}, x0=x0, times=TIMES)
    assert true > 0.05 and est.total == pytest.approx(true, rel=0.1)


def test_initial_mismatch_is_an_error_and_irregular_times_work():
    g, x0 = _graph()
    times = np.array([0.0, 0.05, 0.2, 0.3, 0.7])
    exact = diffusion_exact(g, x0=x0, times=times)
    shifted = x0 + 0.1
    want = diffusion_exact(g, x0=shifted, times=times)  # the trajectory from x0 + 0.1
    est = rollout_error_estimate(get("network_diffusion"), g, want, times, x0=x0)
    true = np.linalg.norm(want[:, 1:] - exact[:, 1:]) / np.linalg.norm(exact[:, 1:])
    assert est.total == pytest.approx(true, rel=0.02) and est.defect < 1e-5


def test_taylor_exponential_matches_scipy():
    g, _ = _graph()
    lap = sp.csr_matrix(nx.laplacian_matrix(g).astype(float))
    e = np.cos(np.arange(40.0))
    for tau in (0.01, 0.7, 5.0):
        np.testing.assert_allclose(expv(-lap, tau, e), expm_multiply(-tau * lap, e),
                                   rtol=1e-2, atol=1e-3)


def test_bad_trajectories_are_refused():
    g, x0 = _graph()
    prob = get("network_diffusion")
    with pytest.raises(ProblemError, match=r"expected trajectory 'x' of shape \[N, T\]"):
        prob.trajectory_error_estimate(g, {"x": np.zeros((40, 3))}, x0=x0, times=TIMES)
    bad = np.zeros((40, 21))
    bad[3, 4] = np.nan
    with pytest.raises(ProblemError, match="finite trajectory"):
        prob.trajectory_error_estimate(g, {"x": bad}, x0=x0, times=TIMES)
    with pytest.raises(ProblemError, match="expected output 'x'"):
        prob.trajectory_error_estimate(g, {"u": bad}, x0=x0, times=TIMES)


@pytest.mark.parametrize("name", ["gene_regulatory", "mutualistic"])
def test_non_quadratic_network_odes(name):
    """Hill-type right-hand sides: the midpoint secant is second order, still within 5 %."""
    g, _ = _graph()
    prob = get(name, rtol=1e-10, atol=1e-12)
    x0 = prob.evaluate_inputs(prob.sample_inputs(np.random.default_rng(0)), g)["x0"]
    exact = prob.solve(g, x0=x0, times=TIMES)["x"]
    v, true = _perturbed(exact, 0.1 * float(np.abs(exact).mean()))
    est = prob.trajectory_error_estimate(g, {"x": v}, x0=x0, times=TIMES)
    assert true > 0.01 and est.total == pytest.approx(true, rel=0.05)
