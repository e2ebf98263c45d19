"""Rollout prediction helpers (inference/trajectory.py): the problem at the rollout's times,
the residual of a trajectory, predict_rollout with a model of known output."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

from gnnops.errors import ConfigError
from gnnops.inference import Predictor
from gnnops.inference.trajectory import predict_rollout, trajectory_problem, trajectory_residual
from gnnops.problems import get
from gnnops.surrogate.stepping import step_input_names, trajectory_layout
from gnnops.surrogate.surrogate import Surrogate

SOLVER = {"t_end": 0.5, "n_times": 6}


def _path_graph() -> tuple[nx.Graph, np.ndarray]:
    g = nx.path_graph(6)
    return g, np.linspace(0.0, 1.0, 6)


def test_problem_at_the_rollout_times():
    lay = trajectory_layout("network_diffusion", SOLVER)
    prob, call = trajectory_problem(lay, 3)
    np.testing.assert_allclose(call["times"], [0.0, 0.1, 0.2, 0.3])
    assert prob.name == "network_diffusion"
    _, call = trajectory_problem(lay, 2, times=[0.0, 0.5, 0.7])
    assert list(call["times"]) == [0.0, 0.5, 0.7]
    heat = trajectory_layout("heat", {})
    hprob, hcall = trajectory_problem(heat, 4)
    assert hcall == {}  # mesh problems take the times at construction
    np.testing.assert_allclose(hprob.times, heat.dt * np.arange(1, 5))  # a property here


def test_residual_of_exact_and_perturbed_trajectories():
    lay = trajectory_layout("network_diffusion", SOLVER)
    g, x0 = _path_graph()
    times = lay.t0 + lay.dt * np.arange(6)
    exact = get("network_diffusion", rtol=1e-12, atol=1e-14).solve(g, x0=x0, times=times)["x"]
    rel, node = trajectory_residual(lay, g, exact, {"x0": x0}, per_node=True)
    assert rel < 1e-4 and node.shape == (6,)  # Hermite-Simpson error of dt = 0.1
    v = np.outer(np.cos(np.arange(6)), np.ones(6))
    v[:, 0] = 0.0  # the initial state stays
    r1 = trajectory_residual(lay, g, exact + 1e-3 * v, {"x0": x0})[0]
    r2 = trajectory_residual(lay, g, exact + 2e-3 * v, {"x0": x0})[0]
    assert r1 > 10 * rel and r2 / r1 == pytest.approx(2.0, rel=0.05)  # linear in the error
    assert trajectory_residual(lay, g, exact, {"x0": x0})[1] is None


class _Decay(nn.Module):
    """Normalized increment -0.1 * x: the rollout is x_k = 0.9^k x0 (identity normalizers)."""

    def forward(self, data):  # noqa: D102
        return -0.1 * data.x[:, :1]


def _predictor() -> Predictor:
    lay = trajectory_layout("network_diffusion", SOLVER)
    names = step_input_names(lay)
    recipe = {"kind": "network", "inputs": names, "input_dims": [1] * len(names),
              "features": [], "targets": ["x_increment"], "target_dims": [1],
              "rollout": dataclasses.asdict(lay)}
    norms = {"x.mean": torch.zeros(len(names)), "x.std": torch.ones(len(names)),
             "y.mean": torch.zeros(1), "y.std": torch.ones(1)}
    sur = Surrogate(_Decay(), model_name="decay", model_kwargs={}, recipe=recipe,
                    normalizers=norms)
    return Predictor(sur, recipe=recipe, problem="network_diffusion")


def test_predict_rollout_of_a_known_model():
    g, x0 = _path_graph()
    pred = predict_rollout(_predictor(), g, steps=3, x0=x0)
    traj = pred.fields["x"]
    np.testing.assert_allclose(traj, np.outer(x0, 0.9 ** np.arange(4)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(pred.times, [0.0, 0.1, 0.2, 0.3])
    lay = trajectory_layout("network_diffusion", SOLVER)
    want = trajectory_residual(lay, g, traj, {"x0": x0})[0]
    assert pred.residual == pytest.approx(want, rel=1e-9) and pred.residual > 0.1
    assert pred.per_node_residual.shape == (6,) and pred.kind == "network"
    default = predict_rollout(_predictor(), g, x0=x0, residual=False)
    assert default.fields["x"].shape == (6, 6) and default.residual is None  # trained length
    with pytest.raises(ConfigError, match=r"expected steps >= 1 \(got 0\)"):
        predict_rollout(_predictor(), g, steps=0, x0=x0)


class _WeightedDiffusion(nn.Module):
    """Normalized increment ``-0.05 sum_j w_ij (x_i - x_j)`` from ``edge_attr`` (the weights
    the training loader stores): the prediction depends on every edge weight."""

    def forward(self, data):  # noqa: D102
        x = data.x[:, :1]
        src, dst = data.edge_index
        w = data.edge_attr.reshape(-1, 1).to(x.dtype)
        return -0.05 * torch.zeros_like(x).index_add(0, dst, w * (x[dst] - x[src]))


def _weighted_predictor(edge_weight: str | None) -> Predictor:
    lay = trajectory_layout("network_diffusion", SOLVER)
    names = step_input_names(lay)
    recipe = {"kind": "network", "inputs": names, "input_dims": [1] * len(names),
              "features": [], "targets": ["x_increment"], "target_dims": [1],
              "undirected": True, "edge_weight": edge_weight,
              "rollout": dataclasses.asdict(lay)}
    norms = {"x.mean": torch.zeros(len(names)), "x.std": torch.ones(len(names)),
             "y.mean": torch.zeros(1), "y.std": torch.ones(1)}
    sur = Surrogate(_WeightedDiffusion(), model_name="wdiff", model_kwargs={}, recipe=recipe,
                    normalizers=norms)
    return Predictor(sur, recipe=recipe, problem="network_diffusion")


def _weighted_graph() -> tuple[nx.Graph, np.ndarray]:
    g = nx.cycle_graph(7)
    for (u, v), w in zip(g.edges, [1, 5, 2, 54, 3, 1, 9], strict=True):  # synapse-like counts
        g.edges[u, v]["weight"] = w
    return g, np.linspace(1.0, 0.0, 7)


def test_weighted_network_prediction_uses_the_training_weights_exactly():
    """The rollout on a weighted networkx graph equals the rollout of the graph prepared as
    the training loader prepares it (``from_networkx(g, edge_weight="weight")``), and
    differs from the unweighted one."""
    from gnnops.graphs import from_networkx
    from gnnops.surrogate.stepping import rollout

    g, x0 = _weighted_graph()
    pred = _weighted_predictor("weight")
    got = predict_rollout(pred, g, steps=5, x0=x0, residual=False)
    train_like = from_networkx(g, edge_weight="weight")  # gnnops.data.dataset._load_network
    lay = pred.recipe.rollout
    want = rollout(pred.surrogate.eval(), train_like, torch.tensor(x0, dtype=torch.float32),
                   torch.zeros(7, 0), np.full(5, lay.dt), layout=lay).double().numpy()
    np.testing.assert_allclose(got.fields["x"], want, rtol=1e-6, atol=1e-7)
    unweighted = rollout(pred.surrogate, from_networkx(g), torch.tensor(x0, dtype=torch.float32),
                         torch.zeros(7, 0), np.full(5, lay.dt), layout=lay).double().numpy()
    assert np.abs(got.fields["x"] - unweighted).max() > 0.05  # the weights matter
    assert not any(f.startswith("edge_weights") for f in got.flags)


def test_weight_mismatches_are_flagged_and_directed_networks_refused():
    from gnnops.errors import GraphError

    g, x0 = _weighted_graph()
    bare = nx.cycle_graph(7)  # the same network without weights: taken as 1, flagged
    missing = predict_rollout(_weighted_predictor("weight"), bare, steps=2, x0=x0,
                              residual=False)
    assert any(f.startswith("edge_weights_missing") for f in missing.flags)
    ignored = predict_rollout(_weighted_predictor(None), g, steps=2, x0=x0, residual=False)
    assert any(f.startswith("edge_weights_ignored") for f in ignored.flags)
    np.testing.assert_allclose(missing.fields["x"], ignored.fields["x"])  # both: all ones
    one_way = nx.DiGraph()
    one_way.add_nodes_from(range(7))
    one_way.add_edges_from(g.edges(data=True))  # each edge in one direction only
    with pytest.raises(GraphError, match="trained on undirected networks"):
        predict_rollout(_weighted_predictor("weight"), one_way, steps=2, x0=x0)
    both_ways = predict_rollout(_weighted_predictor("weight"), nx.DiGraph(g), steps=2, x0=x0,
                                residual=False)  # every edge with its reverse: accepted
    assert both_ways.fields["x"].shape == (7, 3)


def test_input_names_agree_between_info_set_and_python():
    """A rollout model takes its initial state by the problem's name (x0) everywhere:
    ``Predictor.inputs``, ``gnnops info``, ``--set`` and ``predict(G, x0=...)``."""
    import argparse

    from gnnops.inference.cli import _check_request, model_inputs
    from gnnops.inference.info_cli import format_info

    pred = _weighted_predictor("weight")
    assert pred.inputs == ["x0"] == model_inputs(pred)
    assert pred.step_inputs == ["x", "dt"]
    desc = pred.describe()
    assert desc["inputs"] == {"x0": 1} and desc["edge_weight"] == "weight"
    text = format_info({**desc, "parameters": 0})
    assert "inputs:     x0[1] (rolled out; one-step model columns: x, dt)" in text
    args = argparse.Namespace(steps=None)
    _check_request(pred, args, {"x0": 0.5})  # accepted
    with pytest.raises(ConfigError, match="unknown input field 'x'; this model takes: x0"):
        _check_request(pred, args, {"x": 0.5})
    g, x0 = _weighted_graph()
    assert predict_rollout(pred, g, steps=1, x0=x0, residual=False).fields["x"].shape == (7, 2)


class _TaylorDiffusion(nn.Module):
    """Increment ``(-dt L + dt^2 / 2 L^2) x`` (dt = 0.1, unit weights): a good rollout."""

    def forward(self, data):  # noqa: D102
        x = data.x[:, :1]
        src, dst = data.edge_index

        def lap(y):
            return torch.zeros_like(y).index_add(0, dst, y[dst] - y[src])

        lx = lap(x)
        return -0.1 * lx + 0.005 * lap(lx)


def test_rollout_error_estimate_and_its_flag():
    """The estimate matches the true error against the exact diffusion (within 2x, here a
    few %), fires ``error_estimate_high`` on the decaying (bad) rollout and not on the
    second-order (good) one, and reaches the summary and the written network."""
    from gnnops.problems.network_diffusion import diffusion_exact

    g, x0 = _path_graph()
    bad = predict_rollout(_predictor(), g, steps=5, x0=x0)
    good_pred = _predictor()
    good_pred.surrogate.model = _TaylorDiffusion()
    good = predict_rollout(good_pred, g, steps=5, x0=x0)
    exact = diffusion_exact(g, x0=x0, times=bad.times)
    for pred in (bad, good):
        v = pred.fields["x"]
        true = np.linalg.norm(v[:, 1:] - exact[:, 1:]) / np.linalg.norm(exact[:, 1:])
        assert pred.error_estimate == pytest.approx(true, rel=0.05)
        assert pred.error_indicator.shape == (6,) and "estimate" in pred.timings
        assert pred.summary()["error_estimate"] == pred.error_estimate
    assert bad.error_estimate > 0.2 > 0.01 > good.error_estimate
    assert any(f.startswith("error_estimate_high") for f in bad.flags)
    assert not any(f.startswith("error_estimate_high") for f in good.flags)
    no_residual = predict_rollout(_predictor(), g, steps=5, x0=x0, residual=False)
    assert no_residual.error_estimate is None


def test_rollout_error_indicator_is_written(tmp_path):
    from gnnops.graphs import read_network

    g, x0 = _path_graph()
    pred = predict_rollout(_predictor(), g, steps=3, x0=x0)
    back = read_network(pred.write(tmp_path / "p.graphml"))
    got = [back.nodes[n]["error_indicator"] for n in back.nodes]
    np.testing.assert_allclose(got, pred.error_indicator, rtol=1e-9)


def test_rollout_estimate_reaches_the_predict_summary(tmp_path):
    """The row ``gnnops predict`` writes for a rollout carries its estimate and flag."""
    import argparse

    from gnnops.graphs import write_network
    from gnnops.inference.cli import _predict_one

    g, x0 = _path_graph()
    nx.set_node_attributes(g, dict(enumerate(x0.tolist())), "x0")
    src = write_network(g, tmp_path / "g.graphml") or tmp_path / "g.graphml"
    args = argparse.Namespace(steps=5, correct=None, refine=None, compare_zero=False)
    row = _predict_one(_predictor(), src, tmp_path / "out.graphml", args, {})
    want = predict_rollout(_predictor(), g, steps=5, x0=x0).error_estimate
    assert row["error_estimate"] == pytest.approx(want, rel=1e-6) and want > 0.2
    assert any(f.startswith("error_estimate_high") for f in row["flags"])
