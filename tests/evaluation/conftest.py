"""Fixtures: a hand-made dataset with known errors, and one tiny real train -> report run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Data


def grid_graph(n: int, value: float) -> Data:
    """n x n structured triangle mesh of the unit square; x = y = ``value`` everywhere."""
    t = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(t, t, indexing="xy")
    pos = torch.tensor(np.column_stack([X.ravel(), Y.ravel()]), dtype=torch.float32)
    idx = np.arange(n * n).reshape(n, n)
    v0, v1, v2, v3 = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), \
        idx[1:, :-1].ravel()
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    e = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0).T
    ei = torch.from_numpy(e)
    rel = pos[ei[1]] - pos[ei[0]]
    full = torch.full((n * n, 1), value)
    return Data(pos=pos, edge_index=ei, edge_attr=torch.cat([rel, rel.norm(dim=1, keepdim=True)],
                                                            1),
                x=full.clone(), y=full.clone(), boundary=torch.zeros(n * n, dtype=torch.bool),
                cell_index=torch.from_numpy(tri.T.copy()), cell_type="triangle", num_nodes=n * n)


class HandDataset:
    """Two resolutions (3x3 and 5x5 points) of split 'test'; samples with u = 1 and u = 2."""

    root = Path("hand")
    splits = ["train", "test"]
    resolutions = [0.5, 0.25]
    manifest = {"splits": {"test": {"resolutions": [0, 1]}, "train": {"resolutions": [0]}}}

    def load(self, split, resolution=None, *, inputs=None, targets=None):
        n = (3, 5)[resolution]
        return [grid_graph(n, 1.0), grid_graph(n, 2.0)]


class PlusOffset(nn.Module):
    """Predicts x + 0.1: relative L2 against u = c is exactly 0.1 / c."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.recipe = {"kind": "mesh", "inputs": ["a"], "input_dims": [1], "targets": ["u"],
                       "target_dims": [1], "features": [], "problem": None,
                       "train_stats": {}}

    def forward(self, data: Data) -> torch.Tensor:
        return data.x[:, :1] + 0.1


@pytest.fixture
def hand():
    return SimpleNamespace(dataset=HandDataset(), model=PlusOffset())
