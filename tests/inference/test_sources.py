"""Prediction sources (inference/sources.py): paths, meshes, networks and Data resolved to a
raw graph whose x holds the input columns in recipe order."""

from __future__ import annotations

import meshio
import networkx as nx
import numpy as np
import pytest
import torch
from inference_fixtures import square_mesh
from torch_geometric.data import Data

import gnnops
from gnnops.errors import GraphError
from gnnops.graphs import from_meshio, write_network
from gnnops.inference.sources import is_network_path, load_source, split_columns

RECIPE = {"inputs": ["a", "v"], "input_dims": [1, 2]}


def _mesh() -> meshio.Mesh:
    m = square_mesh(3)  # 9 points, z = 0 column
    x, y = m.points[:, 0], m.points[:, 1]
    m.point_data["a"] = x + 2 * y
    m.point_data["v"] = np.column_stack([x, -y, np.zeros(9)])  # 2-D vector stored with z = 0
    return m


def test_split_columns_and_network_paths():
    x = np.arange(12.0).reshape(3, 4)
    out = split_columns(x, ["a", "v", "b"], [1, 2, 1])
    np.testing.assert_array_equal(out["a"], [0, 4, 8])
    np.testing.assert_array_equal(out["v"], [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(out["b"], [3, 7, 11])
    assert out["a"].base is None  # copies, not views of x
    assert is_network_path("g.GraphML") and is_network_path("a/b.gml")
    assert not is_network_path("m.vtu") and not is_network_path("graphml.vtu")


def test_mesh_point_data_stacked_in_recipe_order(tmp_path):
    m = _mesh()
    src = load_source(m, RECIPE)
    assert src.kind == "mesh" and src.num_nodes == 9 and src.mesh is m
    x, y = m.points[:, 0], m.points[:, 1]
    want = np.column_stack([x + 2 * y, x, -y]).astype(np.float32)
    np.testing.assert_array_equal(src.data.x.numpy(), want)
    np.testing.assert_array_equal(src.inputs["v"], np.column_stack([x, -y]))
    assert src.data.cell_index.shape == (3, 8)  # the mesh's graph
    meshio.write(tmp_path / "m.vtu", m)
    from_path = load_source(tmp_path / "m.vtu", RECIPE)
    assert from_path.name == str(tmp_path / "m.vtu")
    np.testing.assert_array_equal(from_path.data.x.numpy(), want)


def test_keywords_override_and_broadcast():
    src = load_source(_mesh(), RECIPE, {"a": 5.0, "v": [1.0, -2.0]})
    np.testing.assert_array_equal(src.data.x.numpy(), np.tile([5.0, 1.0, -2.0], (9, 1)))
    t = torch.arange(9.0)
    np.testing.assert_array_equal(load_source(_mesh(), RECIPE, {"a": t}).inputs["a"],
                                  np.arange(9.0))


def test_bad_inputs_are_named():
    with pytest.raises(GraphError, match="unknown input field 'b'; this model takes: a, v"):
        load_source(_mesh(), RECIPE, {"b": 1.0})
    bare = square_mesh(3)
    with pytest.raises(GraphError, match=r"input field 'a' is neither point data of "
                                         r"<meshio.Mesh> \(has: none\) nor given"):
        load_source(bare, RECIPE)
    with pytest.raises(GraphError, match=r"input 'a' from the keyword arguments has 3 values; "
                                         r"expected one per node \(9\)"):
        load_source(_mesh(), RECIPE, {"a": [1.0, 2.0, 3.0]})
    with pytest.raises(GraphError, match="has NaN or inf values at 1 of 9 nodes"):
        load_source(_mesh(), RECIPE, {"a": np.r_[np.nan, np.ones(8)]})
    with pytest.raises(GraphError, match="input 'v' from .* has 3 components; expected 2"):
        load_source(_mesh(), RECIPE, {"v": np.ones((9, 3))})
    with pytest.raises(GraphError, match="expected a mesh / network path.*got int"):
        load_source(3, RECIPE)


def test_data_source_splits_x_and_drops_y():
    m = _mesh()
    g = from_meshio(m, inputs=["a", "v"], targets=["a"])
    src = load_source(g, RECIPE, {"a": 1.0})
    assert src.kind == "mesh" and src.name == "<Data>" and src.data.y is None
    assert g.y is not None  # the caller's Data is not modified
    np.testing.assert_array_equal(src.data.x[:, 0].numpy(), np.ones(9))
    np.testing.assert_array_equal(src.data.x[:, 1:].numpy(), g.x[:, 1:].numpy())
    net = Data(x=torch.ones(4, 3), edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=4)
    assert load_source(net, RECIPE).kind == "network"
    with pytest.raises(GraphError, match=r"input field 'a' is missing: the Data has x of shape "
                                         r"\[4, 1\] \(expected \[N, 3\]\)"):
        load_source(Data(x=torch.ones(4, 1), edge_index=net.edge_index, num_nodes=4), RECIPE)


def test_networks_from_graph_and_path(tmp_path):
    g = nx.path_graph(4)
    nx.set_node_attributes(g, {i: float(i) for i in g}, "a")
    recipe = {"kind": "network", "inputs": ["a"], "input_dims": [1], "undirected": True}
    src = load_source(g, recipe)
    assert src.kind == "network" and src.graph is g and src.name == "<Graph>"
    np.testing.assert_array_equal(src.data.x[:, 0].numpy(), [0, 1, 2, 3])
    path = write_network(g, tmp_path / "g.graphml")
    np.testing.assert_array_equal(load_source(path, recipe, {"a": 2.0}).inputs["a"], [2.0] * 4)
    with pytest.raises(GraphError, match=r"trained on undirected networks, but <DiGraph> is "
                                         r"directed \(3 of 3 edges have no reverse edge\)"):
        load_source(nx.DiGraph(nx.path_graph(4, create_using=nx.DiGraph)), recipe, {"a": 1.0})
    lonely = nx.empty_graph(3)
    with pytest.raises(GraphError, match="has 3 node\\(s\\) and no edges"):
        load_source(lonely, recipe, {"a": 1.0})


# moved from test_predictor.py: input resolution seen through Predictor.predict
def test_scalar_input_broadcasts(artifact):
    model = gnnops.load(artifact)
    m = square_mesh(9)
    p1 = model.predict(m, a=5.0)
    p2 = model.predict(m, a=np.full(81, 5.0))
    np.testing.assert_array_equal(p1.fields["u"], p2.fields["u"])
    np.testing.assert_array_equal(p1.inputs["a"], np.full(81, 5.0))


def test_missing_and_unknown_inputs_are_named(artifact):
    model = gnnops.load(artifact)
    with pytest.raises(GraphError, match="input field 'a'"):
        model.predict(square_mesh(5))
    with pytest.raises(GraphError, match="unknown input field 'b'"):
        model.predict(square_mesh(5), a=1.0, b=2.0)
    with pytest.raises(GraphError, match="has 3 values; expected one per node \\(25\\)"):
        model.predict(square_mesh(5), a=[1.0, 2.0, 3.0])
