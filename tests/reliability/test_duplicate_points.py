"""Duplicated / coincident mesh points: a mesh whose cells use two copies of the same
point (nodes not merged along a seam) predicts with a ``duplicate_points`` flag giving
the count; the same mesh with its nodes merged has no such flag."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
from reliability_fixtures import field_a, make_artifact, square_mesh

from gnnops.graphs import from_meshio, write_mesh
from gnnops.inference import Predictor


def split_along_seam(mesh: meshio.Mesh) -> meshio.Mesh:
    """The cells right of x = 0.5 use fresh copies of the seam points (same coordinates)."""
    pts = mesh.points
    tri = mesh.cells_dict["triangle"].copy()
    seam = np.flatnonzero(np.isclose(pts[:, 0], 0.5))
    copy_of = dict(zip(seam.tolist(), range(len(pts), len(pts) + len(seam)), strict=True))
    right = pts[tri].mean(axis=1)[:, 0] > 0.5
    tri[right] = np.vectorize(lambda i: copy_of.get(i, i))(tri[right])
    out = meshio.Mesh(np.vstack([pts, pts[seam]]), [("triangle", tri)])
    for k, v in mesh.point_data.items():
        out.point_data[k] = np.concatenate([v, v[seam]])
    return out


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_artifact(make_artifact(tmp_path_factory.mktemp("d") / "model.pt"))


def _codes(flags: list[str]) -> list[str]:
    return [f.split(":", 1)[0] for f in flags]


def test_clean_mesh_has_no_duplicate_flag(predictor) -> None:
    m = square_mesh(9)
    m.point_data["a"] = field_a(m)
    assert "duplicate_points" not in _codes(predictor.predict(m).flags)


def test_duplicated_points_are_flagged_with_their_count(predictor, tmp_path) -> None:
    m = square_mesh(9)
    m.point_data["a"] = field_a(m)
    dup = split_along_seam(m)
    g = from_meshio(dup)
    assert g.num_nodes == 81 + 9  # the graph is cut along the seam ...
    assert g.edge_index.shape[1] < from_meshio(m).edge_index.shape[1] + 2 * 9
    pred = predictor.predict(dup)  # ... and the prediction says so
    flag = next(f for f in pred.flags if f.startswith("duplicate_points:"))
    assert flag.startswith("duplicate_points: 9 mesh points")
    write_mesh(dup, tmp_path / "dup.vtu")  # from a file as well
    assert "duplicate_points" in _codes(predictor.predict(tmp_path / "dup.vtu").flags)
