"""Vectorized mesh topology: graph edges, boundary nodes, lumped nodal volumes.

Every function takes the top-dimension cell blocks as ``(CellInfo, [C, k]
int64 connectivity)`` pairs and works block by block with numpy; there is no
Python loop over nodes, edges or cells.
"""

from __future__ import annotations

from collections.abc import Iterator

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


def _columns(cells: np.ndarray, dtype: type) -> list[np.ndarray]:
    """The k contiguous columns [C] of ``cells`` [C, k] (1-D gathers beat strided ones)."""
    return [np.ascontiguousarray(cells[:, j], dtype=dtype) for j in range(cells.shape[1])]


_EDGE_BLOCK = 1 << 14  # cells per block when listing cell edges


def _cell_edge_pairs(blocks: Blocks, total: int, idx: type) -> tuple[np.ndarray, np.ndarray]:
    """(low node, high node) of every cell edge: two [total] ``idx`` arrays.

    Blocks of ``_EDGE_BLOCK`` cells, all local edges of a block before the next one:
    neighbouring entries come from neighbouring cells, so the counting sort that
    follows scatters into a few cache-resident rows instead of sweeping all of them.
    """
    lo, hi = np.empty(total, dtype=idx), np.empty(total, dtype=idx)
    start = 0
    for info, cells in blocks:
        pairs = info.edges.tolist()  # columns of the local edge table, not cells
        for c0 in range(0, len(cells), _EDGE_BLOCK):
            cols = _columns(cells[c0:c0 + _EDGE_BLOCK], idx)
            for a, b in pairs:
                stop = start + len(cols[0])
                np.minimum(cols[a], cols[b], out=lo[start:stop])
                np.maximum(cols[a], cols[b], out=hi[start:stop])
                start = stop
    return lo, hi


def mesh_edges(blocks: Blocks, num_nodes: int) -> np.ndarray:
    """Graph edges of the cells: both directions, deduplicated, no self loops.

    Two stable counting sorts (scipy's sparsetools kernels, linear time) order the
    undirected cell edges (low node, high node) by high node, then by low node: per
    low node its high neighbours come sorted, duplicates adjacent, and a diff mask
    deduplicates them (a self loop is the first entry of its node). The transpose of
    that pattern (a third counting sort) lists, per node, the smaller neighbours; a
    linear merge of the two sorted patterns gives row i = smaller then larger
    neighbours. Indices stay int32 (when N and the edge count allow) until the
    int64 result, and the large buffers are reused in place.

    Args:
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.

    Returns:
        [2, E] int64, sorted by source then target; row 0 source, row 1 target.
    """
    n = num_nodes
    total = sum(len(cells) * len(info.edges) for info, cells in blocks)
    if total == 0 or n == 0:
        return np.zeros((2, 0), dtype=np.int64)
    idx = np.int32 if max(n, 2 * total) < 2**31 - 1 else np.int64  # halve the memory traffic
    up_ptr, up = _upper_neighbours(blocks, total, n, idx)
    ptr, both = _all_neighbours(up_ptr, up, n, idx)
    del up_ptr, up
    out = np.zeros((2, len(both)), dtype=np.int64)
    out[1] = both
    del both
    src = np.flatnonzero(np.diff(ptr))  # nodes with edges; row 0 = their ids, run-length
    if len(src):
        out[0, 0] = src[0]
        out[0, ptr[src[1:]]] = np.diff(src)
        np.cumsum(out[0], out=out[0])
    return out


