"""Time-series layout on networks and meshes; rollout prediction from GraphML keeps node ids."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import networkx as nx
import numpy as np
import pytest
import torch

from gnnops.errors import GraphError
from gnnops.graphs import from_networkx, read_network, to_networkx, write_network
from gnnops.inference.timeseries import (
    read_network_series,
    series_to_networkx,
    time_format,
    write_mesh_series,
)


def _gene_net() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from([("TP53", {"x0": 0.5}), ("MDM2", {"x0": 0.0}), ("007", {"x0": 1.0}),
                      ("CDKN1A", {"x0": 0.25})])
    g.add_edge("TP53", "MDM2", weight=2.0)
    g.add_edge("MDM2", "TP53", weight=0.5)
    g.add_edge("TP53", "CDKN1A", weight=1.5)
    g.add_edge("007", "CDKN1A", weight=0.25)
    return g


def test_time_format_widths() -> None:
    assert time_format(51).format(name="u", k=7) == "u_t007"
    assert time_format(1000).format(name="u", k=7) == "u_t007"
    assert time_format(1001).format(name="u", k=7) == "u_t0007"


def test_directed_weighted_network_round_trips_through_data_and_graphml(tmp_path: Path) -> None:
    g = _gene_net()
    data = from_networkx(g, inputs=("x0",), edge_weight="weight")
    back = read_network(write_network(to_networkx(data, {"x0": data.x}), tmp_path / "d.graphml"))
    assert back.is_directed() and list(back.nodes) == ["TP53", "MDM2", "007", "CDKN1A"]
    again = from_networkx(back, inputs=("x0",), edge_weight="weight")
    assert again.edge_index.tolist() == data.edge_index.tolist()
    assert again.edge_weight.tolist() == data.edge_weight.tolist() == [2.0, 1.5, 0.5, 0.25]
    assert torch.equal(again.x, data.x)


def test_network_series_round_trip_keeps_ids_times_and_values(tmp_path: Path) -> None:
    g = _gene_net()
    vals = np.arange(12.0).reshape(4, 3) / 7
    h = series_to_networkx(g, {"x": vals}, [0.0, 0.1, 0.2], static={"residual": np.ones(4)})
    back = read_network(write_network(h, tmp_path / "s.graphml"))
    assert list(back.nodes) == list(g.nodes) and back.is_directed()
    assert back.nodes["007"]["x_t002"] == pytest.approx(vals[2, 2])
    assert back.graph["time_series"] == "x" and back.graph["n_times"] == 3
    got, times = read_network_series(back)
    np.testing.assert_allclose(got, vals)
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2])
    with pytest.raises(GraphError, match="no time series 'u'"):
        read_network_series(back, "u")
    with pytest.raises(GraphError, match=r"must be \[N, T\] = \[4, 3\]"):
        series_to_networkx(g, {"x": vals[:, :2]}, [0.0, 0.1, 0.2])


def test_mesh_series_writes_one_vtu_per_time_and_a_pvd(tmp_path: Path) -> None:
    mesh = meshio.Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.0]]),
                       [("triangle", np.array([[0, 1, 2], [1, 3, 2]]))])
    u = np.outer(np.arange(4.0), [1.0, 0.5, 0.25])
    pvd = write_mesh_series(mesh, {"u": u}, [0.0, 0.01, 0.02], tmp_path / "traj.vtu",
                            static={"kappa": np.full(4, 2.0)})
    assert pvd == tmp_path / "traj.pvd"
    sets = ET.parse(pvd).getroot().findall("./Collection/DataSet")
    assert [float(s.get("timestep")) for s in sets] == [0.0, 0.01, 0.02]
    for k, s in enumerate(sets):
        m = meshio.read(tmp_path / s.get("file"))
        np.testing.assert_allclose(m.point_data["u"], u[:, k])
        np.testing.assert_allclose(m.point_data["kappa"], 2.0)
    assert sets[1].get("file") == "traj_t001.vtu"


@pytest.fixture
def rollout_artifact(tmp_path: Path) -> Path:
    from gnnops.models import build
    from gnnops.surrogate.artifact import save_artifact
    from gnnops.surrogate.stepping import step_input_names, trajectory_layout
    from gnnops.surrogate.surrogate import Surrogate

    torch.manual_seed(0)
    lay = trajectory_layout("fisher_kpp", {"t_end": 0.5, "n_times": 6})
    names = step_input_names(lay)
    model = build("meshgraphnet", in_channels=2, out_channels=1, edge_dim=1, pos_dim=0,
                  latent=8, depth=1, hidden_layers=1)
    recipe = {"kind": "network", "inputs": names, "input_dims": [1, 1], "features": [],
              "targets": ["x_increment"], "target_dims": [1], "problem": "fisher_kpp",
              "rollout": lay, "train_stats": {}}
    norms = {"x.mean": torch.zeros(2), "x.std": torch.ones(2), "y.mean": torch.zeros(1),
             "y.std": torch.full((1,), 0.01)}
    sur = Surrogate(model, model_name="meshgraphnet", model_kwargs=model.config(),
                    recipe=recipe, normalizers=norms)
    path = tmp_path / "model.pt"
    save_artifact(path, sur.to_artifact(problem="fisher_kpp", config={}, metrics={}))
    return path


def test_graphml_rollout_prediction_keeps_node_ids(rollout_artifact: Path,
                                                   tmp_path: Path) -> None:
    import gnnops
    from gnnops.cli import main

    g = _gene_net()
    src = write_network(g, tmp_path / "genes.graphml")
    model = gnnops.load(str(rollout_artifact))
    pred = model.predict(src, steps=7)
    x = pred.fields["x"]
    assert x.shape == (4, 8) and np.allclose(x[:, 0], [0.5, 0.0, 1.0, 0.25])
    np.testing.assert_allclose(pred.times, 0.1 * np.arange(8), atol=1e-12)
    assert pred.residual is not None and pred.residual > 0
    assert model.predict(src).fields["x"].shape == (4, 6)  # default: the training length
    x0 = np.array([0.0, 0.0, 0.0, 1.0])
    assert np.allclose(model.predict(g, steps=2, x0=x0).fields["x"][:, 0], x0)
    back = read_network(pred.write(tmp_path / "out.graphml"))
    assert list(back.nodes) == ["TP53", "MDM2", "007", "CDKN1A"] and back.is_directed()
    vals, times = read_network_series(back, "x")
    np.testing.assert_allclose(vals, x)
    assert back.edges["TP53", "MDM2"]["weight"] == 2.0 and "residual" in back.nodes["007"]
    out = tmp_path / "cli"
    assert main(["predict", str(rollout_artifact), str(src), "--out", str(out), "--steps",
                 "3", "--no-progress"]) == 0
    vals3, times3 = read_network_series(read_network(out / "genes.graphml"))
    np.testing.assert_allclose(vals3, x[:, :4], rtol=1e-6, atol=1e-7)
    assert len(times3) == 4
