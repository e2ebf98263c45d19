"""Predictor: sources agree, flags, partitioned prediction, writing, networks, safety of loading."""

from __future__ import annotations

import os
import pickle

import meshio
import networkx as nx
import numpy as np
import pytest
import torch
from inference_fixtures import coefficient, make_artifact, make_network_artifact, square_mesh

import gnnops
from gnnops.errors import ArtifactError
from gnnops.graphs import from_meshio
from gnnops.inference import Predictor


def test_predict_from_path_mesh_and_data_agree(artifact, tmp_path):
    model = gnnops.load(artifact)
    m = square_mesh(9)
    m.point_data["a"] = coefficient(m)
    path = tmp_path / "m.vtu"
    meshio.write(path, m)
    p_path = model.predict(path)
    p_mesh = model.predict(m)
    g = from_meshio(m, inputs=["a"])
    p_data = model.predict(g)
    u = p_path.fields["u"]
    assert u.shape == (81,)
    np.testing.assert_allclose(p_mesh.fields["u"], u, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p_data.fields["u"], u, rtol=0, atol=1e-6)
    # the model input is the stored field: a keyword array equal to it gives the same output
    p_kw = model.predict(square_mesh(9), a=coefficient(m))
    np.testing.assert_allclose(p_kw.fields["u"], u, atol=1e-6)
    assert set(p_path.timings) == {"graph", "model", "residual"}
    assert p_path.residual is None and p_path.per_node_residual is None  # no problem named


def test_flags_finer_mesh_and_input_range(artifact):
    model = gnnops.load(artifact)
    # trained on 9x9 points of the unit square (h = 1/8); same spacing, in-range input
    same = square_mesh(9)
    assert model.predict(same, a=coefficient(same)).flags == []
    # 8x finer spacing: 65x65 points (h = 1/64), 52x the nodes
    fine = square_mesh(65)
    flags = model.predict(fine, a=coefficient(fine)).flags
    codes = sorted(f.split(":")[0] for f in flags)
    assert codes == ["spacing_out_of_range", "too_many_nodes"]
    # a larger domain at the training spacing: in distribution apart from the node count
    big = square_mesh(25, size=3.0)  # 625 nodes > 4 x 81
    assert [f.split(":")[0] for f in model.predict(big, a=7.0).flags] == ["too_many_nodes"]
    # coefficient 30 is outside the trained [3, 12]
    flags = model.predict(same, a=30.0).flags
    assert len(flags) == 1 and flags[0].startswith("input_out_of_range: 'a' spans [30, 30]")


def test_partitioned_prediction_equals_whole_graph(tmp_path):
    art = make_artifact(tmp_path / "m.pt", depth=3)
    m = square_mesh(41)  # 1681 nodes
    m.point_data["a"] = coefficient(m)
    whole = Predictor.from_artifact(art, max_nodes=10**9).predict(m).fields["u"]
    parts = Predictor.from_artifact(art, max_nodes=200).predict(m).fields["u"]
    assert np.abs(whole).max() > 0
    np.testing.assert_allclose(parts, whole, rtol=0, atol=2e-5 * np.abs(whole).max())


def test_partitioned_gno_equals_whole_graph(tmp_path):
    art = make_artifact(tmp_path / "g.pt", model="gno", width=8, depth=2, radius=0.12,
                        kernel="diagonal")
    m = square_mesh(25)
    m.point_data["a"] = coefficient(m)
    whole = Predictor.from_artifact(art, max_nodes=10**9).predict(m).fields["u"]
    pred = Predictor.from_artifact(art, max_nodes=100)
    pred.model.inference_chunk_bytes = 50_000  # layer by layer over blocks of targets
    got = pred.predict(m)
    parts = got.fields["u"]
    assert len(pred.model._plan(got.data)[0]) >= 3  # blocks of targets
    np.testing.assert_allclose(parts, whole, rtol=0, atol=2e-5 * np.abs(whole).max())


