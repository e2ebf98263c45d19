"""FemMesh (problems/_fem.py): conversion and caching, assembly against scikit-fem and hand
numbers, boundary and node-set selection."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import skfem
from skfem.io.meshio import to_meshio
from skfem.models.poisson import laplace, mass

from gnnops import meshing
from gnnops.errors import ProblemError
from gnnops.graphs import from_meshio
from gnnops.problems._fem import (
    build_assembly,
    fem_mesh,
    fem_mesh_from_arrays,
    select_nodes,
)


@pytest.fixture
def square() -> meshio.Mesh:
    """skfem's unit square refined 3 times: 81 nodes, 128 triangles, stored with z = 0."""
    m = to_meshio(skfem.MeshTri().refined(3))
    m.points = np.column_stack([m.points[:, :2], np.zeros(len(m.points))])
    return m


def test_build_assembly_by_hand():
    # two 1-D elements 0-1 and 1-2 with local stiffness [[1, -1], [-1, 1]] times a coefficient
    local = np.array([[[1.0, -1.0], [-1.0, 1.0]]] * 2)
    asm = build_assembly(local, np.array([[0, 1], [1, 2]]), 3)
    got = asm.matrix(np.array([2.0, 3.0])).toarray()
    np.testing.assert_array_equal(got, [[2, -2, 0], [-2, 5, -3], [0, -3, 3]])
    np.testing.assert_array_equal(asm.matrix(np.array([1.0, 0.0])).toarray(),
                                  [[1, -1, 0], [-1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("mesh,measure", [
    (skfem.MeshTri().refined(3), 1.0), (skfem.MeshQuad().refined(2), 1.0),
    (skfem.MeshTet().refined(2), 1.0), (skfem.MeshHex().refined(1), 1.0)])
def test_structures_match_scikit_fem_and_measure_the_domain(mesh, measure):
    fm = fem_mesh(to_meshio(mesh))
    assert fm.cell_type == {2: {3: "triangle", 4: "quad"}, 3: {4: "tetra", 8: "hexahedron"}}[
        fm.dim][fm.cells.shape[1]]
    basis = fm.basis
    ones = np.ones(len(fm.cells))
    k = fm.structure("stiffness").matrix(ones)
    np.testing.assert_allclose(k.toarray(), skfem.asm(laplace, basis).toarray(), atol=1e-12)
    np.testing.assert_allclose(fm.mass().toarray(), skfem.asm(mass, basis).toarray(),
                               atol=1e-13)
    assert fm.mass().sum() == pytest.approx(measure, abs=1e-12)  # sum of M = |domain|
    # a linear field is in the kernel of the stiffness rows of interior nodes
    x = fm.points[:, 0]
    assert np.abs((k @ x)[~fm.boundary]).max() < 1e-12
    # a per-cell coefficient scales each cell's contribution: 2 * K(1) = K(2)
    np.testing.assert_allclose(fm.structure("stiffness").matrix(2 * ones).toarray(),
                               2 * k.toarray(), atol=1e-12)
    with pytest.raises(ValueError, match="unknown structure 'div'"):
        fm.structure("div")


def test_meshio_and_data_give_the_same_cached_mesh(square):
    fm = fem_mesh(square)
    assert fm.dim == 2 and fm.n_nodes == 81 and len(fm.cells) == 128  # z = 0 column dropped
    assert fem_mesh(square) is fm  # cached by content
    assert fem_mesh(fm) is fm
    data = from_meshio(square)
    fd = fem_mesh(data)
    np.testing.assert_allclose(fd.points, fm.points, atol=1e-7)  # Data.pos is float32
    np.testing.assert_array_equal(fd.cells, fm.cells)
    assert fd.cell_type == "triangle"


def test_boundary_facets_cell_mean_and_boundary(square):
    fm = fem_mesh(square)
    x, y = fm.points.T
    on_edge = (np.isclose(x, 0) | np.isclose(x, 1) | np.isclose(y, 0) | np.isclose(y, 1))
    np.testing.assert_array_equal(fm.boundary, on_edge)
    facets, meas = fm.boundary_facets()
    assert facets.shape == (32, 2) and meas.sum() == pytest.approx(4.0, abs=1e-12)  # perimeter
    centroid_x = fm.points[fm.cells, 0].mean(axis=1)
    np.testing.assert_allclose(fm.cell_mean(3 * x + 1), 3 * centroid_x + 1, atol=1e-14)


def test_quad_and_hex_boundary_measures():
    quad = fem_mesh(to_meshio(skfem.MeshQuad().refined(2)))
    assert quad.boundary_facets()[1].sum() == pytest.approx(4.0, abs=1e-12)
    hexa = fem_mesh(to_meshio(skfem.MeshHex().refined(1)))
    assert hexa.boundary_facets()[1].sum() == pytest.approx(6.0, abs=1e-12)  # cube surface


def test_select_nodes_by_tag_side_callable_mask_and_indices():
    fm = fem_mesh(meshing.unit_square(0.25))
    x, y = fm.points.T
    np.testing.assert_array_equal(select_nodes(fm, "bottom"), np.isclose(y, 0))
    np.testing.assert_array_equal(select_nodes(fm, "right"), np.isclose(x, 1))
    assert set(fm.tags) >= {"bottom", "right", "top", "left", "domain"}
    np.testing.assert_array_equal(select_nodes(fm, lambda p: p[0] < 0.3), x < 0.3)
    mask = np.zeros(fm.n_nodes, dtype=bool)
    mask[[0, 3]] = True
    np.testing.assert_array_equal(select_nodes(fm, mask), mask)
    np.testing.assert_array_equal(select_nodes(fm, np.array([0, 3])), mask)
    with pytest.raises(ProblemError, match=r"unknown boundary 'back'.*sides: left, right, "
                                           r"bottom, top$"):
        select_nodes(fm, "back")
    with pytest.raises(ProblemError, match="selects no nodes"):
        select_nodes(fm, lambda p: p[0] > 2)
    with pytest.raises(ProblemError, match=rf"mask of shape \[{fm.n_nodes}\], got \[3\]"):
        select_nodes(fm, np.ones(3, dtype=bool))
    with pytest.raises(ProblemError, match=r"indices must lie in \[0, "):
        select_nodes(fm, np.array([fm.n_nodes]))


def test_untagged_side_selection_on_a_box():
    fm = fem_mesh(to_meshio(skfem.MeshTet().refined(1)))
    z = fm.points[:, 2]
    np.testing.assert_array_equal(select_nodes(fm, "back"), np.isclose(z, 1))
    np.testing.assert_array_equal(select_nodes(fm, "front"), np.isclose(z, 0))


def test_conversion_errors():
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 1]])
    with pytest.raises(ProblemError, match="planar 2D mesh"):
        fem_mesh_from_arrays(pts, np.array([[0, 1, 2]]), "triangle")
    with pytest.raises(ProblemError, match=r"cell indices must lie in \[0, 3\)"):
        fem_mesh_from_arrays(pts[:, :2], np.array([[0, 1, 3]]), "triangle")
    with pytest.raises(ProblemError, match="expected cells of type .*got 'triangle6'"):
        fem_mesh_from_arrays(pts[:, :2], np.array([[0, 1, 2, 0, 1, 2]]), "triangle6")
    with pytest.raises(ProblemError, match="non-finite"):
        fem_mesh_from_arrays(np.array([[0.0, 0], [1, 0], [0, np.nan]]), np.array([[0, 1, 2]]),
                             "triangle")
    mixed = meshio.Mesh(pts[:, :2], [("triangle", np.array([[0, 1, 2]])),
                                     ("quad", np.array([[0, 1, 2, 0]]))])
    with pytest.raises(ProblemError, match="all of one type"):
        fem_mesh(mixed)
    with pytest.raises(ProblemError, match="expected a meshio.Mesh, a mesh file path"):
        fem_mesh(3.0)


def test_fem_mesh_from_a_corrupt_file_is_a_mesh_error(tmp_path) -> None:
    """A path goes through gnnops.graphs.io.read_mesh: a MeshError, not meshio's sys.exit."""
    from gnnops.errors import MeshError
    from gnnops.problems._fem import fem_mesh

    (tmp_path / "bad.vtu").write_bytes(b"<VTKFile garbage")
    with pytest.raises(MeshError, match="cannot read .*bad.vtu"):
        fem_mesh(tmp_path / "bad.vtu")
