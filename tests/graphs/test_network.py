"""from_networkx / to_networkx: directions, weights, isolated nodes, ids, features."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from gnnops.errors import GnnopsError, GraphError
from gnnops.graphs import from_networkx, to_networkx
from gnnops.graphs.network import flatten_attributes


def _genes() -> nx.Graph:
    G = nx.Graph()
    G.add_node("tp53", expr=1.0, state=[0.0, 1.0, 2.0])
    G.add_node("mdm2", expr=2.0, state=[3.0, 4.0, 5.0])
    G.add_node("cdkn1a", expr=3.0, state=[6.0, 7.0, 8.0])
    G.add_node("lonely", expr=4.0, state=[9.0, 10.0, 11.0])  # isolated
    G.add_edge("tp53", "mdm2", w=0.5)
    G.add_edge("tp53", "cdkn1a", w=2.0)
    return G


def test_undirected_gives_both_directions_and_keeps_isolated_nodes() -> None:
    data = from_networkx(_genes(), inputs=("expr",), targets=("state",), edge_weight="w")
    assert data.num_nodes == 4 and data.node_ids == ["tp53", "mdm2", "cdkn1a", "lonely"]
    assert data.edge_index.tolist() == [[0, 0, 1, 2], [1, 2, 0, 0]]
    assert data.edge_weight.tolist() == [0.5, 2.0, 0.5, 2.0]
    assert data.edge_attr.shape == (4, 1)
    assert data.x.tolist() == [[1.0], [2.0], [3.0], [4.0]]
    assert data.y.shape == (4, 3) and data.y[3].tolist() == [9.0, 10.0, 11.0]
    assert data.node_volume.tolist() == [1.0] * 4 and not data.boundary.any()
    assert data.node_type.dtype == torch.long and data.node_type.tolist() == [0] * 4
    assert data.pos is None  # no layout on the nodes


def test_directed_weighted_self_loops_and_multiedges() -> None:
    G = nx.MultiDiGraph()
    G.add_nodes_from([10, 20, 30])
    G.add_edge(10, 20, weight=2.0)
    G.add_edge(10, 20, weight=7.0)  # parallel: merged, first kept
    G.add_edge(30, 10, weight=3.0)
    G.add_edge(20, 20, weight=1.0)  # self loop: dropped
    data = from_networkx(G, edge_weight="weight")
    assert data.edge_index.tolist() == [[0, 2], [1, 0]]
    assert data.edge_weight.tolist() == [2.0, 3.0]
    assert from_networkx(G).edge_weight.tolist() == [1.0, 1.0]


def test_layout_and_flat_vectors() -> None:
    G = nx.path_graph(3)
    for i in G:
        G.nodes[i]["pos"] = (float(i), 2.0 * i)
        G.nodes[i].update({"u_0": i, "u_1": 10 * i})
    data = from_networkx(G, inputs=("u",))
    assert data.pos.tolist() == [[0, 0], [1, 2], [2, 4]]
    assert data.x.tolist() == [[0, 0], [1, 10], [2, 20]]
    flat = flatten_attributes(nx.Graph([(0, 1, {"v": np.array([1, 2])})]))
    assert flat.edges[0, 1] == {"v_0": 1, "v_1": 2}


def test_errors_name_the_problem() -> None:
    with pytest.raises(GraphError, match="empty"):
        from_networkx(nx.Graph())
    with pytest.raises(GraphError, match="'temp' is not on the network's nodes.*expr, state"):
        from_networkx(_genes(), inputs=("temp",))
    G = _genes()
    del G.nodes["mdm2"]["expr"]
    with pytest.raises(GraphError, match="missing on 1 of 4 nodes.*'mdm2'"):
        from_networkx(G, inputs=("expr",))
    with pytest.raises(GraphError, match="'weight' is missing on 2 of 2 edges.*attributes: w"):
        from_networkx(_genes(), edge_weight="weight")
    G = _genes()
    G.nodes["mdm2"]["state"] = [1.0]
    with pytest.raises(GnnopsError, match="equal-length"):
        from_networkx(G, targets=("state",))
    with pytest.raises(GraphError, match="got dict"):
        from_networkx({0: [1]})


def test_to_networkx_from_graph_and_from_data() -> None:
    G = _genes()
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    H = to_networkx(G, {"pred": pred, "score": np.arange(4.0)})
    assert H.nodes["lonely"]["pred"] == [7.0, 8.0] and H.nodes["cdkn1a"]["score"] == 2.0
    assert "pred" not in G.nodes["tp53"]  # the input graph is not modified
    data = from_networkx(G, edge_weight="w")
    H2 = to_networkx(data, {"score": np.arange(4.0)})
    assert not H2.is_directed() and list(H2.nodes) == data.node_ids
    assert H2.edges["mdm2", "tp53"]["weight"] == 0.5 and H2.nodes["lonely"]["score"] == 3.0
    D = to_networkx(from_networkx(nx.DiGraph([(1, 2)])), {})
    assert D.is_directed() and list(D.edges) == [(1, 2)]
    with pytest.raises(GraphError, match=r"expected \[4\] or \[4, k\]"):
        to_networkx(G, {"bad": np.zeros(3)})
