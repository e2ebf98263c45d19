"""Radius graphs on node coordinates (scipy ``cKDTree``; torch-cluster is not needed).

``radius_graph`` connects every pair of nodes of the same graph whose Euclidean
distance is at most ``r``. The result follows the gnnops graph schema: both
directions, sorted by target then source, no duplicates, and no self loops unless
``loop=True``. Row 0 holds the source ``j``, row 1 the target ``i``.

How (the edge set is the same as all pairs within ``r``, but no global sort):

- every ball (no cap): ``cKDTree.query_pairs`` lists each unordered pair once; three
  stable counting sorts (scipy's sparsetools kernels, linear time, int32 indices) and
  one linear merge turn them into per-target rows with ascending sources -- the
  symmetric CSR pattern, which is the required edge order (a ``np.lexsort`` of the
  ~0.16 N^2 directed edges of a radius-0.25 ball on the unit square cost most of the time);
- ``max_num_neighbors=k``: a bounded query ``cKDTree.query(k=K, distance_upper_bound=r)``
  per block of targets (K = k + 2, doubled for the rows whose K-th neighbour ties with
  the k-th), so a ball is never listed in full;
- :func:`ball_chunks`: the balls of spatially compact blocks of targets, one block at a
  time (bounded memory for models that integrate over large balls).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from gnnops.errors import GraphError

__all__ = ["radius_graph", "keep_nearest", "ball_chunks", "target_blocks", "block_ball"]

_ROWS = 65_536  # targets per bounded query (the [rows, K] arrays stay small)


def _pairs_one_graph(pts: np.ndarray, r: float, loop: bool) -> np.ndarray:
    """Every ordered pair (j, i) with ``|pts_i - pts_j| <= r`` of one graph, CSR order.

    Args:
        pts: [n, d] coordinates.
        r: radius.
        loop: also return the n pairs (i, i).

    Returns:
        int64 [2, m]: row 0 ``src``, row 1 ``dst``, sorted by ``dst`` then ``src``.
    """
    from scipy.sparse import _sparsetools as st  # coo_tocsr, csr_tocsc, csr_plus_csr

    n = len(pts)
    pairs = cKDTree(pts).query_pairs(r, output_type="ndarray")  # [P, 2], i < j
    p = len(pairs) + (n if loop else 0)
    idx = np.int32 if max(n, 2 * p) < 2**31 - 1 else np.int64
    lo, hi = np.empty(p, dtype=idx), np.empty(p, dtype=idx)
    lo[:len(pairs)], hi[:len(pairs)] = pairs[:, 0], pairs[:, 1]
    del pairs
    if loop:  # (i, i) in both triangles; the merge below adds the two copies into one
        lo[p - n:] = hi[p - n:] = np.arange(n, dtype=idx)
    ones = np.ones(p, dtype=np.int8)
    ptr, col = np.empty(n + 1, dtype=idx), np.empty(p, dtype=idx)
    st.coo_tocsr(n, n, p, lo, hi, ones, ptr, col, ones)  # rows lo (columns unsorted)
    low_ptr, low = np.empty(n + 1, dtype=idx), lo  # reuse: per high node its lows, sorted
    st.csr_tocsc(n, n, ptr, col, ones, low_ptr, low, ones)
    up_ptr, up = ptr, hi  # reuse: per low node its highs, sorted
    st.csr_tocsc(n, n, low_ptr, low, ones, up_ptr, up, ones)
    del col
    b_ptr = np.empty(n + 1, dtype=idx)
    both = np.empty(2 * p, dtype=idx)
    both_x = np.empty(2 * p, dtype=np.int8)
    st.csr_plus_csr(n, n, low_ptr, low, ones, up_ptr, up, ones, b_ptr, both, both_x)
    del low, up, ones, both_x
    m = int(b_ptr[n])
    out = np.empty((2, m), dtype=np.int64)
    out[0] = both[:m]
    del both
    out[1] = np.repeat(np.arange(n, dtype=idx), np.diff(b_ptr))
    return out


def _nearest_one_graph(pts: np.ndarray, r: float, k: int, loop: bool) -> np.ndarray:
    """Per target its ``k`` nearest sources within ``r`` (bounded KD-tree queries).

    The same set as :func:`keep_nearest` of all pairs: members are the pairs with
    ``|pts_i - pts_j| <= r`` (squared distances in float64), ranked by
    ``np.linalg.norm(pts_i - pts_j)`` then by source index.

    Returns:
        int64 [2, m] (source, target), sorted by target, then distance, then source.
    """
    n = len(pts)
    tree = cKDTree(pts)
    bound = r * (1 + 1e-9) + 1e-300  # a superset; the exact test follows
    srcs, dsts = [], []
    for lo in range(0, n, _ROWS):
        rows = np.arange(lo, min(n, lo + _ROWS))
        kq = min(n, k + 2)
        while len(rows):
            d_kd, j = tree.query(pts[rows], k=kq, distance_upper_bound=bound)
            d_kd, j = d_kd.reshape(len(rows), kq), j.reshape(len(rows), kq)
            jj = np.minimum(j, n - 1)
            diff = pts[rows][:, None, :] - pts[jj]
            inside = (j < n) & (np.sum(diff * diff, axis=2) <= r * r)
            if not loop:
                inside &= jj != rows[:, None]
            dist = np.where(inside, np.linalg.norm(diff, axis=2), np.inf)
            order = np.lexsort((np.where(inside, jj, n), dist), axis=-1)[:, :k]
            src = np.take_along_axis(jj, order, axis=1)
            kept = np.take_along_axis(dist, order, axis=1)
            # complete: the whole ball came back, or the last neighbour returned is farther
            # than the k-th kept one (a tie at the cut would need more candidates)
            last = np.isfinite(d_kd[:, -1])
            kth = kept[:, -1]
            done = ~last | (kq >= n) | (d_kd[:, -1] > kth * (1 + 1e-9) + 1e-300)
            ok = np.isfinite(kept) & done[:, None]
            srcs.append(src[ok])
            dsts.append(np.broadcast_to(rows[:, None], ok.shape)[ok])
            rows, kq = rows[~done], min(n, 2 * kq)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    order = np.argsort(dst, kind="stable")  # rows were finished out of order after a retry
    return np.stack([src[order], dst[order]]).astype(np.int64)


def keep_nearest(
    edge_index: Tensor, pos: Tensor, max_num_neighbors: int
) -> Tensor:
    """Keep, for every target node, its ``max_num_neighbors`` nearest sources.

    Deterministic: ties in distance are broken by source index.

    Args:
        edge_index: [2, E] (row 0 source, row 1 target).
        pos: [N, d] coordinates.
        max_num_neighbors: neighbours kept per target (>= 1).

    Returns:
        [2, E'] sorted by target, then distance, then source.
    """
    src, dst = edge_index[0].numpy(), edge_index[1].numpy()
    p = pos.detach().cpu().numpy().astype(np.float64)
    dist = np.linalg.norm(p[dst] - p[src], axis=1)
    order = np.lexsort((src, dist, dst))
    src, dst = src[order], dst[order]
    # rank of every edge inside its target's group
    start = np.searchsorted(dst, dst, side="left")
    rank = np.arange(len(dst)) - start
    keep = rank < max_num_neighbors
    return torch.from_numpy(np.stack([src[keep], dst[keep]]))


def _graph_ranges(batch: Tensor | None, n: int) -> list[np.ndarray]:
    """Node ids of every graph of a batch (one range without a batch vector)."""
    if batch is None:
        return [np.arange(n)]
    if batch.shape != (n,):
        raise GraphError(f"expected batch of shape [{n}] (got {list(batch.shape)})")
    b = batch.detach().cpu().numpy()
    order = np.argsort(b, kind="stable")
    bounds = np.searchsorted(b[order], np.unique(b), side="left").tolist() + [n]
    return [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def radius_graph(
    pos: Tensor,
    r: float,
    *,
    batch: Tensor | None = None,
    max_num_neighbors: int | None = None,
    loop: bool = False,
) -> Tensor:
    """Edges between all nodes closer than ``r`` (within the same graph of a batch).

    Args:
        pos: [N, d] node coordinates.
        r: radius in the units of ``pos`` (pairs at distance exactly ``r`` are kept).
        batch: [N] graph id of every node (sorted or not); ``None`` = one graph.
        max_num_neighbors: if given, every target keeps only its nearest
            ``max_num_neighbors`` sources (deterministic; ties broken by index).
        loop: add the self loops (i, i).

    Returns:
        edge_index long [2, E]: row 0 source j, row 1 target i; both directions;
        sorted by target, then source (then by distance if ``max_num_neighbors``).

    Raises:
        GraphError: ``pos`` is not [N, d], ``r`` is not positive, ``batch`` has the
            wrong length or ``max_num_neighbors`` < 1.
    """
    if pos.dim() != 2:
        raise GraphError(f"expected pos of shape [N, d] (got {list(pos.shape)})")
    if not r > 0:
        raise GraphError(f"expected a positive radius r (got {r})")
    if max_num_neighbors is not None and max_num_neighbors < 1:
        raise GraphError(f"expected max_num_neighbors >= 1 or None (got {max_num_neighbors})")
    n = pos.shape[0]
    p = pos.detach().cpu().numpy().astype(np.float64)
    ranges = _graph_ranges(batch, n)
    parts = []
    for idx in ranges:  # one KD-tree per graph
        if len(idx) == 0:
            continue
        if max_num_neighbors is None:
            ei = _pairs_one_graph(p[idx], float(r), loop)
        else:
            ei = _nearest_one_graph(p[idx], float(r), int(max_num_neighbors), loop)
        parts.append(ei if len(ranges) == 1 else idx[ei])
    if len(parts) == 1:
        return torch.from_numpy(parts[0]).to(pos.device)
    ei = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.int64)
    if bool(np.any(ei[1, 1:] < ei[1, :-1])):  # graphs interleaved in `batch`
        ei = ei[:, np.argsort(ei[1], kind="stable")]  # keeps each row's own order
    return torch.from_numpy(ei).to(pos.device)


def _compact_blocks(pts: np.ndarray, ids: np.ndarray, size: int) -> list[np.ndarray]:
    """Recursive coordinate bisection of ``ids`` into sorted blocks of <= ``size`` nodes."""
    out, todo = [], [ids]
    while todo:
        cur = todo.pop()
        if len(cur) <= size:
            out.append(np.sort(cur))
            continue
        p = pts[cur]
        axis = int(np.argmax(p.max(0) - p.min(0)))
        order = np.argsort(p[:, axis], kind="stable")
        half = len(cur) // 2
        todo += [cur[order[half:]], cur[order[:half]]]
    return out


def target_blocks(tree: cKDTree, r: float, *, max_edges: int,
                  ids: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
    """Spatially compact blocks of targets whose balls hold about ``max_edges`` edges each.

    Args:
        tree: ``cKDTree`` of the graph's coordinates (``tree.data`` [n, d]).
        r: radius.
        max_edges: edges per block, estimated from the mean ball size (a block holds at
            least one target).
        ids: the targets (default all nodes).

    Returns:
        ``(blocks, edges)``: sorted target ids per block (recursive coordinate bisection;
        they cover ``ids`` once) and the total number of edges, self loops included.
    """
    pos = tree.data
    ids = np.arange(len(pos)) if ids is None else np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return [], 0
    counts = tree.query_ball_point(pos[ids], r, return_length=True)
    total = int(np.sum(counts))
    per_block = max(1, int(max_edges * len(ids) // max(total, 1)))
    return _compact_blocks(pos, ids, per_block), total


def block_ball(tree: cKDTree, targets: np.ndarray, r: float, *, loop: bool = True,
               distances: bool = False) -> tuple[np.ndarray, ...]:
    """The ball edges (j -> i) of the sorted ``targets``: every j with ``|x_i - x_j| <= r``.

    The sources are found among the nodes of the targets' bounding box inflated by ``r``
    and kept by the rule of :func:`radius_graph` without a cap (squared distance in
    float64 ``<= r^2``).

    Returns:
        ``(src, loc)`` int64 [m]: source node ids and the index into ``targets`` of each
        edge's target; sorted by target, then source. With ``distances``, also the float64
        distances ``|x_i - x_j|`` [m].
    """
    pos = tree.data
    t = pos[targets]
    lo, hi = t.min(0), t.max(0)
    centre, half = (lo + hi) / 2, float(np.linalg.norm(hi - lo)) / 2
    cand = np.sort(np.asarray(tree.query_ball_point(centre, half + r * (1 + 1e-9)),
                              dtype=np.int64))
    c = pos[cand]
    d2 = np.zeros((len(targets), len(cand)))
    for a in range(pos.shape[1]):
        diff = t[:, a, None] - c[None, :, a]
        d2 += diff * diff
    inside = d2 <= r * r
    if not loop:
        inside &= targets[:, None] != cand[None, :]
    loc, ci = np.nonzero(inside)
    if distances:
        return cand[ci], loc, np.sqrt(d2[loc, ci])
    return cand[ci], loc


def ball_chunks(
    pos: np.ndarray, r: float, *, max_edges: int, loop: bool = True,
    ids: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The radius graph one block of targets at a time (bounded memory).

    Args:
        pos: [n, d] float64 coordinates of ONE graph.
        r: radius.
        max_edges: edges per block (see :func:`target_blocks`).
        loop: include (i, i).
        ids: node ids to use as targets (default all).

    Yields:
        ``(targets [c], src [m], dst [m])``: ``targets`` sorted; the block's edges sorted
        by target, then source; ``dst`` holds node ids (members of ``targets``).
    """
    tree = cKDTree(np.asarray(pos, dtype=np.float64))
    blocks, _ = target_blocks(tree, r, max_edges=max_edges, ids=ids)
    for blk in blocks:
        src, loc = block_ball(tree, blk, r, loop=loop)
        yield blk, src, blk[loc]
