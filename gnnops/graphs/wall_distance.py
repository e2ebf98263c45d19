"""Distance from every node to the domain boundary ("wall distance").

A resolution-independent geometric field: on a 2-D mesh it is the exact distance to the
boundary polyline (the mesh edges whose two ends are boundary nodes), so the same point
gets the same value on a coarse and a fine mesh of the same domain (up to the boundary's
own discretization). On 3-D meshes, and on graphs without edges between boundary nodes,
it is the distance to the nearest boundary node (exact at boundary nodes, an
overestimate by at most half the boundary spacing elsewhere).

Used as a model input (``data.features: [wall_distance]``: where the walls are, seen from
each node, which a model needs to generalize to new geometries) and by the smooth hard
Dirichlet factor of :mod:`gnnops.surrogate.surrogate` (``u = N(x) tanh(d(x) / l)``).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import GraphError

__all__ = ["wall_distance", "segment_distance"]


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from ``points`` [n, d] to the segments ``a[i]``-``b[i]`` ([n, d] each)."""
    ab = b - a
    t = np.einsum("nd,nd->n", points - a, ab) / np.maximum(np.einsum("nd,nd->n", ab, ab),
                                                            1e-300)
    foot = a + np.clip(t, 0.0, 1.0)[:, None] * ab
    return np.linalg.norm(points - foot, axis=1)


def _segments(data: Data, boundary: np.ndarray) -> np.ndarray:
    """[S, 2] node pairs of the edges with both ends on the boundary (each once)."""
    ei = getattr(data, "edge_index", None)
    if ei is None or ei.numel() == 0:  # a graph built without edges keeps these
        ei = getattr(data, "boundary_edge_index", None)
    if ei is None or ei.numel() == 0:
        return np.zeros((0, 2), dtype=np.int64)
    e = ei.numpy().T
    e = e[boundary[e[:, 0]] & boundary[e[:, 1]]]
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0) if len(e) else e


def wall_distance(data: Data, *, candidates: int = 8, mask: Tensor | None = None) -> Tensor:
    """[N] distance of each node of ``data`` to the boundary (0 on boundary nodes).

    Args:
        data: graph with ``pos`` [N, d] and ``boundary`` [N] bool (and ``edge_index`` for
            the 2-D polyline distance).
        candidates: boundary segments tried per node (those with the nearest midpoints).
        mask: [N] bool: the distance to these nodes (and the mesh edges between them)
            instead of the whole boundary, e.g. a clamped part of it.

    Returns:
        [N] float32 distances in the units of ``pos``.

    Raises:
        GraphError: no ``pos`` or no boundary nodes.
    """
    pos = getattr(data, "pos", None)
    bnd = getattr(data, "boundary", None) if mask is None else mask
    if pos is None or bnd is None:
        raise GraphError("wall distance needs data.pos [N, d] and data.boundary [N] "
                         f"(got pos={'None' if pos is None else list(pos.shape)}, "
                         f"boundary={'None' if bnd is None else list(bnd.shape)})")
    x = pos.detach().double().cpu().numpy()
    b = bnd.detach().cpu().numpy().reshape(-1).astype(bool)
    if not b.any():
        raise GraphError(f"wall distance needs boundary nodes; the "
                         f"{'boundary' if mask is None else 'given'} mask marks none of the "
                         f"{len(b)} nodes")
    d_node = cKDTree(x[b]).query(x, k=1)[0]
    seg = _segments(data, b) if x.shape[1] == 2 else np.zeros((0, 2), dtype=np.int64)
    if len(seg) == 0:
        return torch.from_numpy(d_node.astype(np.float32))
    mid = 0.5 * (x[seg[:, 0]] + x[seg[:, 1]])
    k = min(candidates, len(seg))
    _, near = cKDTree(mid).query(x, k=k)
    near = near.reshape(len(x), k)
    best = d_node.copy()
    for j in range(k):
        s = seg[near[:, j]]
        best = np.minimum(best, segment_distance(x, x[s[:, 0]], x[s[:, 1]]))
    best[b] = 0.0
    return torch.from_numpy(best.astype(np.float32))
