"""read_mesh / write_mesh: bad files raise MeshError naming file and format; atomic write."""

from __future__ import annotations

import sys
from pathlib import Path

import meshio
import numpy as np
import pytest

from gnnops.errors import MeshError, MissingDependencyError
from gnnops.graphs import from_meshio, read_mesh, write_mesh
from gnnops.graphs.io import mesh_format, sniff_mesh_format


def _square() -> meshio.Mesh:
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    return meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))],
                       point_data={"u": np.arange(4.0)})


def test_missing_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="not found"):
        from_meshio(tmp_path / "nope.vtu")
    (tmp_path / "m.foo").write_text("1 2 3")
    with pytest.raises(MeshError, match=r"extension '\.foo'.*\.vtu"):
        from_meshio(str(tmp_path / "m.foo"))
    with pytest.raises(MeshError, match="folder"):
        read_mesh(tmp_path)
    with pytest.raises(MeshError, match="unknown mesh format 'nastyformat'"):
        read_mesh(tmp_path / "m.foo", file_format="nastyformat")
    assert mesh_format("a.vol.gz") == "netgen" and mesh_format("a.msh") == "gmsh"


@pytest.mark.parametrize("ext,fmt", [(".vtu", "vtu"), (".msh", "gmsh"), (".vtk", "vtk"),
                                     (".xdmf", "xdmf")])
def test_truncated_files(tmp_path: Path, ext: str, fmt: str) -> None:
    path = tmp_path / f"m{ext}"
    write_mesh(_square(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    if ext == ".xdmf":  # the heavy data lives in the .h5 companion: corrupt that one
        h5 = tmp_path / "m.h5"
        h5.write_bytes(h5.read_bytes()[:100])
        path.write_bytes(raw)
    with pytest.raises(MeshError, match=rf"cannot read '.*m\{ext}' as a {fmt}"):
        from_meshio(path)


def test_garbage_content(tmp_path: Path) -> None:
    path = tmp_path / "junk.vtu"
    path.write_bytes(b"\x00\xff not xml at all")
    with pytest.raises(MeshError, match="junk.vtu"):
        read_mesh(path)


def test_write_is_atomic_and_leaves_no_temporaries(tmp_path: Path) -> None:
    for ext in (".vtu", ".xdmf", ".msh"):
        out = write_mesh(_square(), tmp_path / f"out{ext}")
        assert out.exists()
        np.testing.assert_allclose(read_mesh(out).point_data["u"].ravel(), np.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "out.msh", "out.vtu",
                                                          "out.xdmf"]
    with pytest.raises(MeshError, match="does not exist"):
        write_mesh(_square(), tmp_path / "no" / "out.vtu")
    with pytest.raises(MeshError, match="extension"):
        write_mesh(_square(), tmp_path / "out.bad")
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())


def test_msh_defaults_to_gmsh22_and_keeps_fields(tmp_path: Path) -> None:
    # two cell blocks (boundary lines + triangles) and no gmsh:dim_tags: the gmsh 4.1
    # writer of meshio refuses this mesh; the default .msh (gmsh 2.2) round-trips it
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    mesh = meshio.Mesh(pts, [("line", np.array([[0, 1], [1, 2], [2, 3], [3, 0]])),
                             ("triangle", np.array([[0, 1, 2], [0, 2, 3]]))],
                       point_data={"u": np.array([0.5, -1.0, 2.0, 3.25]),
                                   "v": np.arange(8.0).reshape(4, 2)})
    path = write_mesh(mesh, tmp_path / "m.msh")
    assert path.read_bytes().startswith(b"$MeshFormat\n2.2")
    data = from_meshio(path, inputs=["u", "v"])
    assert data.x.numpy().tolist() == [[0.5, 0, 1], [-1.0, 2, 3], [2.0, 4, 5], [3.25, 6, 7]]
    assert data.edge_index.shape[1] == 10  # 5 undirected triangle edges
    with pytest.raises(MeshError, match="as gmsh to"):
        write_mesh(mesh, tmp_path / "m41.msh", file_format="gmsh")


def test_content_names_the_format_when_the_extension_lies(tmp_path: Path) -> None:
    write_mesh(_square(), tmp_path / "a.vtu")
    write_mesh(_square(), tmp_path / "b.msh")
    write_mesh(_square(), tmp_path / "c.vtk")
    lies = {"a.vtu": "really_vtu.vtk", "b.msh": "really_gmsh.mesh", "c.vtk": "really_vtk.dat"}
    for src, dst in lies.items():
        (tmp_path / dst).write_bytes((tmp_path / src).read_bytes())
        assert sniff_mesh_format(tmp_path / dst) == {"a.vtu": "vtu", "b.msh": "gmsh",
                                                     "c.vtk": "vtk"}[src]
        np.testing.assert_allclose(read_mesh(tmp_path / dst).point_data["u"].ravel(),
                                   np.arange(4.0))
    (tmp_path / "d.txt").write_bytes((tmp_path / "a.vtu").read_bytes())  # unknown extension
    assert len(read_mesh(tmp_path / "d.txt").points) == 4
    assert sniff_mesh_format(tmp_path / "b.msh") == "gmsh"
    (tmp_path / "plain.vtu").write_text("1 2 3\n")
    assert sniff_mesh_format(tmp_path / "plain.vtu") is None


@pytest.mark.parametrize("name,head", [("m.e", b"CDF\x01" + bytes(60)),
                                       ("m.exo", b"\x89HDF\r\n\x1a\n" + bytes(60)),
                                       ("netcdf_named.vtu", b"CDF\x02" + bytes(60))])
def test_exodus_without_netcdf4_names_the_extra(tmp_path: Path, monkeypatch, name: str,
                                                head: bytes) -> None:
    monkeypatch.setitem(sys.modules, "netCDF4", None)  # as if not installed
    (tmp_path / name).write_bytes(head)
    with pytest.raises(MissingDependencyError) as exc:
        read_mesh(tmp_path / name)
    msg = str(exc.value)
    assert "reading Exodus files needs the optional package 'netCDF4'" in msg
    assert "pip install 'gnnops[exodus]'" in msg and "corrupt" not in msg


@pytest.mark.parametrize("kw", [{}, {"binary": False}, {"compression": None}])
def test_vtu_point_data_names_from_the_tags_and_int32_cells(tmp_path, kw):
    from gnnops.graphs.io import read_mesh, vtu_point_data_names

    pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    tri = np.array([[0, 1, 2], [1, 3, 2]], dtype=np.int64)
    m = meshio.Mesh(pts, [("triangle", tri)], point_data={"a": np.ones(4),
                                                          "u": np.zeros((4, 2))})
    path = tmp_path / "x.vtu"
    meshio.write(path, m, **kw)
    assert vtu_point_data_names(path) == ["a", "u"]
    back = read_mesh(path)
    assert back.cells[0].data.dtype == np.int32  # half of meshio's int64, values kept
    np.testing.assert_array_equal(back.cells[0].data, tri)
    bare = tmp_path / "bare.vtu"
    meshio.write(bare, meshio.Mesh(pts, [("triangle", tri)]), **kw)
    assert vtu_point_data_names(bare) is None  # no PointData: the reader decides
