"""Helpers of the training tests: a tiny model and random triangle graphs.

Kept independent of ``gnnops.data`` / the real models so the trainer is tested alone.
Also imported by the DDP worker script (by file path).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data


class ToyGNN(nn.Module):
    """``out = W2 relu(W1 [x, mean_{j->i} x_j] + b)``: no batch-dependent layers, no dropout."""

    name = "toy"

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int = 0,
                 pos_dim: int = 0, *, hidden: int = 16) -> None:
        super().__init__()
        self._cfg = dict(in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
                         pos_dim=pos_dim, hidden=hidden)
        self.lin1 = nn.Linear(2 * in_channels, hidden)
        self.lin2 = nn.Linear(hidden, out_channels)

    def config(self) -> dict:
        return dict(self._cfg)

    def forward(self, data: Data) -> torch.Tensor:
        x = data.x
        src, dst = data.edge_index
        agg = torch.zeros_like(x).index_add_(0, dst, x[src])
        deg = torch.bincount(dst, minlength=x.shape[0]).clamp_min(1).unsqueeze(1).to(x.dtype)
        return self.lin2(torch.relu(self.lin1(torch.cat([x, agg / deg], dim=1))))


def triangle_graph(n_side: int, rng: np.random.Generator, *, jitter: float = 0.2) -> Data:
    """A jittered structured triangle mesh of the unit square with a random input field.

    ``x`` [N, 1] = a random smooth field a(x, y); ``y`` [N, 1] = a + neighbour mean of a
    + 0.5 * x-coordinate (learnable by ToyGNN given the "pos" feature).
    """
    t = np.linspace(0.0, 1.0, n_side)
    X, Y = np.meshgrid(t, t, indexing="ij")
    pos = np.stack([X.ravel(), Y.ravel()], 1)
    h = 1.0 / (n_side - 1)
    inner = (pos > 0) & (pos < 1)
    pos = pos + inner * rng.uniform(-jitter * h, jitter * h, pos.shape)
    idx = np.arange(n_side * n_side).reshape(n_side, n_side)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[:-1, 1:].ravel(), idx[1:, 1:].ravel()
    tri = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    e = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0).T
    k = rng.normal(size=4)
    field = (k[0] * np.sin(np.pi * pos[:, 0]) + k[1] * np.cos(np.pi * pos[:, 1])
             + k[2] * pos[:, 0] * pos[:, 1] + k[3])
    ei = torch.from_numpy(e).long()
    p = torch.from_numpy(pos).float()
    xa = torch.from_numpy(field).float().unsqueeze(1)
    agg = torch.zeros_like(xa).index_add_(0, ei[1], xa[ei[0]])
    deg = torch.bincount(ei[1], minlength=xa.shape[0]).unsqueeze(1).float()
    y = xa + agg / deg + 0.5 * p[:, :1]
    rel = p[ei[1]] - p[ei[0]]
    boundary = ((pos <= 0) | (pos >= 1)).any(1)
    return Data(x=xa, y=y, pos=p, edge_index=ei,
                edge_attr=torch.cat([rel, rel.norm(dim=1, keepdim=True)], 1),
                boundary=torch.from_numpy(boundary), node_type=torch.from_numpy(boundary).long(),
                cell_index=torch.from_numpy(tri.T.copy()).long(), cell_type="triangle")


def make_graphs(n: int, seed: int, sides: tuple[int, ...] = (5, 6)) -> list[Data]:
    """``n`` random graphs, alternating between the given grid sizes."""
    rng = np.random.default_rng(seed)
    return [triangle_graph(sides[i % len(sides)], rng) for i in range(n)]
