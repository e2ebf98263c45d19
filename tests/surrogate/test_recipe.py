"""Tests of gnnops.surrogate.recipe: prepare_graph and the recipe's train_stats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from training_fixtures import make_graphs, triangle_graph

from gnnops.errors import ConfigError, GraphError
from gnnops.surrogate.recipe import make_recipe, mean_spacing, out_of_distribution, prepare_graph


def _recipe(gs, features):
    return make_recipe(gs, inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                       features=features, problem="darcy")


def test_prepare_graph_columns_and_purity() -> None:
    g = make_graphs(1, 0)[0]
    x0 = g.x.clone()
    r = _recipe([g], ["pos", "boundary", "node_type_onehot"])
    out = prepare_graph(g, r)
    assert out.x.shape == (25, 1 + 2 + 1 + 2)
    assert torch.equal(out.x[:, 0:1], x0) and torch.equal(out.x[:, 1:3], g.pos)
    assert int(out.x[:, 3].sum()) == 16  # boundary nodes of a 5 x 5 grid: 4 * 5 - 4
    assert torch.equal(out.x[:, 4:6].argmax(1), g.node_type)
    assert torch.equal(g.x, x0) and g.x.shape == (25, 1)  # input unchanged
    assert torch.equal(prepare_graph(g, r).x, out.x)  # deterministic


def test_prepare_graph_errors() -> None:
    g = make_graphs(1, 0)[0]
    r = _recipe([g], ["pos"])
    g2 = g.clone()
    g2.x = torch.zeros(25, 2)
    with pytest.raises(GraphError, match=r"shape \[25, 1\].*got \[25, 2\]"):
        prepare_graph(g2, r)
    with pytest.raises(ConfigError,
                       match="unknown feature 'curl' in data.features; expected one of: pos"):
        _recipe([g], ["curl"])


def test_train_stats_hand_counts() -> None:
    rng = np.random.default_rng(0)
    gs = [triangle_graph(5, rng, jitter=0.0), triangle_graph(6, rng, jitter=0.0)]
    st = _recipe(gs, ["pos"])["train_stats"]
    assert (st["nodes_min"], st["nodes_max"]) == (25, 36)
    # n x n grid: 2 n (n - 1) axis edges of length h, (n - 1)^2 diagonals of length h sqrt 2
    def spacing(n):
        h = 1 / (n - 1)
        return (2 * n * (n - 1) * h + (n - 1) ** 2 * h * np.sqrt(2)) / (2 * n * (n - 1)
                                                                        + (n - 1) ** 2)
    assert st["spacing_max"] == pytest.approx(spacing(5), rel=1e-6)
    assert st["spacing_min"] == pytest.approx(spacing(6), rel=1e-6)
    assert mean_spacing(gs[0]) == pytest.approx(spacing(5), rel=1e-6)
    allx = torch.cat([g.x for g in gs])
    assert st["input_min"] == [float(allx.min())] and st["input_max"] == [float(allx.max())]


def test_out_of_distribution_flags() -> None:
    rng = np.random.default_rng(0)
    gs = [triangle_graph(5, rng, jitter=0.0)]
    r = _recipe(gs, ["pos"])
    assert out_of_distribution(gs[0], r) == []
    fine = triangle_graph(11, rng, jitter=0.0)
    fine.x = gs[0].x.new_full((121, 1), 1e3)
    reasons = out_of_distribution(fine, r)
    assert len(reasons) == 2 and "mean edge length" in reasons[0] and "column 0" in reasons[1]
