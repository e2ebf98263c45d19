"""Seeded graph families: counts, degree statistics, positions, determinism, errors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.spatial import ConvexHull

from gnnops.errors import GraphError
from gnnops.graphs.families import FAMILIES, block_sizes, family_names, make_graph

NAMES = ["barabasi_albert", "community", "erdos_renyi", "grid", "random_geometric", "sbm",
         "voronoi", "watts_strogatz"]


def _edges(g: nx.Graph) -> set:
    return {tuple(sorted(e)) for e in g.edges}


def test_registry_names():
    assert family_names() == NAMES == sorted(FAMILIES)


@pytest.mark.parametrize("family", NAMES)
def test_node_count_determinism_and_simple_undirected(family):
    g = make_graph(family, 400, seed=11)
    assert list(g.nodes) == list(range(400)) and not g.is_directed()
    assert nx.number_of_selfloops(g) == 0
    assert _edges(g) == _edges(make_graph(family, 400, seed=11))
    if family != "grid":
        assert _edges(g) != _edges(make_graph(family, 400, seed=12))
    has_pos = family in ("grid", "random_geometric", "voronoi")
    assert all(("pos" in g.nodes[v]) == has_pos for v in g.nodes)
    if has_pos:
        pos = np.array([g.nodes[v]["pos"] for v in g.nodes])
        assert pos.shape == (400, 2) and pos.min() >= 0 and pos.max() <= 1
    assert g.graph["family"] == family and g.graph["seed"] == 11


def test_erdos_renyi_defaults_and_mean_degree_scaling():
    for n in (400, 2000):  # default keeps the NDCN mean degree 0.1 * 399 = 39.9
        g = make_graph("erdos_renyi", n, seed=0)
        pairs, p = n * (n - 1) / 2, 39.9 / (n - 1)
        assert abs(g.number_of_edges() - pairs * p) < 5 * np.sqrt(pairs * p * (1 - p))
    g = make_graph("erdos_renyi", 300, seed=0, p=0.2)
    pairs = 300 * 299 / 2
    assert abs(g.number_of_edges() - 0.2 * pairs) < 5 * np.sqrt(pairs * 0.16)
    assert make_graph("erdos_renyi", 10, seed=0, p=1.0).number_of_edges() == 45


def test_barabasi_albert_edge_count():
    for n, m in ((400, 5), (1000, 3)):
        g = make_graph("barabasi_albert", n, seed=1, m=m)
        assert g.number_of_edges() == m * (n - m)
        assert min(d for v, d in g.degree if v > m) == m  # every later node brought m edges


def test_newman_watts_strogatz_keeps_the_ring():
    g = make_graph("watts_strogatz", 400, seed=2)  # k = 5: 2 ring neighbours per side
    i = np.arange(400)
    ring = {tuple(sorted(e)) for s in (1, 2) for e in zip(i, (i + s) % 400, strict=True)}
    assert ring <= _edges(g)
    extra = g.number_of_edges() - 800  # shortcuts ~ Binomial(800, 0.5) minus rare duplicates
    assert 300 < extra < 460


@pytest.mark.parametrize("family", ["community", "sbm"])
def test_community_blocks_and_densities(family):
    assert block_sizes(400) == [133, 133, 100, 34]
    assert sum(block_sizes(4001)) == 4001
    g = make_graph(family, 400, seed=3)
    block = np.array([g.nodes[v]["block"] for v in g.nodes])
    np.testing.assert_array_equal(np.bincount(block), [133, 133, 100, 34])
    e = np.array(g.edges)
    same = block[e[:, 0]] == block[e[:, 1]]
    n_in = sum(s * (s - 1) / 2 for s in (133, 133, 100, 34))
    n_out = 400 * 399 / 2 - n_in
    assert abs(same.sum() / n_in - 0.25) < 0.02
    assert abs((~same).sum() / n_out - 0.01) < 0.003
    big = make_graph(family, 1600, seed=3)  # p scaled by 400 / n: same expected degrees
    assert abs(2 * big.number_of_edges() / 1600 - 2 * g.number_of_edges() / 400) < 1.5


def test_grid_counts_and_positions():
    g = make_graph("grid", 400, seed=0)
    assert g.number_of_edges() == 2 * 20 * 19 + 2 * 19 * 19  # 8-neighbour
    assert make_graph("grid", 400, seed=0, diagonal=False).number_of_edges() == 2 * 20 * 19
    assert g.nodes[21]["pos"] == pytest.approx((1 / 19, 1 / 19))  # row-major: 21 = (1, 1)
    assert g.has_edge(0, 21) and g.has_edge(1, 20) and not g.has_edge(0, 2)
    degs = np.bincount([d for _, d in g.degree])
    assert degs[3] == 4 and degs[5] == 4 * 18 and degs[8] == 18 * 18


def test_random_geometric_radius_and_mean_degree():
    g = make_graph("random_geometric", 300, seed=4)
    pos = np.array([g.nodes[v]["pos"] for v in g.nodes])
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    close = {(i, j) for i, j in zip(*np.nonzero(dist < g.graph["radius"]), strict=True) if i < j}
    assert close == _edges(g)  # brute force: exactly the pairs closer than the radius
    means = [2 * make_graph("random_geometric", 2000, seed=s).number_of_edges() / 2000
             for s in range(3)]
    assert abs(np.mean(means) - 6.0) < 0.15  # target mean degree, boundary effect included
    g10 = make_graph("random_geometric", 2000, seed=0, mean_degree=10)
    assert abs(2 * g10.number_of_edges() / 2000 - 10) < 0.5
    assert make_graph("random_geometric", 50, seed=0, radius=2.0).number_of_edges() == 1225


def test_voronoi_is_a_delaunay_triangulation():
    for n in (50, 400):
        g = make_graph("voronoi", n, seed=5)
        pos = np.array([g.nodes[v]["pos"] for v in g.nodes])
        h = len(ConvexHull(pos).vertices)
        assert g.number_of_edges() == 3 * n - 3 - h  # Euler, triangulated point set
        assert nx.check_planarity(g)[0] and nx.is_connected(g)


def test_errors_name_what_was_expected():
    with pytest.raises(GraphError, match="unknown graph family 'er'; expected one of: "
                                         "barabasi_albert, community, erdos_renyi"):
        make_graph("er", 10, seed=0)
    with pytest.raises(GraphError, match=r"unknown parameter\(s\) \['q'\] for family "
                                         "'erdos_renyi'; expected some of: p, mean_degree"):
        make_graph("erdos_renyi", 10, seed=0, q=0.1)
    cases = [
        (("erdos_renyi", 10), {"p": 1.5}, r"p in \[0, 1\] \(got 1.5\)"),
        (("erdos_renyi", 10), {"p": 0.1, "mean_degree": 3}, "p or mean_degree, not both"),
        (("barabasi_albert", 5), {"m": 5}, r"1 <= m < n = 5 \(got 5\)"),
        (("watts_strogatz", 10), {"k": 12}, "2 <= k < n = 10"),
        (("grid", 10), {}, r"perfect square for 'grid' \(got 10\)"),
        (("community", 10), {"sizes": [3, 3]}, "summing to n = 10"),
        (("sbm", 10), {"p_in": -0.1}, r"p_in in \[0, 1\]"),
        (("random_geometric", 10), {"mean_degree": 50}, "mean_degree <"),
        (("voronoi", 2), {}, "n >= 3"),
        (("erdos_renyi", 0), {}, "n a positive integer"),
    ]
    for (fam, n), params, msg in cases:
        with pytest.raises(GraphError, match=msg):
            make_graph(fam, n, seed=0, **params)
    with pytest.raises(GraphError, match="integer seed"):
        make_graph("grid", 4, seed=1.5)


def test_count_weights_are_heavy_tailed_integers_on_the_same_structure():
    import numpy as np

    from gnnops.errors import GraphError
    from gnnops.graphs.families import make_graph

    plain = make_graph("random_geometric", 400, seed=5)
    g = make_graph("random_geometric", 400, seed=5, edge_weights="zipf")
    assert sorted(g.edges) == sorted(plain.edges)  # weights come from their own stream
    w = np.array([d["weight"] for _, _, d in g.edges(data=True)])
    assert w.dtype.kind == "i" and w.min() == 1 and w.max() <= 60
    assert 0.5 < np.mean(w == 1) < 0.7 and w.max() >= 20  # P(1) = 1/zeta(2), heavy tail
    again = make_graph("random_geometric", 400, seed=5, edge_weights="zipf")
    assert [d["weight"] for *_, d in again.edges(data=True)] == list(w)
    ln = make_graph("grid", 49, seed=1, edge_weights="lognormal", weight_max=5)
    lw = np.array([d["weight"] for *_, d in ln.edges(data=True)])
    assert lw.min() >= 1 and lw.max() <= 5
    with pytest.raises(GraphError, match="edge_weights"):
        make_graph("grid", 49, seed=1, edge_weights="uniform")
    with pytest.raises(GraphError, match="weight_exponent > 1"):
        make_graph("grid", 49, seed=1, edge_weights="zipf", weight_exponent=1.0)
