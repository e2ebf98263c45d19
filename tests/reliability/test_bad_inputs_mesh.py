"""Bad-input corpus, meshes: truncated / corrupt / empty files of several formats, empty
meshes, NaN / inf coordinates and fields, degenerate cells, bad connectivity, fields of the
wrong length or dimension, a 3-D mesh for a 2-D model. Each gives a MeshError / GraphError
whose message names the problem; unused points are handled (isolated nodes), not an error."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
from reliability_fixtures import make_artifact, square_mesh

from gnnops.errors import GraphError, MeshError
from gnnops.graphs import from_meshio, read_mesh, write_mesh
from gnnops.inference import Predictor

FORMATS = {"vtu": None, "vtk": None, "msh": "gmsh22", "xdmf": None, "mesh": None,
           "off": None, "ply": None}


@pytest.fixture(scope="module")
def good_files(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("good")
    out = {}
    for ext, fmt in FORMATS.items():
        m = square_mesh(4)
        if ext not in ("off", "ply"):
            m.point_data["a"] = np.arange(16.0)
        write_mesh(m, d / f"m.{ext}", file_format=fmt)
        if ext == "xdmf":  # keep the heavy data inline in one file
            out[ext] = (d / "m.xdmf").read_bytes()
            out["h5"] = (d / "m.h5").read_bytes()
        else:
            out[ext] = (d / f"m.{ext}").read_bytes()
    return out


@pytest.mark.parametrize("ext", list(FORMATS))
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_file_gives_mesh_error_naming_file(tmp_path, good_files, ext, damage) -> None:
    raw = good_files[ext]
    rng = np.random.default_rng(len(ext))
    body = {"truncated": raw[: len(raw) // 2], "empty": b"",
            "garbage": rng.integers(0, 256, 300, dtype=np.uint8).tobytes()}[damage]
    p = tmp_path / f"bad.{ext}"
    p.write_bytes(body)
    with pytest.raises(MeshError) as exc:
        from_meshio(p)
    msg = str(exc.value)
    assert "bad." + ext in msg
    assert any(w in msg for w in ("cannot read", "no cells", "expected points")), msg


def test_good_files_of_every_format_read_back(tmp_path, good_files) -> None:
    """Control for the damaged-file cases: the undamaged bytes give the 4x4 grid graph."""
    for ext in FORMATS:
        p = tmp_path / f"m.{ext}"
        p.write_bytes(good_files[ext])
        if ext == "xdmf":
            (tmp_path / "m.h5").write_bytes(good_files["h5"])
        g = from_meshio(p)
        # 4x4 grid, 18 triangles: 9 cells' diagonals + 24 grid edges = 33 edges, both ways
        assert (g.num_nodes, g.edge_index.shape[1]) == (16, 66)


def test_xdmf_missing_h5_companion(tmp_path, good_files) -> None:
    (tmp_path / "m.xdmf").write_bytes(good_files["xdmf"])
    with pytest.raises(MeshError, match=r"cannot read .*m\.xdmf"):
        read_mesh(tmp_path / "m.xdmf")


def test_missing_file_folder_and_unknown_extension(tmp_path) -> None:
    with pytest.raises(MeshError, match="mesh file not found: .*nope.vtu"):
        from_meshio(tmp_path / "nope.vtu")
    with pytest.raises(MeshError, match="expected a mesh file, got the folder"):
        from_meshio(tmp_path)
    (tmp_path / "m.xyz123").write_text("1 2 3\n")
    with pytest.raises(MeshError, match=r"cannot tell the mesh format .*'\.xyz123'"):
        from_meshio(tmp_path / "m.xyz123")


def _tri() -> tuple[np.ndarray, np.ndarray]:
    return (np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.0]]),
            np.array([[0, 1, 2], [1, 3, 2]]))


def test_empty_mesh_and_mesh_without_cells() -> None:
    with pytest.raises(MeshError, match=r"expected points of shape \[N, 2\] or \[N, 3\].*\[0, 3\]"):
        from_meshio(meshio.Mesh(np.zeros((0, 3)), []))
    pts, _ = _tri()
    with pytest.raises(MeshError, match="has no cells"):
        from_meshio(meshio.Mesh(pts, []))
    with pytest.raises(MeshError, match="only vertex cells"):
        from_meshio(meshio.Mesh(pts, [("vertex", np.array([[0], [1]]))]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(bad) -> None:
    pts, tri = _tri()
    pts[3, 1] = bad
    with pytest.raises(MeshError, match="has 1 points with NaN or inf coordinates"):
        from_meshio(meshio.Mesh(pts, [("triangle", tri)]))


def test_non_finite_field() -> None:
    pts, tri = _tri()
    m = meshio.Mesh(pts, [("triangle", tri)], point_data={"a": np.array([1, np.inf, 1, 1.0])})
    with pytest.raises(MeshError, match="field 'a' .* has NaN or inf values"):
        from_meshio(m, inputs=["a"])


def test_degenerate_zero_area_triangle() -> None:
    pts = np.array([[0, 0], [1, 0], [2, 0], [0, 1.0]])
    tris = np.array([[0, 1, 3], [0, 1, 2]])  # the second one is flat
    with pytest.raises(MeshError, match=r"1 degenerate 'triangle' cells of zero area "
                                        r"\(first: cell 1 with nodes \[0, 1, 2\]\)"):
        from_meshio(meshio.Mesh(pts, [("triangle", tris)]))


def test_degenerate_flat_tetrahedron() -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1.0]])
    tets = np.array([[0, 1, 2, 4], [0, 1, 2, 3]])
    with pytest.raises(MeshError, match="degenerate 'tetra' cells of zero volume"):
        from_meshio(meshio.Mesh(pts, [("tetra", tets)]))


def test_unused_points_are_isolated_nodes_not_an_error() -> None:
    """gmsh exports construction points no cell uses: they stay as isolated nodes."""
    pts, tri = _tri()
    pts = np.vstack([pts, [[5.0, 5.0, 0.0]]])
    g = from_meshio(meshio.Mesh(pts, [("triangle", tri)]))
    assert g.num_nodes == 5
    assert int((g.edge_index == 4).sum()) == 0
    assert float(g.node_volume[4]) == 0.0 and float(g.node_volume.sum()) == pytest.approx(1.0)
    assert not bool(g.boundary[4])


def test_connectivity_out_of_range_and_negative() -> None:
    pts, _ = _tri()
    with pytest.raises(MeshError, match=r"refer to points outside \[0, 4\) \(got indices 0..7\)"):
        from_meshio(meshio.Mesh(pts, [("triangle", np.array([[0, 1, 7]]))]))
    with pytest.raises(MeshError, match=r"outside \[0, 4\) \(got indices -1..1\)"):
        from_meshio(meshio.Mesh(pts, [("triangle", np.array([[0, 1, -1]]))]))


def test_field_of_wrong_length() -> None:
    pts, tri = _tri()
    m = meshio.Mesh(pts, [("triangle", tri)])
    m.point_data["a"] = np.ones(3)  # set after construction: meshio would refuse it
    with pytest.raises(MeshError, match="field 'a' .* has 3 rows, expected 4"):
        from_meshio(m, inputs=["a"])
    with pytest.raises(MeshError, match="input field 'b' is not point data"):
        from_meshio(m, inputs=["b"])


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_artifact(make_artifact(tmp_path_factory.mktemp("a") / "model.pt"))


def test_prediction_field_wrong_length_or_dimension(predictor) -> None:
    m = square_mesh(5)
    m.point_data["a"] = np.ones(7)
    with pytest.raises(GraphError,
                       match=r"input 'a' .* has 7 values; expected one per node \(25\)"):
        predictor.predict(m)
    m.point_data["a"] = np.ones((25, 4))
    with pytest.raises(GraphError, match="input 'a' .* has 4 components; expected 1"):
        predictor.predict(m)


def test_prediction_non_finite_input_field(predictor) -> None:
    m = square_mesh(5, a=5.0)
    m.point_data["a"][[3, 7]] = np.nan
    with pytest.raises(GraphError, match="input 'a' .* NaN or inf values at 2 of 25 nodes"):
        predictor.predict(m)


def test_3d_mesh_for_2d_model(predictor) -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    m = meshio.Mesh(pts, [("tetra", np.array([[0, 1, 2, 3]]))], point_data={"a": np.ones(4)})
    with pytest.raises(GraphError, match=r"trained on 2-D geometry .* this graph is 3-D"):
        predictor.predict(m)

