"""Rigid-motion augmentation: orthogonal, per graph, distances and edge features consistent."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnops.errors import ConfigError
from gnnops.training.augment import check_augmentable, random_orthogonal, rigid_motion


def _graph(n: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    pos = torch.rand(n, 2, generator=g)
    ei = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    rel = pos[ei[1]] - pos[ei[0]]
    return Data(pos=pos, edge_index=ei, edge_attr=torch.cat([rel, rel.norm(dim=1, keepdim=True)],
                                                            1), x=torch.rand(n, 1, generator=g))


def test_random_orthogonal_is_orthogonal_with_both_orientations() -> None:
    q = random_orthogonal(400, 3, torch.Generator().manual_seed(0))
    eye = torch.eye(3).expand(400, 3, 3)
    torch.testing.assert_close(q @ q.transpose(1, 2), eye, atol=1e-5, rtol=0)
    det = torch.linalg.det(q)
    assert 0.35 < float((det > 0).float().mean()) < 0.65  # reflections half the time


def test_motion_keeps_distances_centroid_and_fields_and_moves_edges() -> None:
    b = Batch.from_data_list([_graph(30, 1), _graph(20, 2)])
    m = rigid_motion(b, generator=torch.Generator().manual_seed(3))
    for k in range(2):
        p0, p1 = b.pos[b.batch == k], m.pos[b.batch == k]
        d0, d1 = torch.pdist(p0.double()), torch.pdist(p1.double())
        torch.testing.assert_close(d1, d0, atol=1e-5, rtol=0)
        torch.testing.assert_close(p1.mean(0), p0.mean(0), atol=1e-5, rtol=0)
    assert not torch.allclose(m.pos, b.pos)
    rel = m.pos[m.edge_index[1]] - m.pos[m.edge_index[0]]
    torch.testing.assert_close(m.edge_attr[:, :2], rel, atol=1e-5, rtol=0)
    torch.testing.assert_close(m.edge_attr[:, 2], b.edge_attr[:, 2])
    assert m.x is b.x  # fields stay on their nodes


def test_shift_bounds_translation() -> None:
    b = Batch.from_data_list([_graph(10, 0)])
    m = rigid_motion(b, shift=0.25, generator=torch.Generator().manual_seed(0))
    d = (m.pos.mean(0) - b.pos.mean(0)).abs()
    assert float(d.max()) <= 0.25 + 1e-6 and float(d.max()) > 0


@pytest.mark.parametrize("recipe, match", [
    ({"kind": "network", "inputs": ["x"], "input_dims": [1], "targets": ["u"],
      "target_dims": [1]}, "mesh problem"),
    ({"kind": "mesh", "inputs": ["f"], "input_dims": [1], "targets": ["u"],
      "target_dims": [2]}, "scalar fields"),
    ({"kind": "mesh", "inputs": ["a"], "input_dims": [1], "targets": ["u"],
      "target_dims": [1], "features": ["pos"]}, "pos"),
])
def test_refused_where_a_motion_does_not_map_samples_to_samples(recipe, match) -> None:
    with pytest.raises(ConfigError, match=match):
        check_augmentable(recipe, "x")


def test_darcy_recipe_accepted() -> None:
    check_augmentable({"kind": "mesh", "inputs": ["a", "f"], "input_dims": [1, 1],
                       "targets": ["u"], "target_dims": [1], "features": []}, "darcy")
    with pytest.raises(ConfigError, match="normalize_edges"):
        check_augmentable({"kind": "mesh", "inputs": ["a"], "input_dims": [1],
                           "targets": ["u"], "target_dims": [1]}, "darcy",
                          normalize_edges=True)
