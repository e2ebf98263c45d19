"""Radius graphs on node coordinates (scipy ``cKDTree``; torch-cluster is not needed).

``radius_graph`` connects every pair of nodes of the same graph whose Euclidean
distance is at most ``r``. The result follows the gnnops graph schema: both
directions, sorted by target then source, no duplicates, and no self loops unless
``loop=True``. Row 0 holds the source ``j``, row 1 the target ``i``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from gnnops.errors import GraphError

__all__ = ["radius_graph", "keep_nearest"]


def _pairs_one_graph(pts: np.ndarray, r: float, loop: bool) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (j, i) with ``|pts_i - pts_j| <= r`` of one graph.

    Args:
        pts: [n, d] coordinates.
        r: radius.
        loop: also return the n pairs (i, i).

    Returns:
        ``(src, dst)``, each int64 [m].
    """
    tree = cKDTree(pts)
    pairs = tree.query_pairs(r, output_type="ndarray")  # [P, 2], i < j, each pair once
    pairs = pairs.astype(np.int64, copy=False)
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    if loop:
        ar = np.arange(len(pts), dtype=np.int64)
        src = np.concatenate([src, ar])
        dst = np.concatenate([dst, ar])
    return src, dst


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
    if batch is None:
        src, dst = _pairs_one_graph(p, float(r), loop)
    else:
        if batch.shape != (n,):
            raise GraphError(f"expected batch of shape [{n}] (got {list(batch.shape)})")
        b = batch.detach().cpu().numpy()
        order = np.argsort(b, kind="stable")
        bounds = np.searchsorted(b[order], np.unique(b), side="left").tolist() + [n]
        srcs, dsts = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # one KD-tree per graph
            idx = order[lo:hi]
            s, d = _pairs_one_graph(p[idx], float(r), loop)
            srcs.append(idx[s])
            dsts.append(idx[d])
        src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
        dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    order = np.lexsort((src, dst))
    ei = torch.from_numpy(np.stack([src[order], dst[order]]).astype(np.int64))
    if max_num_neighbors is not None:
        ei = keep_nearest(ei, pos, max_num_neighbors)
    return ei.to(pos.device)
