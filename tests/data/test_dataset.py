import json

import meshio
import numpy as np
import pytest
import torch

from gnnops.data import generate, open_dataset
from gnnops.errors import DataError
from gnnops.graphs.mesh import from_meshio


@pytest.fixture(scope="module")
def darcy_root(tmp_path_factory):
    spec = {"problem": "darcy", "resolutions": [0.2, 0.1], "n_train": 3, "n_val": 1,
            "n_test": 2, "seed": 2}
    return generate(spec, tmp_path_factory.mktemp("ds") / "darcy", progress=False)


def square(n, fields=True):
    """(n+1)^2-node triangulated unit square with fields a = x + y, u = x * y, v = [x, -y]."""
    xs = np.linspace(0, 1, n + 1)
    X, Y = np.meshgrid(xs, xs)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    i, j = np.meshgrid(np.arange(n), np.arange(n))
    a = (j * (n + 1) + i).ravel()
    tri = np.concatenate([np.column_stack([a, a + 1, a + n + 2]),
                          np.column_stack([a, a + n + 2, a + n + 1])])
    pd = {"a": pts.sum(1), "u": pts.prod(1), "v": pts * [1, -1]} if fields else {}
    return meshio.Mesh(pts, [("triangle", tri)], point_data=pd)


def test_generated_split_shapes_and_attributes(darcy_root):
    ds = open_dataset(darcy_root)
    assert ds.problem == "darcy" and ds.splits == ["train", "val", "test"]
    assert ds.input_fields == ["a", "f"] and ds.output_fields == ["u"]
    assert ds.resolutions == [0.2, 0.1]
    nodes = ds.manifest["nodes_per_resolution"]
    train = ds.load("train")
    assert len(train) == 3
    for g in train:
        assert g.x.shape == (nodes[0], 2) and g.y.shape == (nodes[0], 1)
        assert g.x.dtype == torch.float32 and g.resolution == 0
        assert g.source.endswith(".vtu") and g.pos.shape == (nodes[0], 2)
        assert set(torch.unique(g.x[:, 0]).tolist()) <= {3.0, 12.0}
    test = ds.load("test")
    assert [g.resolution for g in test] == [0, 0, 1, 1]
    assert [g.num_nodes for g in test] == [nodes[0]] * 2 + [nodes[1]] * 2
    only_fine = ds.load("test", 1, inputs=["a"], targets=["u"])
    assert len(only_fine) == 2 and only_fine[0].x.shape == (nodes[1], 1)


def test_generated_load_equals_from_meshio(darcy_root):
    ds = open_dataset(darcy_root)
    for g in ds.load("test", 1) + ds.load("val"):
        ref = from_meshio(g.source, inputs=["a", "f"], targets=["u"])
        for name in ("x", "y", "pos", "edge_index", "edge_attr", "boundary", "node_type",
                     "node_volume", "cell_index"):
            assert torch.equal(getattr(g, name), getattr(ref, name)), name
        assert g.cell_type == ref.cell_type == "triangle"


def test_generated_errors(darcy_root, tmp_path):
    ds = open_dataset(darcy_root)
    with pytest.raises(DataError, match="unknown split 'tset'.*train, val, test"):
        ds.load("tset")
    with pytest.raises(DataError, match="no resolution 1"):
        ds.load("train", 1)
    with pytest.raises(DataError, match="input field 'k' is not stored.*a, f, u"):
        ds.load("train", inputs=["k"])
    # a copy of the folder with a listed sample removed
    man = json.loads((darcy_root / "manifest.json").read_text())
    broken = tmp_path / "broken"
    (broken / "meshes").mkdir(parents=True)
    for f in ["manifest.json", "meshes/res0.vtu", "meshes/res1.vtu"]:
        (broken / f).write_bytes((darcy_root / f).read_bytes())
    with pytest.raises(DataError, match="listed in the manifest is missing.*train/res0/00000"):
        open_dataset(broken).load("train")
    for change, msg in (({"format": "other"}, "expected format 'gnnops-dataset'"),
                        ({"version": 99}, "version 99")):
        (broken / "manifest.json").write_text(json.dumps({**man, **change}))
        with pytest.raises(DataError, match=msg):
            open_dataset(broken)
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="JSON"):
        open_dataset(broken)


def test_user_folder_without_manifest(tmp_path):
    folder = tmp_path / "runs"
    (folder / "sub").mkdir(parents=True)
    meshio.write(folder / "b.vtu", square(4))
    meshio.write(folder / "sub" / "c.vtk", square(2))
    meshio.write(folder / "a.vtu", square(4))
    (folder / "notes.txt").write_text("not a mesh")
    ds = open_dataset(folder)
    assert ds.splits == ["all"] and ds.problem is None
    assert ds.resolutions == [9, 25]  # node-count buckets, ascending
    assert sorted(ds.fields) == ["a", "u", "v"]
    graphs = ds.load("all", inputs=["a", "v"], targets=["u"])
    assert [g.num_nodes for g in graphs] == [25, 25, 9]  # a.vtu, b.vtu, sub/c.vtk
    assert [g.resolution for g in graphs] == [1, 1, 0]
    g = graphs[0]
    assert g.x.shape == (25, 3) and g.y.shape == (25, 1)
    pos = g.pos.numpy()
    np.testing.assert_allclose(g.x[:, 0].numpy(), pos.sum(1), atol=1e-6)
    np.testing.assert_allclose(g.x[:, 2].numpy(), -pos[:, 1], atol=1e-6)
    np.testing.assert_allclose(g.y[:, 0].numpy(), pos.prod(1), atol=1e-6)
    assert len(ds.load("all", 0, inputs=["a"])) == 1
    # the same through a glob and a single file
    assert len(open_dataset(str(folder / "*.vtu")).load("all", targets=["u"])) == 2
    one = open_dataset(folder / "sub" / "c.vtk")
    assert one.resolutions == [9] and one.load("all", inputs=["a"])[0].x.shape == (9, 1)
    with pytest.raises(DataError, match="name the fields"):
        ds.load("all")


def test_open_errors(tmp_path):
    with pytest.raises(DataError, match="dataset not found"):
        open_dataset(tmp_path / "missing")
    with pytest.raises(DataError, match="no files match"):
        open_dataset(str(tmp_path / "*.vtu"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no manifest.json and no mesh files"):
        open_dataset(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.vtu").write_text("<VTKFile garbage")
    with pytest.raises(DataError, match="x.vtu"):
        open_dataset(bad)
    meshio.write(tmp_path / "nofield.vtu", square(2, fields=False))
    with pytest.raises(DataError, match="'a'"):
        open_dataset(tmp_path / "nofield.vtu").load("all", inputs=["a"])
