"""Tests of gnnops.surrogate.recipe: the typed Recipe (JSON round trip, old dicts, malformed
fields), prepare_graph and the recipe's train_stats."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from training_fixtures import make_graphs, triangle_graph

from gnnops.errors import ArtifactError, ConfigError, GraphError
from gnnops.surrogate.prepare import prepare_graph
from gnnops.surrogate.recipe import (
    Recipe,
    RolloutLayout,
    TrainStats,
    as_recipe,
    make_recipe,
    mean_spacing,
)


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
    st = _recipe(gs, ["pos"]).train_stats
    assert isinstance(st, TrainStats) and (st.nodes_min, st.nodes_max) == (25, 36)
    # n x n grid: 2 n (n - 1) axis edges of length h, (n - 1)^2 diagonals of length h sqrt 2
    def spacing(n):
        h = 1 / (n - 1)
        return (2 * n * (n - 1) * h + (n - 1) ** 2 * h * np.sqrt(2)) / (2 * n * (n - 1)
                                                                        + (n - 1) ** 2)
    assert st.spacing_max == pytest.approx(spacing(5), rel=1e-6)
    assert st.spacing_min == pytest.approx(spacing(6), rel=1e-6)
    assert mean_spacing(gs[0]) == pytest.approx(spacing(5), rel=1e-6)
    allx = torch.cat([g.x for g in gs])
    assert st.input_min == [float(allx.min())] and st.input_max == [float(allx.max())]


# ------------------------------------------------------------------ the typed recipe as JSON
# a recipe exactly as make_recipe wrote it (a plain dict) before the recipe was typed
OLD_DICT = {
    "kind": "mesh", "inputs": ["a", "f"], "input_dims": [1, 1], "targets": ["u"],
    "target_dims": [1], "features": ["pos"], "problem": "darcy", "num_node_types": 2,
    "undirected": True,
    "train_stats": {"nodes_min": 25, "nodes_max": 36, "spacing_min": 0.2,
                    "spacing_max": 0.25, "input_min": [3.0, 1.0], "input_max": [12.0, 1.0]},
}
OLD_LAYOUT = {
    "problem": "fisher_kpp", "problem_options": {"t_end": 2.0, "n_times": 21}, "state": "x",
    "initial": "x0", "static": [], "times": [0.0, 0.1, 0.2], "t0": 0.0,
    "includes_initial": True, "dt": 0.1, "dt_feature": True, "anchor": None,
}


def test_old_dict_format_loads_and_round_trips() -> None:
    r = Recipe.from_json(OLD_DICT)
    assert isinstance(r.train_stats, TrainStats) and r.rollout is None
    assert (r.kind, r.inputs, r.input_dims, r.problem) == ("mesh", ["a", "f"], [1, 1], "darcy")
    assert r.train_stats.input_max == [12.0, 1.0] and r.undirected is True
    assert r.to_json() == OLD_DICT  # the file format is unchanged: old readers read new files
    assert Recipe.from_json(json.dumps(OLD_DICT)) == r  # JSON text too
    rolled = Recipe.from_json({**OLD_DICT, "rollout": OLD_LAYOUT})
    assert isinstance(rolled.rollout, RolloutLayout) and rolled.rollout.dt == 0.1
    assert rolled.to_json() == {**OLD_DICT, "rollout": OLD_LAYOUT}
    assert Recipe.from_json(json.loads(json.dumps(rolled.to_json()))) == rolled


def test_older_dicts_missing_later_fields_take_defaults() -> None:
    old = {k: v for k, v in OLD_DICT.items() if k not in ("undirected", "num_node_types")}
    layout = {k: v for k, v in OLD_LAYOUT.items() if k not in ("anchor", "dt_feature")}
    r = Recipe.from_json({**old, "rollout": layout})
    assert r.undirected is False and r.num_node_types == 2
    assert r.rollout.anchor is None and r.rollout.dt_feature is True
    assert as_recipe(OLD_DICT) == Recipe.from_json(OLD_DICT) and as_recipe(r) is r


def test_make_recipe_round_trips_through_json() -> None:
    gs = make_graphs(2, 0)
    r = _recipe(gs, ["pos", "node_type_onehot"])
    back = Recipe.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r and back.train_stats.nodes_min == 25 and back.features[1] == (
        "node_type_onehot")


@pytest.mark.parametrize("change, words", [
    ({"kind": "grid"}, ["'recipe.kind'", "'mesh', 'network'", "got 'grid'"]),
    ({"input_dims": [1, "1"]}, ["'recipe.input_dims[1]'", "expects int", "got '1'"]),
    ({"undirected": "yes"}, ["'recipe.undirected'", "expects bool"]),
    ({"train_stats": {**OLD_DICT["train_stats"], "nodes_max": "36"}},
     ["'recipe.train_stats.nodes_max'", "int or null", "got '36'"]),
    ({"train_stats": {**OLD_DICT["train_stats"], "spacing_min": "0.2"}},
     ["'recipe.train_stats.spacing_min'", "float or null"]),  # strict: JSON has numbers
    ({"train_stats": [1, 2]}, ["'recipe.train_stats'", "expects a mapping"]),
    ({"rollout": {**OLD_LAYOUT, "dt": None}}, ["'recipe.rollout.dt'", "expects float"]),
    ({"rollout": {k: v for k, v in OLD_LAYOUT.items() if k != "state"}},
     ["missing required recipe field 'recipe.rollout.state'"]),
    ({"inputz": ["a"]}, ["unknown recipe field 'recipe.inputz'", "did you mean 'inputs'?"]),
    ({"inputs": ["a", "f", "g"]}, ["recipe 'inputs' ['a', 'f', 'g'] and 'input_dims' [1, 1]",
                                   "'recipe.input_dims'"]),
    ({"target_dims": [0]}, ["'recipe.target_dims[0]'", ">= 1, got 0"]),
])
def test_malformed_field_is_an_artifact_error_naming_it(change, words) -> None:
    with pytest.raises(ArtifactError) as exc:
        Recipe.from_json({**OLD_DICT, **change})
    for w in words:
        assert w in str(exc.value)


def test_not_a_mapping_is_an_artifact_error() -> None:
    with pytest.raises(ArtifactError, match=r"recipe section 'recipe' expects a mapping"):
        Recipe.from_json([1, 2])
    with pytest.raises(ArtifactError, match="JSON object"):
        Recipe.from_json("{not json")


def test_prepare_graph_reads_a_plain_dict_recipe_like_the_typed_one() -> None:
    g = make_graphs(1, 0)[0]
    r = _recipe([g], ["pos", "boundary"])
    assert torch.equal(prepare_graph(g, r.to_json()).x, prepare_graph(g, r).x)


def test_later_fields_are_stored_only_when_used() -> None:
    r = Recipe.from_json(OLD_DICT)
    assert "scaling" not in r.to_json() and "hard_dirichlet" not in r.to_json()
    used = Recipe.from_json({**OLD_DICT, "scaling": {"a": -1.0, "f": 1.0},
                             "hard_dirichlet": True, "problem_options": {"n_modes": 8}})
    d = used.to_json()
    assert d["scaling"] == {"a": -1.0, "f": 1.0} and d["hard_dirichlet"] is True
    assert d["problem_options"] == {"n_modes": 8} and Recipe.from_json(d) == used


def test_recipe_records_the_edge_weight_attribute_of_weighted_networks() -> None:
    import networkx as nx

    from gnnops.graphs import from_networkx
    from gnnops.surrogate.recipe import Recipe, make_recipe

    g = nx.path_graph(4)
    nx.set_edge_attributes(g, {(0, 1): 3, (1, 2): 1, (2, 3): 12}, "weight")
    kw = dict(inputs=[], input_dims=[], targets=[], target_dims=[], features=[],
              problem=None, kind="network")
    weighted = make_recipe([from_networkx(g, edge_weight="weight")], **kw)
    plain = make_recipe([from_networkx(g)], **kw)
    assert weighted.edge_weight == "weight" and plain.edge_weight is None
    assert "edge_weight" not in plain.to_json()  # omitted at its default: older format
    assert Recipe.from_json(weighted.to_json()).edge_weight == "weight"
