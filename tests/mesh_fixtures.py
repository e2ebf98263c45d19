"""Shared mesh graphs of the model tests (importable by name from every test folder).

``mesh_data`` was copied in the GNO, MeshGraphNet and MultiScale tests; this is the one
version, its input width and seed parameters cover all three.
"""

from __future__ import annotations

import numpy as np
import torch
from skfem import MeshTri
from torch_geometric.data import Data


def mesh_data(k: int, f_in: int = 2, seed: int = 0) -> Data:
    """Unit-square triangle mesh ``MeshTri().refined(k)`` in the gnnops schema.

    Args:
        k: refinements of skfem's two-triangle unit square (``(2**k + 1)**2`` nodes).
        f_in: input columns of ``x`` (standard normal, seeded).
        seed: seed of ``x``.

    Returns:
        ``Data`` with ``x`` [N, f_in], ``pos`` [N, 2], ``edge_index`` [2, E] (every triangle
        edge both ways), ``edge_attr`` [E, 3] (``pos[dst] - pos[src]`` and its norm) and
        ``node_volume`` [N] (a third of the area of each adjacent triangle).
    """
    m = MeshTri().refined(k)
    p, t = m.p.T, m.t.T
    e = np.unique(np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), 1), axis=0)
    ei = torch.tensor(np.concatenate([e, e[:, ::-1]]).T)
    a, b = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    area = 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    vol = np.zeros(len(p))
    np.add.at(vol, t.ravel(), np.repeat(area / 3, 3))
    pos = torch.tensor(p, dtype=torch.float32)
    rel = pos[ei[1]] - pos[ei[0]]
    g = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(len(p), f_in, generator=g), pos=pos, edge_index=ei,
                edge_attr=torch.cat([rel, rel.norm(dim=1, keepdim=True)], 1),
                node_volume=torch.tensor(vol, dtype=torch.float32))