def _upper_neighbours(blocks: Blocks, total: int, n: int,
                      idx: type) -> tuple[np.ndarray, np.ndarray]:
    """Per node its larger neighbours, ascending and unique, as CSR ``(ptr [N+1], col [U])``.

    The first two counting sorts and the deduplication of :func:`mesh_edges`.
    """
    from scipy.sparse import _sparsetools as st  # coo_tocsr, csr_tocsc

    lo, hi = _cell_edge_pairs(blocks, total, idx)
    # all-ones data of the kernels (input and output alike: the same buffer), then
    # the keep mask; one more 0 as a sentinel for reduceat
    flag = np.ones(total + 1, dtype=np.int8)
    flag[total] = 0
    ones = flag[:total]
    ptr, grouped = np.empty(n + 1, dtype=idx), np.empty(total, dtype=idx)
    st.coo_tocsr(n, n, total, hi, lo, ones, ptr, grouped, ones)  # grouped by high node
    del hi
    cp = np.empty(n + 1, dtype=idx)
    col = lo  # reused: per low node its high neighbours, ascending, duplicates adjacent
    st.csr_tocsc(n, n, ptr, grouped, ones, cp, col, ones)
    del grouped, ptr
    keep = flag.view(bool)
    keep[0] = True
    np.not_equal(col[1:], col[:-1], out=keep[1:total])
    count = np.diff(cp)
    rows = np.flatnonzero(count)
    keep[cp[rows]] = True  # first entry of every low node
    keep[cp[rows[col[cp[rows]] == rows]]] = False  # self loops: (i, i) comes first in row i
    ucount = np.add.reduceat(flag, cp[:-1], dtype=idx)  # sums up to the next start
    ucount[count == 0] = 0
    up_ptr = np.zeros(n + 1, dtype=idx)
    np.cumsum(ucount, out=up_ptr[1:])
    return up_ptr, col[keep[:total]]


def _all_neighbours(up_ptr: np.ndarray, up: np.ndarray, n: int,
                    idx: type) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(ptr [N+1], col [2U])`` of the symmetric pattern: row i = its smaller then its
    larger neighbours (the transpose of the upper pattern merged with it)."""
    from scipy.sparse import _sparsetools as st  # csr_tocsc, csr_plus_csr

    u = len(up)
    ones = np.ones(u, dtype=np.int8)
    low_ptr, low, low_x = np.empty(n + 1, dtype=idx), np.empty(u, dtype=idx), np.empty_like(ones)
    st.csr_tocsc(n, n, up_ptr, up, ones, low_ptr, low, low_x)  # per node its low neighbours
    ptr = np.empty(n + 1, dtype=idx)
    both, both_x = np.empty(2 * u, dtype=idx), np.empty(2 * u, dtype=np.int8)
    st.csr_plus_csr(n, n, low_ptr, low, low_x, up_ptr, up, ones, ptr, both, both_x)  # merge
    return ptr, both


# comparator networks sorting 1-4 columns elementwise (no per-row np.sort)
_SORT_NETS = {1: (), 2: ((0, 1),), 3: ((0, 1), (1, 2), (0, 1)),
              4: ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2))}


def _sort_columns_inplace(cols: list[np.ndarray]) -> None:
    """Sort each row of the column stack ``cols`` (k arrays [F]) elementwise, in place.

    Comparator networks for k <= 4 with one scratch column (few large temporaries);
    a row-wise ``np.sort`` beyond.
    """
    net = _SORT_NETS.get(len(cols))
    if net is None:
        srt = np.sort(np.stack(cols, axis=1), axis=1)
        for j, c in enumerate(cols):
            c[:] = srt[:, j]
        return
    if not net:
        return
    tmp = np.empty_like(cols[0])
    for a, b in net:
        np.minimum(cols[a], cols[b], out=tmp)
        np.maximum(cols[a], cols[b], out=cols[b])
        cols[a][:] = tmp


def _facet_keys(cols: list[np.ndarray], base: int) -> np.ndarray:
    """[F] int64 keys of sorted corner tuples: positional in ``base`` when it fits."""
    if float(base) ** len(cols) >= 2**63 - 1:
        return row_keys(np.stack(cols, axis=1), base)  # lexsort ranks
    key = cols[0].astype(np.int64)
    for c in cols[1:]:
        key *= base
        key += c
    return key


def _lonely_keys(keys: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Sorted keys that occur exactly once in ``keys`` [F].

    A stable sort (timsort in numpy) of the keys alone, no argsort: mesh cells
    are usually stored with locality, so the facet keys come in long runs and
    the sort is close to linear; no index array is carried along. ``inplace``
    sorts ``keys`` itself (no copy).
    """
    if inplace:
        keys.sort(kind="stable")
        srt = keys
    else:
        srt = np.sort(keys, kind="stable")
    single = np.ones(len(srt), dtype=bool)
    same = srt[1:] == srt[:-1]
    single[1:] &= ~same
    single[:-1] &= ~same
    return srt[single]


