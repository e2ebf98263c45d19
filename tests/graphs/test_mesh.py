"""from_meshio: hand-counted nodes, edges and boundaries; tags; volumes; fields; errors."""

from __future__ import annotations

import re

import meshio
import numpy as np
import pytest
import torch

from gnnops.errors import GnnopsError, MeshError
from gnnops.graphs import from_meshio
from gnnops.graphs.cells import CELLS

CORNERS = {  # reference corners (VTK order) and the cell's measure
    "line": ([[0, 0, 0], [2, 0, 0]], 2.0),
    "triangle": ([[0, 0, 0], [2, 0, 0], [0, 3, 0]], 3.0),
    "quad": ([[0, 0, 0], [2, 0, 0], [2, 3, 0], [0, 3, 0]], 6.0),
    "tetra": ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], 1 / 6),
    "hexahedron": ([[0, 0, 0], [1, 0, 0], [1, 2, 0], [0, 2, 0],
                    [0, 0, 3], [1, 0, 3], [1, 2, 3], [0, 2, 3]], 6.0),
    "wedge": ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2], [1, 0, 2], [0, 1, 2]], 1.0),
    "pyramid": ([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 3]], 1.0),
}
BASE = {"line3": "line", "triangle6": "triangle", "quad8": "quad", "quad9": "quad",
        "tetra10": "tetra", "hexahedron20": "hexahedron", "hexahedron27": "hexahedron",
        "wedge15": "wedge", "wedge18": "wedge", "pyramid13": "pyramid", "pyramid14": "pyramid"}

# one cell of each type: (nodes, directed edges, boundary nodes), counted by hand
ONE_CELL = {
    "line": (2, 2, 2), "line3": (3, 4, 2),
    "triangle": (3, 6, 3), "triangle6": (6, 12, 6),
    "quad": (4, 8, 4), "quad8": (8, 16, 8), "quad9": (9, 24, 8),
    "tetra": (4, 12, 4), "tetra10": (10, 24, 10),
    "hexahedron": (8, 24, 8), "hexahedron20": (20, 48, 20), "hexahedron27": (27, 108, 26),
    "wedge": (6, 18, 6), "wedge15": (15, 36, 15), "wedge18": (18, 60, 18),
    "pyramid": (5, 16, 5), "pyramid13": (13, 32, 13), "pyramid14": (14, 40, 14),
}


def reference_cell(name: str) -> tuple[np.ndarray, float]:
    """Straight-sided reference cell: higher-order nodes at edge midpoints / face means."""
    corners, vol = CORNERS[BASE.get(name, name)]
    info = CELLS[name]
    pts = np.zeros((info.nodes, 3))
    pts[: len(corners)] = corners
    nbrs: dict[int, list[int]] = {}
    for a, b in info.edges.tolist():
        nbrs.setdefault(max(a, b), []).append(min(a, b))
    for c in range(len(corners), info.nodes):  # lower-index neighbours are already placed
        pts[c] = pts[nbrs[c]].mean(axis=0)
    return pts, vol


@pytest.fixture
def old_meshio_types(monkeypatch: pytest.MonkeyPatch) -> None:
    # meshio 5.3.5 knows wedge15/pyramid13 node counts but not their dimension
    for t in ("wedge15", "pyramid13"):
        monkeypatch.setitem(meshio._mesh.topological_dimension, t, 3)


@pytest.mark.parametrize("name", sorted(ONE_CELL))
def test_one_cell_counts(name: str, old_meshio_types: None) -> None:
    pts, vol = reference_cell(name)
    data = from_meshio(meshio.Mesh(pts, [(name, np.arange(len(pts))[None])]))
    nodes, edges, boundary = ONE_CELL[name]
    assert data.num_nodes == nodes
    assert data.edge_index.shape == (2, edges)
    assert int(data.boundary.sum()) == boundary
    assert data.node_volume.sum().item() == pytest.approx(vol, rel=1e-6)
    assert data.cell_type == name and data.cell_index.shape == (nodes, 1)
    # both directions, no duplicates, no self loops
    ei = data.edge_index.numpy()
    assert np.all(ei[0] != ei[1])
    pairs = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    assert len(pairs) == edges and all((b, a) in pairs for a, b in pairs)
    dim = CELLS[name].dim
    assert data.pos.shape[1] == (2 if dim <= 2 else 3)  # all-zero z dropped for 1-D / 2-D
    assert data.edge_attr.shape == (edges, data.pos.shape[1] + 1)


def test_two_triangles_sharing_an_edge() -> None:
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]])
    data = from_meshio(meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]))
    assert data.num_nodes == 4 and data.edge_index.shape[1] == 10  # 5 edges x 2
    assert data.boundary.tolist() == [True] * 4
    assert data.node_type.tolist() == [1, 1, 1, 1]
    # edge_attr = pos[target] - pos[source] and its norm
    src, dst = data.edge_index
    np.testing.assert_allclose(data.edge_attr[:, :2], data.pos[dst] - data.pos[src])
    np.testing.assert_allclose(data.edge_attr[:, 2], (data.pos[dst] - data.pos[src]).norm(dim=1))
    # shares: each triangle's area 1/2 split in 3 -> nodes 0 and 2 have 1/3
    np.testing.assert_allclose(data.node_volume.numpy(), [1 / 3, 1 / 6, 1 / 3, 1 / 6])


