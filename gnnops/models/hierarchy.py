"""Physical-unit node hierarchies for the multiscale model (numpy + scipy, per graph).

Level 0 is the mesh. Level l >= 1 keeps, from level l-1, the node nearest to the centre
of every occupied voxel of a grid of cell size ``h_l = base_cell * 2**(l-1) * L``, where
L is the longest side of the graph's bounding box. Cell sizes are therefore PHYSICAL
(relative to the domain), not fractions of the node count: a mesh and its refinement
get about the same coarse levels. Levels are nested subsets of the mesh nodes, so every
level and every edge between levels is stored with mesh-node ids, and PyG batching
offsets all of them correctly by ``num_nodes`` (attribute names contain ``index``):

- ``ms{l}_node_index`` [n_l]: the mesh ids of the level-l nodes;
- ``ms{l}_edge_index`` [2, E_l]: both-direction pairs of level-l nodes closer than
  ``radius_factor * h_l`` (row 0 source, row 1 target);
- ``ms{l}_edge_attr`` [E_l, d+1]: ``(pos_i - pos_j) / h_l`` and its norm;
- ``ms{l}_cross_index`` [2, C_l]: (level-(l-1) node, one of its ``k_up`` nearest level-l
  nodes) pairs; ``ms{l}_cross_weight`` [C_l]: inverse-distance interpolation weights
  (summing to 1 over each fine node); ``ms{l}_cross_attr`` [C_l, d+1]:
  ``(pos_coarse - pos_fine) / h_l`` and its norm.

Every coarse node is also a fine node at distance 0 from itself, so it receives at least
one pooled message.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["voxel_subsample", "build_hierarchy", "hierarchy_keys"]

_EPS = 0.05  # inverse-distance regulariser, in units of the coarse cell size


def hierarchy_keys(levels: int) -> list[str]:
    """Names of the attributes :func:`build_hierarchy` returns."""
    keys = []
    for lvl in range(1, levels + 1):
        keys += [f"ms{lvl}_{s}" for s in ("node_index", "edge_index", "edge_attr",
                                           "cross_index", "cross_weight", "cross_attr")]
    return keys


def voxel_subsample(pos: np.ndarray, cell: float, origin: np.ndarray, extent: np.ndarray
                    ) -> np.ndarray:
    """One node per occupied voxel: the one nearest the voxel centre (ties: lowest id).

    Args:
        pos: [n, d] coordinates.
        cell: voxel side h.
        origin: [d] lower corner of the grid.
        extent: [d] size of the box covered by the grid.

    Returns:
        int64 [m] sorted indices into ``pos`` of the kept nodes.
    """
    n_cells = np.maximum(np.ceil(extent / cell - 1e-9).astype(np.int64), 1)
    idx = np.clip(np.floor((pos - origin) / cell).astype(np.int64), 0, n_cells - 1)
    key = np.ravel_multi_index(idx.T, n_cells)
    dist = np.linalg.norm(pos - (origin + (idx + 0.5) * cell), axis=1)
    order = np.lexsort((np.arange(len(pos)), dist, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return np.sort(order[first])


def _geometry(pos: np.ndarray, src: np.ndarray, dst: np.ndarray, h: float) -> np.ndarray:
    rel = (pos[dst] - pos[src]) / h
    return np.concatenate([rel, np.linalg.norm(rel, axis=1, keepdims=True)], axis=1)


def build_hierarchy(
    pos: np.ndarray,
    *,
    levels: int,
    base_cell: float,
    radius_factor: float,
    k_up: int,
) -> dict[str, np.ndarray]:
    """Coarse levels, their radius edges and the edges between levels of ONE graph.

    Args:
        pos: [n, d] node coordinates.
        levels: number of coarse levels (>= 1).
        base_cell: level-1 cell size as a fraction of the bounding box's longest side.
        radius_factor: within-level edge radius in cells.
        k_up: coarse neighbours of every fine node.

    Returns:
        Arrays keyed as in :func:`hierarchy_keys` (ids are local to this graph).
    """
    pos = np.asarray(pos, dtype=np.float64)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    extent = hi - lo
    side = float(extent.max()) if extent.max() > 0 else 1.0
    out: dict[str, np.ndarray] = {}
    fine = np.arange(len(pos), dtype=np.int64)
    for lvl in range(1, levels + 1):
        h = base_cell * 2.0 ** (lvl - 1) * side
        coarse = fine[voxel_subsample(pos[fine], h, lo, np.maximum(extent, h))]
        pc = pos[coarse]
        pairs = cKDTree(pc).query_pairs(radius_factor * h, output_type="ndarray")
        pairs = pairs.astype(np.int64).reshape(-1, 2)
        s = coarse[np.concatenate([pairs[:, 0], pairs[:, 1]])]
        t = coarse[np.concatenate([pairs[:, 1], pairs[:, 0]])]
        order = np.lexsort((s, t))
        s, t = s[order], t[order]
        k = min(k_up, len(coarse))
        dist, nn = cKDTree(pc).query(pos[fine], k=k)
        dist, nn = dist.reshape(len(fine), k), nn.reshape(len(fine), k)
        w = 1.0 / (dist / h + _EPS)
        w /= w.sum(axis=1, keepdims=True)
        cf = np.repeat(fine, k)
        cc = coarse[nn.reshape(-1)]
        out[f"ms{lvl}_node_index"] = coarse
        out[f"ms{lvl}_edge_index"] = np.stack([s, t])
        out[f"ms{lvl}_edge_attr"] = _geometry(pos, s, t, h).astype(np.float32)
        out[f"ms{lvl}_cross_index"] = np.stack([cf, cc])
        out[f"ms{lvl}_cross_weight"] = w.reshape(-1).astype(np.float32)
        out[f"ms{lvl}_cross_attr"] = _geometry(pos, cf, cc, h).astype(np.float32)
        fine = coarse
    return out