_BLOCK = 1 << 16  # cells per block when building facet keys


def _facet_blocks(groups: list, width: int, num_nodes: int,
                  idx: type) -> Iterator[tuple[slice, list[np.ndarray]]]:
    """Yield ``(rows, sorted corner columns)`` per block of cells and local facet.

    Facet (local facet f, cell c) of a group with C cells is row ``offset + f * C + c``;
    columns beyond a facet's corners hold ``num_nodes``. Blocks of ``_BLOCK`` cells keep
    the temporaries cache-sized.
    """
    offset = 0
    for cells, corners, _ in groups:
        n = len(cells)
        for lo in range(0, n, _BLOCK):
            cc = _columns(cells[lo:lo + _BLOCK], idx)
            for f, facet in enumerate(corners.tolist()):
                cols = [cc[a].copy() for a in facet]
                _sort_columns_inplace(cols)
                cols += [np.full(len(cols[0]), num_nodes, dtype=idx)] * (width - len(facet))
                start = offset + f * n + lo
                yield slice(start, start + len(cols[0])), cols
        offset += n * len(corners)


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
    groups = [(cells, corners, full) for info, cells in blocks for corners, full in info.facets]
    mask = np.zeros(num_nodes, dtype=bool)
    if not groups:
        return mask
    width = max(corners.shape[1] for _, corners, _ in groups)
    total = sum(len(cells) * len(corners) for cells, corners, _ in groups)
    base = num_nodes + 1
    packed = float(base) ** width < 2**63 - 1
    if packed:  # keys built block by block of cells: only the key array is large
        keys = np.empty(total, dtype=np.int64)
        for part, cols in _facet_blocks(groups, width, num_nodes, idx):
            key = keys[part]
            key[:] = cols[0]
            for c in cols[1:]:
                key *= base
                key += c
    else:  # keys = ranks of the corner tuples (lexsort over all facets)
        cols = [np.empty(total, dtype=idx) for _ in range(width)]
        for part, block in _facet_blocks(groups, width, num_nodes, idx):
            for j, c in enumerate(block):
                cols[j][part] = c
        keys = _facet_keys(cols, base)
        del cols
    corners_only = all(np.array_equal(c, f) for _, c, f in groups)
    lonely = _lonely_keys(keys, inplace=packed and corners_only)
    if packed and corners_only:
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
        facet, cell = np.divmod(hit, len(cells))
        mask[cells[cell[:, None], full[facet]].ravel()] = True
        start += count
    return mask


def node_volume(points: np.ndarray, blocks: Blocks, num_nodes: int, *,
                measures: list[np.ndarray] | None = None) -> np.ndarray:
    """Lumped nodal measure: each cell's measure split equally among its nodes.

    Args:
        points: [N, d] coordinates.
        blocks: top-dimension blocks ``(info, cells [C, k])``.
        num_nodes: N.
        measures: the blocks' cell measures ([C] each) when already computed.

    Returns:
        [N] float64; sums to the mesh's total length / area / volume. Nodes of no
        top-dimension cell get 0.
    """
    vol = np.zeros(num_nodes, dtype=np.float64)
    for b, (info, cells) in enumerate(blocks):
        m = measures[b] if measures is not None else cell_measures(points, cells, info)
        k = cells.shape[1]
        share = m / k
        for j in range(k):  # one bincount per local node column: no [C * k] repeat
            vol += np.bincount(cells[:, j], weights=share, minlength=num_nodes)
    return vol
