"""Tests of gnnops.graphs.wall_distance against exact distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gnnops.errors import GraphError
from gnnops.graphs import from_meshio
from gnnops.graphs.wall_distance import segment_distance, wall_distance
from gnnops.meshing import box, disk_holes, disk_with_holes, unit_square


def test_segment_distance_closed_form() -> None:
    p = np.array([[0.5, 1.0], [-1.0, 0.0], [3.0, 4.0]])
    a = np.zeros((3, 2))
    b = np.tile([[1.0, 0.0]], (3, 1))
    np.testing.assert_allclose(segment_distance(p, a, b), [1.0, 1.0, np.hypot(2.0, 4.0)])


@pytest.mark.parametrize("h", [0.2, 0.05])
def test_unit_square_distance_is_exact_at_every_resolution(h: float) -> None:
    g = from_meshio(unit_square(h))
    x = g.pos.double().numpy()
    exact = np.minimum.reduce([x[:, 0], 1 - x[:, 0], x[:, 1], 1 - x[:, 1]])
    d = wall_distance(g).double().numpy()
    np.testing.assert_allclose(d, exact, atol=1e-6)
    assert np.all(d[g.boundary.numpy()] == 0.0)


def test_disk_with_holes_converges_to_the_circle_distances() -> None:
    """Exact: the distance to the outer circle and to every hole (polygon error O(h^2))."""
    errs = []
    for h in (0.1, 0.05):
        g = from_meshio(disk_with_holes(h, seed=0, n_holes=2))
        x = g.pos.double().numpy()
        exact = 0.5 - np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5)
        for cx, cy, r in disk_holes(0, 2):
            exact = np.minimum(exact, np.hypot(x[:, 0] - cx, x[:, 1] - cy) - r)
        errs.append(np.abs(wall_distance(g).double().numpy() - exact).max())
    assert errs[1] < 0.01 and errs[1] < errs[0]


def test_3d_uses_nearest_boundary_node_within_half_the_spacing() -> None:
    g = from_meshio(box(0.25))
    x = g.pos.double().numpy()
    exact = np.minimum(x, 1 - x).min(axis=1)
    d = wall_distance(g).double().numpy()
    assert np.all(d >= exact - 1e-9) and np.all(d <= exact + 0.25)


def test_errors_name_what_is_missing() -> None:
    with pytest.raises(GraphError, match="data.boundary"):
        wall_distance(Data(pos=torch.zeros(3, 2)))
    with pytest.raises(GraphError, match="marks none"):
        wall_distance(Data(pos=torch.rand(3, 2), boundary=torch.zeros(3, dtype=torch.bool)))


@pytest.mark.parametrize("geometry", ["plate_with_hole", "disk_with_holes-1", "l_shape"])
def test_a_graph_without_edges_keeps_the_boundary_segments(geometry: str) -> None:
    from gnnops.meshing import make_geometry

    m = make_geometry(geometry, 0.04)
    full, bare = from_meshio(m), from_meshio(m, edges=False)
    assert bare.edge_index.shape == (2, 0) and bare.edge_attr.shape == (0, 3)
    torch.testing.assert_close(bare.node_volume, full.node_volume)
    assert torch.equal(bare.boundary, full.boundary)
    # the polyline distance (curved holes) is the one of the full graph, not node distances
    torch.testing.assert_close(wall_distance(bare), wall_distance(full), rtol=0, atol=0)
    nodes_only = bare.clone()
    del nodes_only.boundary_edge_index
    assert (wall_distance(nodes_only) - wall_distance(full)).abs().max() > 1e-4
