"""Vectorized mesh topology: graph edges, boundary nodes, lumped nodal volumes.

Every function takes the top-dimension cell blocks as ``(CellInfo, [C, k]
int64 connectivity)`` pairs and works block by block with numpy; there is no
Python loop over nodes, edges or cells.
"""

from __future__ import annotations

import numpy as np

from gnnops.graphs.cells import CellInfo, cell_measures

__all__ = ["row_keys", "mesh_edges", "boundary_mask", "node_volume"]

Blocks = list[tuple[CellInfo, np.ndarray]]

_INT64_MAX = np.iinfo(np.int64).max


def row_keys(rows: np.ndarray, base: int) -> np.ndarray:
    """One int64 key per row, equal iff the rows are equal.

    Rows of small non-negative integers (< ``base``) are encoded positionally
    when ``base ** k`` fits in int64; otherwise rows get their dense rank from a
    lexicographic sort.

    Args:
        rows: [F, k] non-negative int64.
        base: strict upper bound of the entries.

    Returns:
        [F] int64 keys.
    """
    f, k = rows.shape
    if k == 0 or f == 0:
        return np.zeros(f, dtype=np.int64)
    if float(base) ** k < _INT64_MAX:
        keys = rows[:, 0].astype(np.int64)
        for c in range(1, k):
            keys = keys * base + rows[:, c]
        return keys
    order = np.lexsort(rows.T[::-1])
    srt = rows[order]
    new = np.ones(f, dtype=bool)
    new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    ranks = np.empty(f, dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ranks


def mesh_edges(blocks: Blocks, num_nodes: int) -> np.ndarray:
    """Graph edges of the cells: both directions, deduplicated, no self loops.

    The cell edges go into a sparse CSR pattern (scipy's counting sort by source
    and per-row sort of the few targets: linear in the number of cell edges for
    bounded node degree) instead of a global sort of edge keys.

    Args:
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.

    Returns:
        [2, E] int64, sorted by source then target; row 0 source, row 1 target.
    """
    import scipy.sparse as sp

    idx = np.int32 if num_nodes < 2**31 - 1 else np.int64  # halve the memory traffic
    lo_parts, hi_parts = [], []
    for info, cells in blocks:
        c = cells.astype(idx, copy=False)
        for a, b in info.edges.tolist():  # columns of the local edge table, not cells
            lo_parts.append(np.minimum(c[:, a], c[:, b]))
            hi_parts.append(np.maximum(c[:, a], c[:, b]))
    lo = np.concatenate(lo_parts) if lo_parts else np.zeros(0, dtype=idx)
    hi = np.concatenate(hi_parts) if hi_parts else np.zeros(0, dtype=idx)
    del lo_parts, hi_parts
    degenerate = bool(np.any(lo == hi))
    # unique undirected edges first (one direction: half the entries), then both directions
    und = sp.csr_array((np.ones(len(lo), dtype=np.int8), (lo, hi)), shape=(num_nodes,) * 2)
    del lo, hi
    und.sum_duplicates()
    ulo = np.repeat(np.arange(num_nodes, dtype=idx), np.diff(und.indptr))
    uhi = und.indices.astype(idx, copy=False)
    if degenerate:  # no self loops (cells with a repeated node)
        keep = ulo != uhi
        ulo, uhi = ulo[keep], uhi[keep]
    both = sp.csr_array((np.ones(2 * len(ulo), dtype=np.int8),
                         (np.concatenate([ulo, uhi]), np.concatenate([uhi, ulo]))),
                        shape=(num_nodes,) * 2)
    both.sum_duplicates()  # no duplicates left: this sorts the targets of each source
    out = np.empty((2, both.nnz), dtype=np.int64)
    out[0] = np.repeat(np.arange(num_nodes, dtype=np.int64), np.diff(both.indptr))
    out[1] = both.indices
    return out


def boundary_mask(blocks: Blocks, num_nodes: int) -> np.ndarray:
    """Nodes of facets owned by exactly one top-dimension cell.

    Facets are matched by their sorted corner nodes (padded with ``num_nodes``
    where facets of 3 and 4 corners mix); all nodes of an unmatched facet,
    mid-nodes included, are boundary nodes.

    Args:
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.

    Returns:
        [N] bool.
    """
    groups = []
    idx = np.int32 if num_nodes < 2**31 - 1 else np.int64
    for info, cells64 in blocks:
        cells = cells64.astype(idx, copy=False)
        for corners, full in info.facets:
            c = cells[:, corners].reshape(-1, corners.shape[1])
            same = corners.shape == full.shape and np.array_equal(corners, full)
            groups.append((c, c if same else cells[:, full].reshape(-1, full.shape[1])))
    mask = np.zeros(num_nodes, dtype=bool)
    if not groups:
        return mask
    width = max(c.shape[1] for c, _ in groups)
    padded = []
    for corners, _ in groups:
        srt = np.sort(corners, axis=1)
        if srt.shape[1] < width:
            pad = np.full((len(srt), width - srt.shape[1]), num_nodes, dtype=srt.dtype)
            srt = np.hstack([srt, pad])
        padded.append(srt)
    keys = row_keys(np.concatenate(padded), num_nodes + 1)
    order = np.argsort(keys)
    sk = keys[order]
    single = np.ones(len(sk), dtype=bool)
    same = sk[1:] == sk[:-1]
    single[1:] &= ~same
    single[:-1] &= ~same
    lonely = np.zeros(len(keys), dtype=bool)
    lonely[order[single]] = True
    start = 0
    for _, full in groups:
        sel = lonely[start:start + len(full)]
        mask[full[sel].ravel()] = True
        start += len(full)
    return mask


def node_volume(points: np.ndarray, blocks: Blocks, num_nodes: int) -> np.ndarray:
    """Lumped nodal measure: each cell's measure split equally among its nodes.

    Args:
        points: [N, d] coordinates.
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.

    Returns:
        [N] float64; sums to the mesh's total length / area / volume. Nodes of no
        top-dimension cell get 0.
    """
    vol = np.zeros(num_nodes, dtype=np.float64)
    for info, cells in blocks:
        share = cell_measures(points, cells, info) / cells.shape[1]
        vol += np.bincount(cells.ravel(), weights=np.repeat(share, cells.shape[1]),
                           minlength=num_nodes)
    return vol
