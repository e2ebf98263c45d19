"""Bad-input corpus, networks: truncated / corrupt files, a 1-node graph, a directed graph
for a model trained on undirected ones, missing / ragged / non-numeric attributes and
weights. A disconnected graph is valid: its components are predicted independently."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from reliability_fixtures import make_network_artifact

from gnnops.errors import GraphError
from gnnops.graphs import from_networkx, read_network, write_network
from gnnops.inference import Predictor


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_artifact(make_network_artifact(tmp_path_factory.mktemp("n") / "n.pt"))


def _graph() -> nx.Graph:
    G = nx.cycle_graph(6)
    nx.set_node_attributes(G, {i: float(i) for i in G.nodes}, "a")
    nx.set_edge_attributes(G, 2.0, "weight")
    return G


@pytest.mark.parametrize("ext", [".graphml", ".gml", ".json"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_network_file(tmp_path, ext, damage) -> None:
    good = write_network(_graph(), tmp_path / f"g{ext}")
    raw = good.read_bytes()
    body = {"truncated": raw[: len(raw) // 2], "empty": b"",
            "garbage": bytes(range(256))[::-1] * 2}[damage]
    p = tmp_path / f"bad{ext}"
    p.write_bytes(body)
    with pytest.raises(GraphError, match=rf"cannot read '.*bad\{ext}' as a {ext[1:]} network"):
        read_network(p)
    assert read_network(good).number_of_edges() == 6  # control: the undamaged file reads


def test_edge_list_rows_and_unknown_extension(tmp_path) -> None:
    (tmp_path / "e.csv").write_text("source,target,weight\n1,2,0.5\n3\n")
    with pytest.raises(GraphError, match=r"e\.csv', line 3: expected 'u v \[weight\]'"):
        read_network(tmp_path / "e.csv")
    (tmp_path / "e.edgelist").write_text("1 2 __import__('os').system('true')\n3 4 {1\n")
    with pytest.raises(GraphError, match="cannot read .*e.edgelist"):
        read_network(tmp_path / "e.edgelist")
    (tmp_path / "g.net").write_text("1 2\n")
    with pytest.raises(GraphError, match=r"network format .*'\.net'; expected one of"):
        read_network(tmp_path / "g.net")
    with pytest.raises(GraphError, match="network file not found"):
        read_network(tmp_path / "none.graphml")


def test_one_node_graph(predictor) -> None:
    G = nx.Graph()
    G.add_node("solo", a=1.0)
    with pytest.raises(GraphError, match="has 1 node\\(s\\) and no edges; expected at least one"):
        predictor.predict(G)


def test_directed_graph_for_undirected_model(predictor) -> None:
    G = nx.DiGraph(nx.path_graph(5))  # both directions: still symmetric -> fine
    nx.set_node_attributes(G, 1.0, "a")
    assert predictor.predict(G).fields["u"].shape == (5,)
    D = nx.DiGraph([(0, 1), (1, 2), (2, 3), (3, 1)])
    nx.set_node_attributes(D, 1.0, "a")
    with pytest.raises(GraphError, match=r"trained on undirected networks.* directed \(4 of 4 "
                                         r"edges have no reverse edge\)"):
        predictor.predict(D)


def test_disconnected_graph_components_are_independent(predictor) -> None:
    A, B = nx.cycle_graph(5), nx.path_graph(4)
    nx.set_node_attributes(A, {i: float(i) for i in A}, "a")
    nx.set_node_attributes(B, {i: 2.0 * i for i in B}, "a")
    U = nx.disjoint_union(A, B)  # nodes 0..4 from A, 5..8 from B
    u = predictor.predict(U).fields["u"]
    ua, ub = predictor.predict(A).fields["u"], predictor.predict(B).fields["u"]
    np.testing.assert_allclose(u, np.concatenate([ua, ub]), rtol=1e-5, atol=1e-6)
    assert np.ptp(u) > 0  # the model is not constant: the comparison can fail


def test_missing_ragged_and_non_numeric_attributes() -> None:
    G = nx.path_graph(3)
    G.nodes[0]["a"] = 1.0
    with pytest.raises(GraphError, match="input attribute 'a' is missing on 2 of 3 nodes"):
        from_networkx(G, inputs=["a"])
    nx.set_node_attributes(G, {0: [1, 2], 1: [1], 2: [1, 2]}, "a")
    with pytest.raises(GraphError, match="must be a number or an equal-length list"):
        from_networkx(G, inputs=["a"])
    with pytest.raises(GraphError, match="attribute 'b' is not on the network's nodes"):
        from_networkx(G, inputs=["b"])
    nx.set_node_attributes(G, np.nan, "c")
    with pytest.raises(GraphError, match=r"input attributes \['c'\] have NaN or inf"):
        from_networkx(G, inputs=["c"])


def test_bad_edge_weights() -> None:
    G = nx.path_graph(3)
    nx.set_edge_attributes(G, "heavy", "w")
    with pytest.raises(GraphError, match="edge weight 'w' must be a number on every edge"):
        from_networkx(G, edge_weight="w")
    nx.set_edge_attributes(G, float("inf"), "w")
    with pytest.raises(GraphError, match="edge weight 'w' has NaN or inf"):
        from_networkx(G, edge_weight="w")
    G.edges[0, 1].pop("w")
    with pytest.raises(GraphError, match="edge weight 'w' is missing on 1 of 2 edges"):
        from_networkx(G, edge_weight="w")
    with pytest.raises(GraphError, match="expected a networkx graph, got list"):
        from_networkx([(0, 1)])
    with pytest.raises(GraphError, match="empty: expected at least one node"):
        from_networkx(nx.Graph())