def grid(n: int, *, quads: bool) -> meshio.Mesh:
    """(n+1)^2 nodes on the unit square, n^2 quads or 2 n^2 triangles."""
    x = np.linspace(0, 1, n + 1)
    pts = np.stack(np.meshgrid(x, x, indexing="xy"), -1).reshape(-1, 2)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    v0 = (j * (n + 1) + i).ravel()
    q = np.stack([v0, v0 + 1, v0 + n + 2, v0 + n + 1], 1)
    if quads:
        return meshio.Mesh(pts, [("quad", q)])
    return meshio.Mesh(pts, [("triangle", np.vstack([q[:, [0, 1, 2]], q[:, [0, 2, 3]]]))])


@pytest.mark.parametrize("n", [2, 5])
def test_structured_grids(n: int) -> None:
    quad = from_meshio(grid(n, quads=True))
    assert quad.num_nodes == (n + 1) ** 2
    assert quad.edge_index.shape[1] == 2 * 2 * n * (n + 1)  # no diagonals
    assert int(quad.boundary.sum()) == 4 * n
    tri = from_meshio(grid(n, quads=False))
    assert tri.edge_index.shape[1] == 2 * (2 * n * (n + 1) + n * n)  # + one diagonal per square
    assert int(tri.boundary.sum()) == 4 * n
    assert tri.node_volume.sum().item() == pytest.approx(1.0, rel=1e-6)


def test_hex_block_has_one_interior_node() -> None:
    x = np.arange(3.0)
    pts = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1).reshape(-1, 3)
    idx = np.arange(27).reshape(3, 3, 3)
    corner = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1),
              (0, 1, 1)]  # VTK order
    cells = [[idx[a + da, b + db, c + dc] for da, db, dc in corner]
             for a in range(2) for b in range(2) for c in range(2)]
    data = from_meshio(meshio.Mesh(pts, [("hexahedron", np.array(cells))]))
    assert data.edge_index.shape[1] == 108  # 9 lines x 2 segments x 3 axes x 2 directions
    assert int(data.boundary.sum()) == 26 and not data.boundary[idx[1, 1, 1]]
    assert data.node_volume.sum().item() == pytest.approx(8.0)


def test_mixed_blocks_hex_with_pyramid_on_top() -> None:
    hex_pts, _ = reference_cell("hexahedron")
    hex_pts = hex_pts / hex_pts.max(axis=0)  # unit cube
    pts = np.vstack([hex_pts, [[0.5, 0.5, 2.0]]])
    mesh = meshio.Mesh(pts, [("hexahedron", np.arange(8)[None]),
                             ("pyramid", np.array([[4, 5, 6, 7, 8]]))])
    data = from_meshio(mesh)
    assert data.num_nodes == 9
    assert data.edge_index.shape[1] == 2 * (12 + 8 - 4)  # the shared base counted once
    assert int(data.boundary.sum()) == 9
    assert data.node_volume.sum().item() == pytest.approx(1 + 1 / 3)
    assert not hasattr(data, "cell_index") or data.cell_index is None
    assert [t for t, _ in data.mesh_cells] == ["hexahedron", "pyramid"]
    # the shared quad facet is interior: a tet glued on one side face changes nothing there
    mixed2d = meshio.Mesh(np.array([[0, 0], [1, 0], [1, 1], [0, 1], [2, 0.5]]),
                          [("quad", np.array([[0, 1, 2, 3]])), ("triangle", np.array([[1, 4, 2]]))])
    d2 = from_meshio(mixed2d)
    assert d2.edge_index.shape[1] == 2 * (4 + 3 - 1) and int(d2.boundary.sum()) == 5
    assert d2.node_volume.sum().item() == pytest.approx(1.5)


def test_lower_dimensional_cells_give_tags_not_edges() -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0]])
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    lines = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    mesh = meshio.Mesh(
        pts, [("line", lines), ("triangle", tris), ("vertex", np.array([[0]]))],
        cell_data={"gmsh:physical": [np.array([1, 2, 3, 4]), np.array([10] * 4), np.array([7])]},
    )
    data = from_meshio(mesh)
    assert data.edge_index.shape[1] == 16  # 4 sides + 4 spokes
    # a vertex tag beats line tags; among lines the largest tag wins; interior node 0
    assert data.node_type.tolist() == [7, 2, 3, 4, 0]
    assert data.boundary.tolist() == [True, True, True, True, False]
    no_tags = from_meshio(meshio.Mesh(pts, [("line", lines), ("triangle", tris)]))
    assert no_tags.node_type.tolist() == [1, 1, 1, 1, 0]
    medit = from_meshio(meshio.Mesh(pts, [("line", lines), ("triangle", tris)],
                                    cell_data={"medit:ref": [np.array([5, 5, 6, 6]),
                                                             np.zeros(4, int)]}))
    assert medit.node_type.tolist() == [6, 5, 6, 6, 0]  # node 0 is on lines 5 and 6


