"""Cell tables: counts by hand, node ordering checked against gmsh/meshio output."""

from __future__ import annotations

import math

import meshio
import numpy as np
import pytest

from gnnops.graphs.cells import CELLS, cell_info, cell_measures, polygon_info

# (type, nodes, undirected edges, facets) counted by hand
HAND = [
    ("line", 2, 1, 2), ("line3", 3, 2, 2),
    ("triangle", 3, 3, 3), ("triangle6", 6, 6, 3),
    ("quad", 4, 4, 4), ("quad8", 8, 8, 4), ("quad9", 9, 12, 4),
    ("tetra", 4, 6, 4), ("tetra10", 10, 12, 4),
    ("hexahedron", 8, 12, 6), ("hexahedron20", 20, 24, 6), ("hexahedron27", 27, 54, 6),
    ("wedge", 6, 9, 5), ("wedge15", 15, 18, 5), ("wedge18", 18, 30, 5),
    ("pyramid", 5, 8, 5), ("pyramid13", 13, 16, 5), ("pyramid14", 14, 20, 5),
]


@pytest.mark.parametrize("name,nodes,edges,facets", HAND)
def test_table_counts(name: str, nodes: int, edges: int, facets: int) -> None:
    info = CELLS[name]
    assert info.nodes == nodes
    assert meshio._mesh.num_nodes_per_cell[name] == nodes
    assert len(info.edges) == edges
    undirected = {tuple(sorted(e)) for e in info.edges.tolist()}
    assert len(undirected) == edges  # no duplicates
    assert all(a != b for a, b in undirected)
    assert set(np.unique(info.edges)) == set(range(nodes))  # every node is connected
    assert sum(len(c) for c, _ in info.facets) == facets


def test_polygon_tables() -> None:
    info = polygon_info(5)
    assert len(info.edges) == 5 and len(info.simplices) == 3
    pts = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 6)[:-1]])
    area = cell_measures(pts, np.arange(5)[None], info)[0]
    assert area == pytest.approx(2.5 * np.sin(2 * np.pi / 5))
    assert cell_info("polygon", 2) is None and cell_info("triangle10", 10) is None


REFERENCE = {  # corner coordinates of reference cells and their measure
    "triangle": ([[0, 0, 0], [2, 0, 0], [0, 3, 0]], 3.0),
    "quad": ([[0, 0, 0], [2, 0, 0], [2, 3, 0], [0, 3, 0]], 6.0),
    "tetra": ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], 1 / 6),
    "hexahedron": ([[0, 0, 0], [1, 0, 0], [1, 2, 0], [0, 2, 0],
                    [0, 0, 3], [1, 0, 3], [1, 2, 3], [0, 2, 3]], 6.0),
    "wedge": ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2], [1, 0, 2], [0, 1, 2]], 1.0),
    "pyramid": ([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 3]], 1.0),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_measures(name: str) -> None:
    pts, vol = REFERENCE[name]
    pts = np.array(pts, dtype=float)
    assert cell_measures(pts, np.arange(len(pts))[None], CELLS[name])[0] == pytest.approx(vol)
    # a triangle embedded in 3-D (Gram determinant)
    tri = np.array([[0, 0, 0], [1, 0, 1], [0, 1, 0.0]])
    assert cell_measures(tri, np.arange(3)[None], CELLS["triangle"])[0] == pytest.approx(
        0.5 * math.sqrt(2))


def _gmsh_cells(kind: str, incomplete: bool) -> meshio.Mesh:
    """Second-order cells straight from gmsh (hexes of a transfinite cube, prisms of an
    extruded triangle), read by meshio: the independent source of the node ordering."""
    import gmsh

    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(kind)
        if kind == "hex":
            gmsh.model.occ.addBox(0, 0, 0, 1, 2, 3)
            gmsh.model.occ.synchronize()
            for _, c in gmsh.model.getEntities(1):
                gmsh.model.mesh.setTransfiniteCurve(c, 2)
            for _, s in gmsh.model.getEntities(2):
                gmsh.model.mesh.setTransfiniteSurface(s)
                gmsh.model.mesh.setRecombine(2, s)
            gmsh.model.mesh.setTransfiniteVolume(1)
        else:
            p = [gmsh.model.geo.addPoint(*xy, 0, 1.0) for xy in ((0, 0), (1, 0), (0.3, 1))]
            lines = [gmsh.model.geo.addLine(p[i], p[(i + 1) % 3]) for i in range(3)]
            s = gmsh.model.geo.addPlaneSurface([gmsh.model.geo.addCurveLoop(lines)])
            gmsh.model.geo.extrude([(2, s)], 0.2, 0.1, 2.0, numElements=[1], recombine=True)
            gmsh.model.geo.synchronize()
        gmsh.model.mesh.generate(3)
        gmsh.option.setNumber("Mesh.SecondOrderIncomplete", int(incomplete))
        gmsh.model.mesh.setOrder(2)
        gmsh.option.setNumber("Mesh.SaveAll", 1)
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            gmsh.write(str(Path(tmp) / "c.msh"))
            return meshio.gmsh.read(str(Path(tmp) / "c.msh"))
    finally:
        gmsh.finalize()


@pytest.mark.parametrize("kind,incomplete,name", [
    ("hex", False, "hexahedron27"), ("hex", True, "hexahedron20"),
    ("prism", True, "wedge15"),
])  # wedge18 is left out: meshio 5.3.5's gmsh reader keeps gmsh's order for it, not VTK's
def test_higher_order_ordering_matches_meshio(kind: str, incomplete: bool, name: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # meshio 5.3.5 lists wedge15/pyramid13 node counts but not their dimension
    for t in ("wedge15", "pyramid13"):
        monkeypatch.setitem(meshio._mesh.topological_dimension, t, 3)
    mesh = _gmsh_cells(kind, incomplete)
    cells = mesh.get_cells_type(name)
    assert len(cells) >= 1
    info = CELLS[name]
    pts = mesh.points
    nc, nb = info.corners, len(info.edges)
    base_edges = info.edges[: 2 * (info.nodes - nc)]
    n_mid = sum(1 for a, b in info.edges.tolist() if a < nc and b >= nc) // 2
    for k in range(n_mid):  # edges 2k, 2k+1 are (a, m), (m, b)
        (a, m), (m2, b) = base_edges[2 * k], base_edges[2 * k + 1]
        assert m == m2 == nc + k
        np.testing.assert_allclose(pts[cells[:, m]], 0.5 * (pts[cells[:, a]] + pts[cells[:, b]]),
                                   atol=1e-12)
    for c in range(nc + n_mid, info.nodes):  # interior nodes: mean of lower-index neighbours
        nbr = [a if b == c else b for a, b in info.edges.tolist() if c in (a, b)]
        nbr = [v for v in nbr if v < c]
        np.testing.assert_allclose(pts[cells[:, c]], pts[cells[:, nbr]].mean(axis=1), atol=1e-12)
    assert nb == HAND[[h[0] for h in HAND].index(name)][2]
