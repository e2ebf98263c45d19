"""gmsh geometries: groups, measures, refinement rates, quads, second order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnnops import meshing
from gnnops.errors import MeshError
from gnnops.graphs import from_meshio


def _area(mesh) -> float:
    return float(from_meshio(mesh).node_volume.double().sum())


@pytest.mark.parametrize("make,area,groups", [
    (meshing.unit_square, 1.0, {"bottom", "right", "top", "left", "domain"}),
    (meshing.l_shape, 0.75, {"bottom", "right", "notch", "top", "left", "domain"}),
    (meshing.box, 1.0, {"left", "right", "front", "back", "bottom", "top", "domain"}),
])
def test_groups_and_measure(make, area: float, groups: set[str]) -> None:
    mesh = make(0.25 if make is not meshing.box else 0.5)
    assert set(mesh.field_data) == groups
    assert all(int(mesh.field_data[g][0]) == meshing.TAGS[g] for g in groups)
    assert _area(mesh) == pytest.approx(area, rel=1e-6)


def test_boundary_tags_lie_on_their_sides() -> None:
    data = from_meshio(meshing.unit_square(0.2))
    x, y = data.pos[:, 0], data.pos[:, 1]
    corner = ((x == 0) | (x == 1)) & ((y == 0) | (y == 1))
    for name, on in [("left", x == 0), ("right", x == 1), ("bottom", y == 0), ("top", y == 1)]:
        assert (data.node_type[on & ~corner] == meshing.TAGS[name]).all()
    assert (data.node_type[~data.boundary] == 0).all()
    assert data.boundary.sum() == (x == 0).sum() + (x == 1).sum() + (y == 0).sum() \
        + (y == 1).sum() - 4
    hole = from_meshio(meshing.plate_with_hole(0.2))
    r = (hole.pos - 0.5).norm(dim=1)
    on_hole = hole.node_type == meshing.TAGS["hole"]
    np.testing.assert_allclose(r[on_hole], 0.2, atol=1e-6)


def test_refinement_h_to_h_over_8() -> None:
    hs = 0.1 / 2.0 ** np.arange(4)
    nodes, errs = [], []
    for h in hs:
        data = from_meshio(meshing.plate_with_hole(h))
        nodes.append(data.num_nodes)
        area = float(data.node_volume.double().sum())
        n = int((data.node_type == meshing.TAGS["hole"]).sum())  # the hole is an n-gon
        assert area == pytest.approx(1 - 0.5 * n * 0.2**2 * math.sin(2 * math.pi / n), rel=1e-6)
        errs.append(abs(area - (1 - math.pi * 0.2**2)))  # ~ pi h^2 / 6
    # pre-asymptotic on the coarsest meshes: measured -1.84 and 1.80
    assert np.polyfit(np.log(hs), np.log(nodes), 1)[0] == pytest.approx(-2.0, abs=0.3)
    assert np.polyfit(np.log(hs), np.log(errs), 1)[0] == pytest.approx(2.0, abs=0.3)
    hc = np.array([0.25, 0.125, 0.0625])
    tets = [len(meshing.box(h).get_cells_type("tetra")) for h in hc]  # measured slope -2.82
    assert np.polyfit(np.log(hc), np.log(tets), 1)[0] == pytest.approx(-3.0, abs=0.3)


def test_quads_and_second_order() -> None:
    quad = meshing.unit_square(0.25, quad=True)
    assert [c.type for c in quad.cells if c.dim == 2] == ["quad"]
    assert len(quad.get_cells_type("quad")) == 16 and len(quad.points) == 25
    lin = from_meshio(meshing.unit_square(0.25))
    p2 = meshing.unit_square(0.25, order=2)
    assert len(p2.get_cells_type("triangle6")) == lin.cell_index.shape[1]
    assert len(p2.points) == lin.num_nodes + lin.edge_index.shape[1] // 2  # one node per edge
    q9 = meshing.unit_square(0.5, quad=True, order=2)
    assert len(q9.get_cells_type("quad9")) == 4 and len(q9.points) == 25
    tet = from_meshio(meshing.box(0.5))
    t10 = from_meshio(meshing.box(0.5, order=2))
    assert t10.cell_type == "tetra10"
    assert t10.num_nodes == tet.num_nodes + tet.edge_index.shape[1] // 2
    assert t10.node_volume.double().sum().item() == pytest.approx(1.0)


def test_deterministic_and_safe_with_caller_session() -> None:
    import gmsh

    a = meshing.l_shape(0.15)
    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
        b = meshing.l_shape(0.15)
        assert gmsh.isInitialized()  # the caller's session is left open
        assert gmsh.option.getNumber("Mesh.MeshSizeMax") == 0.3  # and its options restored
    finally:
        gmsh.finalize()
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.get_cells_type("triangle"), b.get_cells_type("triangle"))


@pytest.mark.parametrize("kwargs,words", [
    ({"h": 0.0}, "element size h"), ({"h": float("nan")}, "element size h"),
    ({"h": 0.2, "order": 3}, "order 1 or 2"),
])
def test_bad_arguments(kwargs: dict, words: str) -> None:
    with pytest.raises(MeshError, match=words):
        meshing.unit_square(**kwargs)
    with pytest.raises(MeshError, match="radius"):
        meshing.plate_with_hole(0.2, radius=0.7)
