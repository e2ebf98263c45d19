"""Mesh variants (data/variants.py): interior nodes moved, boundary and cells kept."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from gnnops.data import variants as V
from gnnops.errors import DataError
from gnnops.meshing import make_geometry


@pytest.mark.parametrize("name, h", [("plate_with_hole", 0.08), ("l_shape", 0.1),
                                     ("disk_with_holes-2", 0.1), ("box", 0.25)])
def test_variant_moves_interior_nodes_only_and_keeps_cells_positive(name: str, h: float):
    mesh = make_geometry(name, h)
    cells, d = V.simplex_cells(mesh)
    assert d == (3 if name == "box" else 2)
    fixed = V.boundary_nodes(mesh)
    for j in (1, 2):
        var = V.mesh_variant(mesh, 0, name, j)
        assert var.points.shape == mesh.points.shape
        moved = np.linalg.norm(var.points - mesh.points, axis=1)
        np.testing.assert_array_equal(var.points[fixed], mesh.points[fixed])
        assert np.all(moved[~fixed] > 0)  # every interior node moves (a zero draw: p = 0)
        reach = V._shortest_edge(mesh.points[:, :d], cells)
        assert np.all(moved <= V.AMPLITUDE * reach + 1e-12)
        vol = V.signed_volumes(var.points, cells)
        assert np.all(vol >= V.MIN_VOLUME_RATIO * V.signed_volumes(mesh.points, cells) - 1e-15)
        assert np.all(vol > 0)
        assert [c.type for c in var.cells] == [c.type for c in mesh.cells]
        if d == 2:
            np.testing.assert_array_equal(var.points[:, 2], 0.0)
    assert V.mesh_variant(mesh, 0, name, 0) is mesh


def test_boundary_nodes_of_a_known_mesh():
    """Two triangles of the unit square: all 4 nodes on the boundary; a 3 x 3 grid: only
    the centre inside (also without any line cells)."""
    two = meshio.Mesh(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]),
                      [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])
    assert V.boundary_nodes(two).all()
    g = np.array([[x, y] for y in range(3) for x in range(3)], dtype=float)
    tri = [[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4], [3, 4, 7], [3, 7, 6], [4, 5, 8],
           [4, 8, 7]]
    grid = meshio.Mesh(g, [("triangle", np.array(tri))])
    np.testing.assert_array_equal(np.flatnonzero(~V.boundary_nodes(grid)), [4])
    np.testing.assert_allclose(V.signed_volumes(grid.points, np.array(tri)), 0.5)
    # a tagged interior line fixes its nodes too
    tagged = meshio.Mesh(g, [("line", np.array([[3, 4]])), ("triangle", np.array(tri))])
    assert V.boundary_nodes(tagged).all()


def test_seeded_and_reproducible():
    mesh = make_geometry("plate_with_hole", 0.08)
    a = V.mesh_variant(mesh, 0, "plate_with_hole", 1)
    np.testing.assert_array_equal(a.points, V.mesh_variant(mesh, 0, "plate_with_hole", 1).points)
    for other in (V.mesh_variant(mesh, 1, "plate_with_hole", 1),
                  V.mesh_variant(mesh, 0, "plate_with_hole", 2),
                  V.mesh_variant(mesh, 0, "unit_square", 1)):
        assert not np.allclose(a.points, other.points)


def test_large_moves_are_shrunk_until_every_cell_keeps_its_orientation():
    """At 3 x the shortest edge most cells would fold; the halving keeps them all."""
    mesh = make_geometry("unit_square", 0.1)
    cells, _ = V.simplex_cells(mesh)
    vol0 = V.signed_volumes(mesh.points, cells)
    rng = np.random.default_rng(0)
    raw = mesh.points.copy()
    raw[:, :2] += 3 * 0.1 * rng.standard_normal((len(raw), 2))
    assert (V.signed_volumes(raw, cells) <= 0).any()  # what an unchecked move does
    var = V.perturb_interior(mesh, np.random.default_rng(0), amplitude=3.0)
    vol = V.signed_volumes(var.points, cells)
    assert np.all(vol >= V.MIN_VOLUME_RATIO * vol0 - 1e-15)
    assert np.abs(var.points - mesh.points).max() > 0.01


def test_non_simplex_meshes_are_refused():
    quad = meshio.Mesh(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]),
                       [("quad", np.array([[0, 1, 2, 3]]))])
    with pytest.raises(DataError, match="triangle / tetra"):
        V.mesh_variant(quad, 0, "unit_square", 1)
