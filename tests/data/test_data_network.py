"""Network samples on disk (data/_network.py): GraphML + NPZ round trip, seeded graphs,
completeness checks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest

from gnnops.data._network import (
    check_network_sample,
    draw_graph,
    read_network_sample,
    write_network_sample,
)
from gnnops.errors import DataError
from gnnops.problems import get


def _task(idx: int = 0, resolution: int = 0, family: str = "random_geometric"):
    return SimpleNamespace(split_id=0, idx=idx, resolution=resolution, family=family)


def _ctx(seed: int = 3):
    return SimpleNamespace(seed=seed, node_counts=[30, 60], family_options={})


def test_draw_graph_is_seeded_per_sample_and_resolution():
    a, b = draw_graph(_task(), _ctx()), draw_graph(_task(), _ctx())
    assert sorted(a.edges) == sorted(b.edges) and a.number_of_nodes() == 30
    np.testing.assert_array_equal([a.nodes[v]["pos"] for v in a], [b.nodes[v]["pos"] for v in b])
    assert sorted(draw_graph(_task(idx=1), _ctx()).edges) != sorted(a.edges)
    assert draw_graph(_task(resolution=1), _ctx()).number_of_nodes() == 60
    assert sorted(draw_graph(_task(), _ctx(seed=4)).edges) != sorted(a.edges)


def test_write_read_round_trip(tmp_path: Path):
    g = nx.DiGraph()
    g.add_nodes_from([(0, {"pos": (0.0, 1.0)}), (1, {"pos": (0.5, 0.25)}),
                      (2, {"pos": (1.0, 0.0)})])
    g.add_edge(0, 1, weight=2.5)
    g.add_edge(1, 2, weight=np.float32(0.5))
    g.graph.update(family="toy", seed=9, p=0.3)
    prob = get("network_diffusion", t_end=1.0, n_times=4)
    x0 = np.array([1.0, 0.0, 0.0])
    out = prob.solve(g, x0=x0)
    path = tmp_path / "00000.graphml"
    write_network_sample(g, path, {"x0": x0}, out, prob)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.graphml", "00000.npz"]
    back, arrays = read_network_sample(path)
    assert back.is_directed() and list(back.nodes) == [0, 1, 2]
    assert [back.nodes[v]["pos"] for v in back] == [(0.0, 1.0), (0.5, 0.25), (1.0, 0.0)]
    assert {(u, v): w for u, v, w in back.edges(data="weight")} == {(0, 1): 2.5, (1, 2): 0.5}
    assert back.graph["family"] == "toy" and back.graph["seed"] == 9
    assert '"p": 0.3' in back.graph["params"]
    np.testing.assert_array_equal(arrays["x0"], x0)
    np.testing.assert_array_equal(arrays["x"], out["x"])
    np.testing.assert_array_equal(arrays["times"], [0.0, 1 / 3, 2 / 3, 1.0])
    assert check_network_sample(path) == {"x0": [], "x": [4]}


def test_incomplete_or_corrupt_samples(tmp_path: Path):
    path = tmp_path / "00001.graphml"
    nx.write_graphml(nx.path_graph(3), path)
    assert check_network_sample(path) is None  # no .npz yet: produce it again
    with pytest.raises(DataError, match=r"sample file listed in the manifest is missing: "
                                        r"'.*00001.npz'"):
        read_network_sample(path)
    path.with_suffix(".npz").write_bytes(b"PK\x03\x04 truncated")
    assert check_network_sample(path) is None
    with pytest.raises(DataError, match="cannot read network sample"):
        read_network_sample(path)
