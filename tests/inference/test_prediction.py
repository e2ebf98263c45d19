"""Prediction (inference/prediction.py): the fields written to files, mesh and network
conversion, atomic writing and the JSON summary."""

from __future__ import annotations

import json

import meshio
import networkx as nx
import numpy as np
import pytest
from inference_fixtures import square_mesh

from gnnops.errors import GraphError
from gnnops.graphs import from_meshio, from_networkx, read_network
from gnnops.inference.prediction import INDICATOR_FIELD, RESIDUAL_FIELD, Prediction


def _mesh_prediction(**kw) -> Prediction:
    m = square_mesh(3)
    x = m.points[:, 0]
    return Prediction(fields={"u": 2 * x, "v": np.column_stack([x, -x])},
                      inputs={"a": x + 1}, mesh=m, source="m.vtu", **kw)


def test_point_fields_add_residual_and_indicator_unless_named():
    p = _mesh_prediction(per_node_residual=np.full(9, 0.5), error_indicator=np.arange(9.0))
    out = p.point_fields()
    assert list(out) == ["u", "v", RESIDUAL_FIELD, INDICATOR_FIELD]
    np.testing.assert_array_equal(out[RESIDUAL_FIELD], np.full(9, 0.5))
    assert list(p.point_fields(include_inputs=True))[:3] == ["a", "u", "v"]
    clash = Prediction(fields={RESIDUAL_FIELD: np.ones(9)}, per_node_residual=np.zeros(9))
    np.testing.assert_array_equal(clash.point_fields()[RESIDUAL_FIELD], np.ones(9))  # kept
    assert p.num_nodes == 9 and Prediction(fields={}).num_nodes == 0


def test_mesh_to_meshio_and_write_round_trip(tmp_path):
    p = _mesh_prediction(per_node_residual=np.linspace(0, 1, 9))
    m = p.to_meshio(include_inputs=True)
    np.testing.assert_array_equal(m.point_data["u"], 2 * p.mesh.points[:, 0])
    assert m.point_data["v"].shape == (9, 2) and "a" in m.point_data
    assert "a" not in p.to_meshio().point_data
    path = p.write(tmp_path / "out.vtu")
    assert path == tmp_path / "out.vtu" and sorted(f.name for f in tmp_path.iterdir()) == [
        "out.vtu"]  # no temporary left behind
    back = meshio.read(path)
    np.testing.assert_allclose(back.point_data["u"], 2 * p.mesh.points[:, 0])
    np.testing.assert_allclose(back.point_data[RESIDUAL_FIELD], np.linspace(0, 1, 9))
    # without the original mesh the raw graph's cells are used
    q = Prediction(fields={"u": np.arange(9.0)}, data=from_meshio(square_mesh(3)))
    np.testing.assert_array_equal(q.to_meshio().point_data["u"], np.arange(9.0))


def test_network_prediction(tmp_path):
    g = nx.path_graph(["a", "b", "c"])
    p = Prediction(fields={"u": np.array([1.0, 2.0, 3.0])}, kind="network", graph=g)
    h = p.to_networkx()
    assert dict(h.nodes(data="u")) == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert "u" not in g.nodes["a"]  # the caller's graph is not modified
    back = read_network(p.write(tmp_path / "p.graphml"))
    assert dict(back.nodes(data="u")) == {"a": 1.0, "b": 2.0, "c": 3.0}
    with pytest.raises(GraphError, match="a network prediction has no mesh"):
        p.to_meshio()
    from_data = Prediction(fields={"u": np.array([5.0, 6.0, 7.0])}, kind="network",
                           data=from_networkx(g))
    assert dict(from_data.to_networkx().nodes(data="u")) == {"a": 5.0, "b": 6.0, "c": 7.0}


def test_summary_is_json():
    p = _mesh_prediction(residual=0.25, flags=["too_many_nodes: 9 > 4"],
                         timings={"model": 0.5}, error_estimate=0.1)
    s = json.loads(json.dumps(p.summary()))
    assert s == {"source": "m.vtu", "nodes": 9, "residual": 0.25, "error_estimate": 0.1,
                 "error_algebraic": None, "error_discretization": None,
                 "flags": ["too_many_nodes: 9 > 4"], "notes": [], "timings": {"model": 0.5},
                 "fields": {"u": [9], "v": [9, 2]}}
