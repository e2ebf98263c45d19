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


# comparator networks sorting 1-4 columns elementwise (no per-row np.sort)
_SORT_NETS = {1: (), 2: ((0, 1),), 3: ((0, 1), (1, 2), (0, 1)),
              4: ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2))}


def _sorted_columns(cols: list[np.ndarray]) -> list[np.ndarray]:
    """Sort each row of the column stack ``cols`` (k arrays [F]) elementwise."""
    net = _SORT_NETS.get(len(cols))
    if net is None:
        srt = np.sort(np.stack(cols, axis=1), axis=1)
        return [np.ascontiguousarray(srt[:, j]) for j in range(srt.shape[1])]
    cols = list(cols)
    for a, b in net:
        cols[a], cols[b] = np.minimum(cols[a], cols[b]), np.maximum(cols[a], cols[b])
    return cols


def _facet_keys(cols: list[np.ndarray], base: int) -> np.ndarray:
    """[F] int64 keys of sorted corner tuples: positional in ``base`` when it fits."""
    if float(base) ** len(cols) >= 2**63 - 1:
        return row_keys(np.stack(cols, axis=1), base)  # lexsort ranks
    key = cols[0].astype(np.int64)
    for c in cols[1:]:
        key *= base
        key += c
    return key


def _lonely_keys(keys: np.ndarray) -> np.ndarray:
    """Sorted keys that occur exactly once in ``keys`` [F].

    A stable sort (timsort in numpy) of the keys alone, no argsort: mesh cells
    are usually stored with locality, so the facet keys come in long runs and
    the sort is close to linear; no index array is carried along.
    """
    srt = np.sort(keys, kind="stable")
    single = np.ones(len(srt), dtype=bool)
    same = srt[1:] == srt[:-1]
    single[1:] &= ~same
    single[:-1] &= ~same
    return srt[single]


def boundary_mask(blocks: Blocks, num_nodes: int) -> np.ndarray:
    """Nodes of facets owned by exactly one top-dimension cell.

    Facets are matched by their sorted corner nodes (padded with ``num_nodes``
    where facets of 3 and 4 corners mix), packed into one int64 key per facet;
    the keys that occur once are found by one sort of the keys. Corner-only
    facets decode their nodes from the lonely keys; facets with mid-nodes look
    their keys up among the (few) lonely keys to mark all their nodes.

    Args:
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.

    Returns:
        [N] bool.
    """
    idx = np.int32 if num_nodes < 2**31 - 1 else np.int64
    groups = [(cells64.astype(idx, copy=False), corners, full)
              for info, cells64 in blocks for corners, full in info.facets]
    mask = np.zeros(num_nodes, dtype=bool)
    if not groups:
        return mask
    width = max(corners.shape[1] for _, corners, _ in groups)
    parts: list[list[np.ndarray]] = [[] for _ in range(width)]
    for cells, corners, _ in groups:  # facet (cell c, local facet j) -> row c * n_f + j
        cols = _sorted_columns([cells[:, corners[:, j]].ravel()
                                for j in range(corners.shape[1])])
        cols += [np.full(len(cols[0]), num_nodes, dtype=idx)] * (width - len(cols))
        for j, c in enumerate(cols):
            parts[j].append(c)
    base = num_nodes + 1
    packed = float(base) ** width < 2**63 - 1
    keys = _facet_keys([np.concatenate(p) for p in parts], base)
    del parts
    lonely = _lonely_keys(keys)
    if packed and all(np.array_equal(c, f) for _, c, f in groups):
        for _ in range(width):  # decode the corners of the lonely facets from their keys
            lonely, node = np.divmod(lonely, base)
            mask[node[node < num_nodes]] = True
        return mask
    start = 0
    for cells, _, full in groups:
        count = len(cells) * len(full)
        k = keys[start:start + count]
        pos = np.minimum(np.searchsorted(lonely, k), max(len(lonely) - 1, 0))
        hit = np.flatnonzero(lonely[pos] == k) if len(lonely) else np.zeros(0, np.int64)
        cell, facet = np.divmod(hit, len(full))
        mask[cells[cell[:, None], full[facet]].ravel()] = True
        start += count
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
