"""to_meshio: read -> Data -> fields -> write -> read keeps points, cells and values."""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
import pytest
import torch

from gnnops import meshing
from gnnops.errors import GraphError, MeshError
from gnnops.graphs import from_meshio, read_mesh, to_meshio, write_mesh


@pytest.fixture(scope="module")
def meshes() -> dict[str, meshio.Mesh]:
    return {"2d": meshing.unit_square(0.3), "3d": meshing.box(0.6)}


def _fields(data) -> dict[str, object]:
    pos = data.pos.double()
    return {"u": torch.sin(3 * pos[:, 0]) * pos[:, 1],  # scalar [N] tensor
            "v": (pos * 2 + 1).numpy()}  # vector [N, d] array


def _top(mesh: meshio.Mesh, dim: int) -> np.ndarray:
    names = {2: ("triangle",), 3: ("tetra",)}[dim]
    return np.concatenate([c.data for c in mesh.cells if c.type in names])


@pytest.mark.parametrize("ext", [".msh", ".vtu", ".xdmf", ".vtk"])
@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_round_trip_through_files(meshes, tmp_path: Path, ext: str, kind: str) -> None:
    mesh = meshes[kind]
    data = from_meshio(mesh)
    fields = _fields(data)
    path = write_mesh(to_meshio(mesh, fields), tmp_path / f"out{ext}")
    back = read_mesh(path)
    np.testing.assert_allclose(back.points, mesh.points)
    dim = 2 if kind == "2d" else 3
    np.testing.assert_array_equal(_top(back, dim), _top(mesh, dim))
    again = from_meshio(path, inputs=("u",), targets=("v",))
    np.testing.assert_allclose(again.x[:, 0], fields["u"].float(), rtol=1e-6)
    np.testing.assert_allclose(again.y.numpy(), fields["v"], rtol=1e-6)
    assert again.y.shape[1] == dim  # msh pads 2-D vectors to 3; the zero z is dropped again
    assert torch.equal(again.edge_index, data.edge_index)
    assert torch.equal(again.node_type, data.node_type)  # tags survive (cell data kept)


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_round_trip_from_data_alone(meshes, tmp_path: Path, kind: str) -> None:
    data = from_meshio(meshes[kind])
    fields = _fields(data)
    out = to_meshio(data, fields)
    assert out.points.shape[1] == 3  # padded for ParaView
    path = write_mesh(out, tmp_path / "pred.vtu")
    again = from_meshio(path, inputs=("u", "v"))
    assert torch.equal(again.edge_index, data.edge_index)
    np.testing.assert_allclose(again.pos, data.pos)
    np.testing.assert_allclose(again.x[:, 1:].numpy(), fields["v"], rtol=1e-6)
    np.testing.assert_allclose(again.node_volume, data.node_volume, rtol=1e-5)


def test_mixed_cells_write_back(tmp_path: Path) -> None:
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [2, 0.5]])
    mesh = meshio.Mesh(pts, [("quad", np.array([[0, 1, 2, 3]])),
                             ("triangle", np.array([[1, 4, 2]]))])
    data = from_meshio(mesh)
    out = to_meshio(data, {"u": np.arange(5.0)})
    assert [c.type for c in out.cells] == ["quad", "triangle"]
    back = read_mesh(write_mesh(out, tmp_path / "mixed.vtu"))
    np.testing.assert_array_equal(back.cells_dict["triangle"], [[1, 4, 2]])
    np.testing.assert_allclose(back.point_data["u"], np.arange(5.0))


def test_write_back_errors(meshes) -> None:
    data = from_meshio(meshes["2d"])
    with pytest.raises(MeshError, match=rf"expected \[{data.num_nodes}\] or"):
        to_meshio(data, {"u": np.zeros(data.num_nodes + 1)})
    bare = data.clone()
    del bare.cell_index
    with pytest.raises(GraphError, match="pass the original meshio.Mesh"):
        to_meshio(bare, {"u": np.zeros(data.num_nodes)})
    with pytest.raises(GraphError, match="got str"):
        to_meshio("mesh.vtu", {})