def test_partitioned_multiscale_equals_whole_graph(tmp_path):
    """The multiscale model (a hierarchy: no bounded halo) runs each level's processor
    blocks in place over chunks of targets (a layer-wise partition, one hop of halo per
    block); the result equals one pass over the whole graph."""
    art = make_artifact(tmp_path / "ms.pt", model="multiscale", latent=8, levels=2,
                        blocks_per_level=1, hidden_layers=1)
    m = square_mesh(33)  # 1089 nodes, 6272 edges
    m.point_data["a"] = coefficient(m)
    one = Predictor.from_artifact(art)
    one.model.inference_chunk = 0
    whole = one.predict(m).fields["u"]
    pred = Predictor.from_artifact(art, max_nodes=100)
    pred.model.inference_chunk = 1500  # >= 3 parts of the mesh's targets, every block
    assert pred.model.bounded_memory_forward
    parts = pred.predict(m).fields["u"]
    assert np.abs(whole).max() > 0
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-5 * np.abs(whole).max())


def test_write_roundtrip_vtu_and_xdmf(artifact, tmp_path):
    model = gnnops.load(artifact)
    m = square_mesh(9)
    pred = model.predict(m, a=coefficient(m))
    for name in ("out.vtu", "out.xdmf"):
        p = pred.write(tmp_path / name)
        back = meshio.read(p)
        np.testing.assert_allclose(back.point_data["u"].ravel(), pred.fields["u"], atol=1e-6)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["model.pt", "out.h5", "out.vtu",
                                                          "out.xdmf"]


def test_predict_network(tmp_path):
    model = gnnops.load(make_network_artifact(tmp_path / "m.pt"))
    G = nx.grid_2d_graph(4, 4)
    nx.set_node_attributes(G, {(i, j): float(i + j) for i, j in G.nodes}, "a")
    pred = model.predict(G)
    # trained on a in [0, 5]; this grid has a = i + j in [0, 6]; networks have no spacing check
    assert pred.flags == ["input_out_of_range: 'a' spans [0, 6], training range [0, 5]"]
    assert model.predict(G, a=2.0).flags == []
    assert pred.kind == "network" and pred.fields["u"].shape == (16,)
    out = pred.write(tmp_path / "net.graphml")
    back = nx.read_graphml(out)
    assert back.number_of_nodes() == 16
    vals = np.array([d["u"] for _, d in back.nodes(data=True)])
    np.testing.assert_allclose(np.sort(vals), np.sort(pred.fields["u"]), atol=1e-6)


def test_predict_many_captures_errors(artifact, tmp_path):
    model = gnnops.load(artifact)
    good = tmp_path / "good.vtu"
    m = square_mesh(9)
    m.point_data["a"] = coefficient(m)
    meshio.write(good, m)
    bad = tmp_path / "bad.vtu"
    bad.write_text("<VTKFile garbage")
    results = list(model.predict_many([good, bad, good], workers=2))
    by_index = {r.index: r for r in results}
    assert [by_index[i].status for i in range(3)] == ["ok", "error", "ok"]
    assert "MeshError" in by_index[1].error and "bad.vtu" in by_index[1].error
    np.testing.assert_array_equal(by_index[0].value.fields["u"], by_index[2].value.fields["u"])


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_object_artifact_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.pt"
    torch.save({"magic": "gnnops-artifact", "payload": _Evil(str(marker))}, bad)
    # sanity: unpickling the file the unsafe way WOULD create the marker
    probe = tmp_path / "probe.pkl"
    probe.write_bytes(pickle.dumps(_Evil(str(tmp_path / "probe_marker"))))
    pickle.loads(probe.read_bytes())
    assert (tmp_path / "probe_marker").exists()
    with pytest.raises(ArtifactError, match="refusing to load .*nothing in it was run"):
        gnnops.load(bad)
    assert not marker.exists()


def test_a_model_that_reads_no_edges_gets_a_mesh_graph_without_them(tmp_path):
    from gnnops.graphs import from_meshio
    from gnnops.inference import Predictor

    art = make_artifact(tmp_path / "t.pt", model="transolver", width=16, depth=2, heads=2,
                        slices=8)
    m = square_mesh(21)
    m.point_data["a"] = coefficient(m)
    p = Predictor.from_artifact(art)
    from_mesh = p.predict(m)
    assert from_mesh.data.edge_index.shape == (2, 0)  # none built (Transolver reads none)
    with_edges = from_meshio(m, inputs=["a"])
    assert with_edges.edge_index.shape[1] > 0
    np.testing.assert_allclose(from_mesh.fields["u"], p.predict(with_edges).fields["u"],
                               rtol=0, atol=1e-6)
    mgn = Predictor.from_artifact(make_artifact(tmp_path / "m.pt"))
    assert mgn.predict(m).data.edge_index.shape[1] == with_edges.edge_index.shape[1]
