"""gmsh geometries: groups, measures, refinement rates, quads, second order."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_disk_with_holes_area_and_groups(seed: int) -> None:
    holes = meshing.disk_holes(seed)
    assert 1 <= len(holes) <= 3
    for i, (cx, cy, r) in enumerate(holes):  # inside the disk and apart, with a gap
        assert math.dist((cx, cy), (0.5, 0.5)) + r <= 0.5 - 0.04 + 1e-12
        assert all(math.dist((cx, cy), (x, y)) >= r + q + 0.04 for x, y, q in holes[:i])
    mesh = meshing.disk_with_holes(0.03, seed=seed)
    assert set(mesh.field_data) == {"outer", "hole", "domain"}
    exact = math.pi * (0.25 - sum(r * r for _, _, r in holes))
    assert _area(mesh) == pytest.approx(exact, rel=0.01)
    data = from_meshio(mesh)
    r_out = (data.pos.double() - 0.5).norm(dim=1)[data.node_type == meshing.TAGS["outer"]]
    np.testing.assert_allclose(r_out, 0.5, atol=1e-6)
    on_hole = data.pos[data.node_type == meshing.TAGS["hole"]].double()
    d = np.min([np.abs((on_hole - torch.tensor([cx, cy])).norm(dim=1).numpy() - r)
                for cx, cy, r in holes], axis=0)
    assert d.max() < 1e-6  # every hole node lies on one of the circles
    assert meshing.disk_holes(seed, 3) == meshing.disk_holes(seed, 3)  # deterministic
    assert len(meshing.disk_holes(seed, 2)) == 2


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_random_polygon_area_is_the_shoelace_area(seed: int) -> None:
    v = np.array(meshing.polygon_vertices(seed))
    assert 5 <= len(v) <= 10 and v.min() >= 0.0 and v.max() <= 1.0
    ang = np.unwrap(np.arctan2(v[:, 1] - 0.5, v[:, 0] - 0.5))
    assert np.all(np.diff(ang) > 0)  # counter-clockwise, star-shaped about the centre
    shoelace = 0.5 * abs(np.dot(v[:, 0], np.roll(v[:, 1], -1))
                         - np.dot(v[:, 1], np.roll(v[:, 0], -1)))
    mesh = meshing.random_polygon(0.05, seed=seed)
    assert set(mesh.field_data) == {"outer", "domain"}
    assert _area(mesh) == pytest.approx(shoelace, rel=1e-6)  # float32 node volumes
    assert meshing.polygon_vertices(seed) != meshing.polygon_vertices(seed + 1)


def test_make_geometry_by_name_and_shapes_in_the_unit_square() -> None:
    for name in ("disk_with_holes-2", "random_polygon-5", "plate_with_hole", "l_shape"):
        pts = meshing.make_geometry(name, 0.1).points  # the samplers' box: [0, 1]^2
        assert pts.min() >= -1e-12 and pts.max() <= 1 + 1e-12
    np.testing.assert_array_equal(meshing.make_geometry("random_polygon", 0.1).points,
                                  meshing.random_polygon(0.1, seed=0).points)
    assert meshing.parse_geometry("random_polygon-7") == ("random_polygon", 7)
    assert meshing.parse_geometry("box") == ("box", None)
    assert meshing.geometry_dim("box") == 3 and meshing.geometry_dim("disk_with_holes-1") == 2
    for bad, words in [("circle", "unknown geometry"), ("l_shape-2", "takes no seed"),
                       ("random_polygon-x", "unknown geometry")]:
        with pytest.raises(MeshError, match=words):
            meshing.make_geometry(bad, 0.1)
    with pytest.raises(MeshError, match="1 to 3 holes"):
        meshing.disk_with_holes(0.1, n_holes=4)
    with pytest.raises(MeshError, match="3 to 64 polygon vertices"):
        meshing.random_polygon(0.1, n_vertices=2)