def test_unused_points_stay_isolated() -> None:
    pts = np.array([[0, 0], [1, 0], [0, 1], [5, 5.0]])
    data = from_meshio(meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2]]))]))
    assert data.num_nodes == 4 and data.edge_index.max() == 2
    assert not data.boundary[3] and data.node_volume[3] == 0 and data.node_type[3] == 0


def test_fields_and_z_handling() -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]])
    vec2 = np.array([[1, 2, 0], [3, 4, 0], [5, 6, 0.0]])
    vec3 = np.array([[1, 2, 1], [3, 4, 0], [5, 6, 0.0]])
    mesh = meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2]]))],
                       point_data={"a": np.array([1.0, 2, 3]), "v": vec2, "w": vec3,
                                   "t": np.arange(12.0).reshape(3, 2, 2)})
    data = from_meshio(mesh, inputs=("v", "a"), targets=("w", "t"))
    assert data.pos.shape == (3, 2)
    np.testing.assert_allclose(data.x.numpy(), np.column_stack([vec2[:, :2], [1, 2, 3]]))
    assert data.y.shape == (3, 3 + 4) and data.x.dtype == torch.float32
    # a 3-D triangle keeps z
    lifted = meshio.Mesh(pts + [[0, 0, 1]], [("triangle", np.array([[0, 1, 2]]))])
    assert from_meshio(lifted).pos.shape == (3, 3)


def _tri(points: np.ndarray, **kw: object) -> meshio.Mesh:
    return meshio.Mesh(points, [("triangle", np.array([[0, 1, 2]]))], **kw)


@pytest.mark.parametrize("mesh,words", [
    (meshio.Mesh(np.zeros((3, 3)), []), "no cells"),
    (_tri(np.array([[0, 0], [1, np.nan], [0, 1.0]])), "NaN"),
    (_tri(np.array([[0, 0], [1, np.inf], [0, 1.0]])), "NaN or inf"),
    (meshio.Mesh(np.eye(3), [("vertex", np.array([[0], [1]]))]), "only vertex"),
    (meshio.Mesh(np.eye(3), [("triangle", np.array([[0, 1, 7]]))]), "outside [0, 3)"),
    (meshio.Mesh(np.zeros((10, 3)), [("triangle10", np.arange(10)[None])]), "triangle10"),
])
def test_bad_meshes(mesh: meshio.Mesh, words: str) -> None:
    with pytest.raises(MeshError, match=re.escape(words)):
        from_meshio(mesh)


def test_missing_field_lists_available() -> None:
    mesh = _tri(np.eye(3), point_data={"u": np.ones(3), "kappa": np.ones(3)})
    with pytest.raises(MeshError, match="'f' is not point data.*kappa, u"):
        from_meshio(mesh, inputs=("kappa", "f"))
    bad = _tri(np.eye(3), point_data={"u": np.array([1, np.nan, 0])})
    with pytest.raises(GnnopsError, match="NaN"):
        from_meshio(bad, targets=("u",))
    with pytest.raises(MeshError, match="expected a meshio.Mesh or a path, got int"):
        from_meshio(3)


def test_coincident_points_counts_copies_used_by_cells() -> None:
    from gnnops.graphs.mesh import coincident_points

    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0], [1, 1], [2, 0], [1, 1 + 1e-13]])
    two = np.array([[0, 1, 2], [0, 2, 3]])
    assert coincident_points(pts, [two]) == 0  # the unused copies do not count
    seam = np.array([[0, 1, 2], [0, 2, 3], [4, 6, 5]])
    assert coincident_points(pts, [seam]) == 2  # points 4, 5 repeat points 1, 2
    assert coincident_points(pts, [seam, np.array([[6, 7, 4]])]) == 3  # 7 within 1e-13
    assert coincident_points(torch.tensor(pts), [torch.tensor(seam)]) == 2
    far = pts.copy()
    far[7, 1] = 1 + 1e-6
    assert coincident_points(far, [seam, np.array([[6, 7, 4]])]) == 2
    assert coincident_points(np.zeros((3, 3)), [np.array([[0, 1, 2]])]) == 2


def test_coordinates_beyond_float32_are_refused() -> None:
    """Found by the fuzz suite: 1e300 made the degenerate-cell tolerance overflow."""
    pts = np.array([[0, 0, 0], [1e300, 0, 0], [0, 1, 0.0]])
    with pytest.raises(MeshError, match=r"coordinates up to 1e\+300; expected magnitudes "
                                        r"below 3.4e\+38"):
        from_meshio(meshio.Mesh(pts, [("triangle", np.array([[0, 1, 2]]))]))
