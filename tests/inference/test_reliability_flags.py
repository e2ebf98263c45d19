"""Out-of-distribution and sanity flags (inference/reliability_flags.py), each code
triggered by hand-made graphs against known training ranges."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import torch
from inference_fixtures import square_mesh

from gnnops.graphs import from_meshio
from gnnops.inference.reliability_flags import compute_flags, mean_spacing


def spacing(n: int) -> float:
    """Mean edge length of square_mesh(n): 2 m n sides of 1/m and m^2 diagonals (m = n - 1)."""
    m = n - 1
    return (2 * m * n / m + m * m * 2 ** 0.5 / m) / (2 * m * n + m * m)


H = spacing(3)  # (12 * 1/2 + 4 * sqrt(2)/2) / 16
STATS = {"nodes_min": 9, "nodes_max": 9, "spacing_min": H, "spacing_max": H,
         "input_min": [0.0, -1.0, -1.0], "input_max": [1.0, 1.0, 1.0]}
NAMES, DIMS = ["a", "v"], [1, 2]


def _graph(n: int = 3, size: float = 1.0, x=None):
    data = from_meshio(square_mesh(n, size=size))
    data.x = torch.zeros(data.num_nodes, 3) if x is None else torch.as_tensor(x).float()
    return data


def _flags(data, outputs=None, stats=STATS, **kw):
    return compute_flags(data, outputs, stats, input_names=NAMES, input_dims=DIMS, **kw)


def test_mean_spacing_by_hand():
    data = _graph()
    assert mean_spacing(data) == pytest.approx(H, rel=1e-6)
    del data.edge_attr  # from the positions when the edge lengths are not stored
    assert mean_spacing(data) == pytest.approx(H, rel=1e-6)
    data.edge_index = torch.zeros(2, 0, dtype=torch.long)
    assert mean_spacing(data) is None


def test_in_distribution_has_no_flags():
    assert _flags(_graph(), torch.zeros(9, 1)) == []
    assert compute_flags(_graph(), None, None) == []  # no statistics: nothing checked


def test_node_count_and_spacing():
    big = _graph(7, size=3.0)  # 49 nodes > 4 x 9; spacing 1/2 as in training
    assert _flags(big) == ["too_many_nodes: 49 nodes, more than 4x the largest training "
                           "graph (9)"]
    fine = _graph(5)  # finer spacing (25 nodes < 36: no node flag)
    (flag,) = _flags(fine)
    assert flag == (f"spacing_out_of_range: mean edge length {spacing(5):.4g} outside the "
                    f"training "
                    f"range [{H:.4g}, {H:.4g}]")
    assert _flags(fine, resolution_independent=True) == []
    assert _flags(fine, kind="network") == []  # networks have no spacing check
    few = _graph(2, size=0.5)  # 4 nodes at the training spacing
    few.x = torch.zeros(4, 3)
    assert _flags(few, stats={**STATS, "nodes_min": 20, "spacing_max": 0.6}) == [
        "too_few_nodes: 4 nodes, fewer than 1/4 of the smallest training graph (20)"]


def test_inputs_and_outputs():
    x = np.zeros((9, 3))
    x[0, 2] = 1.5  # v[1] above its range [-1, 1] by more than 1 % of the width
    x[1, 0] = 1.005  # a within the tolerance: 0.01 x width 1
    assert _flags(_graph(x=x)) == [
        "input_out_of_range: 'v[1]' spans [0, 1.5], training range [-1, 1]"]
    x[2, 1] = np.nan
    flags = _flags(_graph(x=x))
    assert flags[0] == "non_finite_input: the inputs contain NaN or inf"
    out = torch.zeros(9, 2)
    out[3, 1] = float("inf")
    out[5, 0] = float("nan")
    assert _flags(_graph(), out) == ["non_finite_output: 2 nodes have NaN or inf predictions"]
    unnamed = compute_flags(_graph(x=np.full((9, 3), 5.0)), None, STATS)
    assert [f.split(" spans")[0] for f in unnamed] == [
        "input_out_of_range: 'x[0]'", "input_out_of_range: 'x[1]'",
        "input_out_of_range: 'x[2]'"]


def test_duplicate_points():
    m = square_mesh(3)
    pts = np.vstack([m.points, m.points[4]])  # a copy of the centre point ...
    tri = m.cells_dict["triangle"].copy()
    tri[tri == 4] = np.where(np.arange(tri.size).reshape(tri.shape)[tri == 4] % 2, 4, 9)
    data = from_meshio(meshio.Mesh(pts, [("triangle", tri)]))  # ... used by half the cells
    data.x = torch.zeros(10, 3)
    flags = _flags(data, stats={})
    assert flags == ["duplicate_points: 1 mesh points used by the cells coincide with another "
                     "used point (nodes not merged: the graph is cut there); merge duplicate "
                     "nodes before predicting"]
    assert _flags(data, stats={}, kind="network") == []
