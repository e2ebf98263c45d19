"""Initial-state recipes of the network problems: reproducible, size-free, NDCN blocks."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

from gnnops.errors import ProblemError
from gnnops.problems import get
from gnnops.problems._network_inputs import ndcn_initial_state

NAMES = ["network_diffusion", "fisher_kpp", "gene_regulatory", "mutualistic"]


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
