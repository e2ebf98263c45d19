"""read_network / write_network: formats, ids preserved, vector layout, errors."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from gnnops.errors import GraphError
from gnnops.graphs import from_networkx, read_network, to_networkx, write_network


def _net() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from([(3, {"a": 1.0}), (1, {"a": 2.0}), (2, {"a": 3.0}), (7, {"a": 4.0})])
    G.add_edge(3, 1, weight=0.5)
    G.add_edge(1, 2, weight=1.5)
    return G  # node 7 is isolated


@pytest.mark.parametrize("ext", [".graphml", ".gml", ".json"])
def test_predictions_round_trip_with_ids(tmp_path: Path, ext: str) -> None:
    G = _net()
    data = from_networkx(G, inputs=("a",), edge_weight="weight")
    series = np.arange(8.0).reshape(4, 2)  # a time series per node
    path = write_network(to_networkx(G, {"u": series, "s": series[:, 0]}), tmp_path / f"p{ext}")
    back = read_network(path)
    assert list(back.nodes) == [3, 1, 2, 7]  # ids and order kept, ints stay ints
    assert back.is_directed() and sorted(back.edges) == [(1, 2), (3, 1)]
    again = from_networkx(back, inputs=("a",), targets=("u", "s"), edge_weight="weight")
    assert again.node_ids == data.node_ids
    assert again.edge_index.tolist() == data.edge_index.tolist()
    np.testing.assert_allclose(again.edge_weight, data.edge_weight)
    np.testing.assert_allclose(again.y.numpy(), np.column_stack([series, series[:, 0]]))
    if ext != ".json":  # GraphML / GML store vectors flat
        assert back.nodes[7]["u_1"] == 7.0 and "u" not in back.nodes[7]


def test_string_ids_and_undirected_graphml(tmp_path: Path) -> None:
    G = nx.Graph([("TP53", "MDM2"), ("MDM2", "007")])
    back = read_network(write_network(G, tmp_path / "g.graphml"))
    assert list(back.nodes) == ["TP53", "MDM2", "007"] and not back.is_directed()
    assert from_networkx(back).edge_index.shape[1] == 4


def test_edge_lists(tmp_path: Path) -> None:
    txt = tmp_path / "e.txt"
    txt.write_text("# gene net\n1 2 0.5\n2 3 2\n\n3 1 1\n")
    G = read_network(txt)
    assert not G.is_directed() and G.edges[1, 2]["weight"] == 0.5
    assert from_networkx(G, edge_weight="weight").edge_index.shape[1] == 6
    D = read_network(txt, directed=True)
    assert D.is_directed() and from_networkx(D).edge_index.shape[1] == 3
    csv = tmp_path / "e.csv"
    csv.write_text("source,target,score,kind\nA,B,0.9,act\nB,C,0.1,rep\n")
    C = read_network(csv)
    assert list(C.nodes) == ["A", "B", "C"] and C.edges["A", "B"] == {"score": 0.9, "kind": "act"}
    plain = tmp_path / "p.csv"
    plain.write_text("1,2\n2,3\n")
    assert sorted(read_network(plain).edges) == [(1, 2), (2, 3)]
    out = write_network(nx.Graph([(1, 2, {"weight": 3.0})]), tmp_path / "o.edgelist")
    assert read_network(out).edges[1, 2]["weight"] == 3.0
    out = write_network(nx.DiGraph([(1, 2, {"weight": 3.0})]), tmp_path / "o.csv")
    assert read_network(out, directed=True).edges[1, 2]["weight"] == 3.0


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="not found"):
        read_network(tmp_path / "none.graphml")
    bad = tmp_path / "x.xyz"
    bad.write_text("1 2")
    with pytest.raises(GraphError, match=r"extension '\.xyz'; expected one of: \.graphml"):
        read_network(bad)
    broken = tmp_path / "b.graphml"
    write_network(nx.path_graph(3), broken)
    broken.write_text(broken.read_text()[:80])
    with pytest.raises(GraphError, match=r"cannot read '.*b\.graphml' as a graphml network"):
        read_network(broken)
    empty = tmp_path / "e.edgelist"
    empty.write_text("# nothing\n")
    with pytest.raises(GraphError, match="no nodes"):
        read_network(empty)
    rows = tmp_path / "r.txt"
    rows.write_text("1 2 3 4\n")
    with pytest.raises(GraphError, match="line 1"):
        read_network(rows)
    with pytest.raises(GraphError, match="node attributes"):
        write_network(_net(), tmp_path / "n.edgelist")
    with pytest.raises(GraphError, match="isolated nodes"):
        write_network(_iso(), tmp_path / "n.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.xyz", "b.graphml", "e.edgelist", "r.txt"])  # failed writes left nothing behind


def _iso() -> nx.Graph:
    G = nx.Graph([(1, 2)])
    G.add_node(3)
    return G


def test_gml_that_is_really_graphml_loads(tmp_path: Path) -> None:
    G = _net()
    write_network(G, tmp_path / "g.graphml")
    (tmp_path / "g.gml").write_bytes((tmp_path / "g.graphml").read_bytes())
    back = read_network(tmp_path / "g.gml")
    assert list(back.nodes) == [3, 1, 2, 7] and back[3][1]["weight"] == 0.5
    write_network(G, tmp_path / "h.gml")  # and the other way round
    (tmp_path / "h.graphml").write_bytes((tmp_path / "h.gml").read_bytes())
    assert sorted(read_network(tmp_path / "h.graphml").nodes) == [1, 2, 3, 7]


def test_untrusted_network_files(tmp_path: Path, monkeypatch) -> None:
    import os

    bomb = ('<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault='
            '"undirected"><node id="&b;"/></graph></graphml>')
    (tmp_path / "b.graphml").write_text(bomb)
    with pytest.raises(GraphError, match="b.graphml' contains a <!DOCTYPE> declaration"):
        read_network(tmp_path / "b.graphml")
    os.mkfifo(tmp_path / "p.json")
    with pytest.raises(GraphError, match="expected a regular file, but .*p.json.* is a FIFO"):
        read_network(tmp_path / "p.json")
    write_network(_net(), tmp_path / "g.json")
    monkeypatch.setenv("GNNOPS_MAX_NODES", "3")
    with pytest.raises(GraphError, match="declares 4 nodes, more than the limit of 3"):
        read_network(tmp_path / "g.json")
    monkeypatch.setenv("GNNOPS_MAX_NODES", "4")
    monkeypatch.setenv("GNNOPS_MAX_CELLS", "1")
    with pytest.raises(GraphError, match="declares 2 edges, more than the limit of 1"):
        read_network(tmp_path / "g.json")
