"""Bounded-memory prediction on large graphs: overlapping halo'd partitions, stitched.

Strategy (exact, not an approximation): the nodes are split by recursive coordinate
bisection (RCB) into parts of at most ``max_nodes`` core nodes. Each part's axis-aligned
bounding box is inflated by a geometric halo ``R_a = hops * L_a`` per axis, where
``hops`` is the model's number of message-passing steps on its graph and ``L_a`` the
longest projection on axis ``a`` of an edge of the graph the model runs on (mesh edges,
or the radius of a radius graph). Every node within ``hops`` edges of a core node then
lies inside the inflated box, so the
model's output at the core nodes computed on the part's subgraph equals its output
on the whole graph (up to floating-point summation order). Each part is prepared
(``prepare_graph``), run, and its core rows copied into the result.

Cost: the halo sets are found top-down along the RCB tree (a child's candidates are
its parent's, filtered), and a part's edges / cells through node -> item indices, so
building all parts is ~linear in N (no per-part pass over the whole graph). Peak
memory is ~ (whole raw graph) + (one part's model activations): the activations of at
most ``max_nodes`` (+ halo) nodes instead of N. Models with an unbounded receptive
field (hierarchies, global pooling) report ``hops = None`` and run on the whole graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import ModelError

__all__ = ["receptive_hops", "partition_nodes", "partition_weighted", "Partitioner",
           "max_edge_length", "max_edge_extent", "predict_partitioned"]

# models whose receptive field is `kwargs[key]` message-passing steps on their graph
_HOPS_KEY = {"meshgraphnet": "depth", "gno": "depth"}


def receptive_hops(model: Any) -> int | None:
    """Message-passing steps of ``model`` (``None``: unknown or unbounded)."""
    h = getattr(model, "receptive_hops", None)
    if callable(h):
        h = h()
    if h is not None:
        return int(h)
    key = _HOPS_KEY.get(getattr(model, "name", ""))
    kw = getattr(model, "init_kwargs", {}) or {}
    if key is not None and isinstance(kw.get(key), int):
        return int(kw[key])
    return None


def max_edge_length(data: Data) -> float:
    """Longest edge ``|pos_i - pos_j|`` of ``data`` (0 without edges or positions)."""
    ei, pos = getattr(data, "edge_index", None), getattr(data, "pos", None)
    if ei is None or pos is None or ei.shape[1] == 0:
        return 0.0
    return float((pos[ei[1]] - pos[ei[0]]).double().norm(dim=1).max())


def max_edge_extent(data: Data) -> np.ndarray:
    """Longest edge projection per axis, ``max |pos_i[a] - pos_j[a]|``: [d] (zeros without
    edges). A node ``k`` hops away differs by at most ``k * extent[a]`` along axis ``a``, a
    tighter box than ``k * max_edge_length`` (a square mesh's diagonals: h vs sqrt(2) h)."""
    ei, pos = getattr(data, "edge_index", None), getattr(data, "pos", None)
    if pos is None:
        return np.zeros(0)
    if ei is None or ei.shape[1] == 0:
        return np.zeros(pos.shape[1])
    return (pos[ei[1]] - pos[ei[0]]).double().abs().amax(dim=0).numpy()


def _in_box(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all((p >= lo) & (p <= hi), axis=1)


def _near(pos: np.ndarray, core: np.ndarray, cand: np.ndarray,
          halo: float | np.ndarray) -> np.ndarray:
    """The ids of ``cand`` inside ``core``'s bounding box inflated by ``halo``."""
    p = pos[core]
    return cand[_in_box(pos[cand], p.min(0) - halo, p.max(0) + halo)]


def _longest_axis_order(pos: np.ndarray, core: np.ndarray) -> np.ndarray:
    """``core``'s positions sorted (stably) along its bounding box's longest axis."""
    p = pos[core]
    return np.argsort(p[:, int(np.argmax(p.max(0) - p.min(0)))], kind="stable")


def partition_nodes(pos: np.ndarray, max_nodes: int,
                    halo: float | np.ndarray = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Recursive coordinate bisection into parts of at most ``max_nodes`` core nodes.

    Args:
        pos: [N, d] coordinates.
        max_nodes: core size bound.
        halo: inflation of each part's bounding box (a scalar or one value per axis [d]).

    Returns:
        ``(core, nodes)`` per part: the core node ids (the cores cover 0..N-1 exactly
        once) and the sorted ids of every node in the core's bounding box inflated by
        ``halo`` (a superset of the core).
    """
    parts = []
    todo = [(np.arange(len(pos)), np.arange(len(pos)))]
    while todo:
        core, cand = todo.pop()
        if len(core) <= max_nodes:
            parts.append((core, _near(pos, core, cand, halo)))
            continue
        order = _longest_axis_order(pos, core)
        half = len(core) // 2
        for child in (core[order[:half]], core[order[half:]]):
            todo.append((child, _near(pos, child, cand, halo)))
    return parts


def partition_weighted(pos: np.ndarray, weights: list[float],
                       halo: float | np.ndarray = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weighted recursive coordinate bisection: one part per weight, ``~N w_r / sum(w)`` core
    nodes for part ``r``.

    Each step splits a node set and its parts' list in two halves (the first ``len // 2``
    parts and the rest), cutting the node set along its longest axis at the first half's
    share of the weight (equal weights: the halves of :func:`partition_nodes`).

    Args:
        pos: [N, d] coordinates (N >= number of weights).
        weights: one positive weight per part.
        halo: as in :func:`partition_nodes`.

    Returns:
        ``(core, nodes)`` per part, in the order of ``weights``.
    """
    parts: list[tuple[np.ndarray, np.ndarray]] = [None] * len(weights)  # type: ignore[list-item]
    n = len(pos)
    todo = [(np.arange(n), np.arange(n), list(range(len(weights))))]
    while todo:
        core, cand, ids = todo.pop()
        if len(ids) == 1:
            parts[ids[0]] = (core, _near(pos, core, cand, halo))
            continue
        left, right = ids[:len(ids) // 2], ids[len(ids) // 2:]
        w_left = sum(weights[i] for i in left)
        cut = int(len(core) * w_left / (w_left + sum(weights[i] for i in right)))
        cut = min(max(cut, len(left)), len(core) - len(right))  # every part gets a node
        order = _longest_axis_order(pos, core)
        for child, child_ids in ((core[order[:cut]], left), (core[order[cut:]], right)):
            todo.append((child, _near(pos, child, cand, halo), child_ids))
    return parts


class _ItemIndex:
    """Items (edges, cells) grouped by one node id each: which items does a node set own."""

    def __init__(self, keys: np.ndarray, n: int) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.ptr = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n))])

    def items(self, nodes: np.ndarray) -> np.ndarray:
        starts = self.ptr[nodes]
        counts = self.ptr[nodes + 1] - starts
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return np.sort(self.order[offsets + np.arange(int(counts.sum()))])


class Partitioner:
    """Induced subgraphs of one graph, each in time ~ its own size.

    Args:
        data: the whole raw graph.
    """

    def __init__(self, data: Data) -> None:
        self.data = data
        self.n = int(data.num_nodes)
        ei = data.edge_index.numpy()
        self.dst = ei[1]
        self.edges = _ItemIndex(ei[0], self.n)
        self.cells = None
        ci = getattr(data, "cell_index", None)
        if ci is not None and ci.numel():
            self.cell_nodes = ci.numpy()
            self.cells = _ItemIndex(self.cell_nodes[0], self.n)
        self._mask = np.zeros(self.n, dtype=bool)
        self._new = np.full(self.n, -1, dtype=np.int64)

    def subgraph(self, nodes: np.ndarray) -> Data:
        """The subgraph induced by the sorted node ids ``nodes``, relabelled 0..len-1.

        Node fields are sliced; edge fields keep the edges with both ends inside; the
        ``cell_index`` cells with every node inside. ``mesh_cells`` (mixed cell types) is
        dropped: the partitioned models do not read cells.
        """
        data, n = self.data, self.n
        self._mask[nodes] = True
        self._new[nodes] = np.arange(len(nodes))
        try:
            e = self.edges.items(nodes)
            e = e[self._mask[self.dst[e]]]
            e_t = torch.from_numpy(e)
            idx_t = torch.from_numpy(nodes)
            new_t = torch.from_numpy(self._new)
            num_edges = data.edge_index.shape[1]
            out = Data(num_nodes=len(nodes))
            for key, val in data.items():
                if key in ("num_nodes", "mesh_cells"):
                    continue
                if key == "edge_index":
                    out[key] = new_t[val[:, e_t]]
                elif key == "cell_index":
                    if self.cells is None:
                        out[key] = val
                        continue
                    c = self.cells.items(nodes)
                    c = c[self._mask[self.cell_nodes[:, c]].all(axis=0)]
                    out[key] = new_t[val[:, torch.from_numpy(c)]]
                elif isinstance(val, Tensor) and val.dim() > 0 and val.shape[0] == num_edges \
                        and "edge" in key:
                    out[key] = val[e_t]
                elif isinstance(val, Tensor) and val.dim() > 0 and val.shape[0] == n:
                    out[key] = val[idx_t]
                elif isinstance(val, list) and len(val) == n:
                    out[key] = [val[i] for i in nodes.tolist()]
                else:
                    out[key] = val
        finally:
            self._mask[nodes] = False
            self._new[nodes] = -1
        return out


def predict_partitioned(
    data: Data,
    run: Callable[[Data], tuple[Tensor, Data]],
    *,
    hops: int,
    max_nodes: int,
    edge_length: float,
) -> Tensor:
    """Run ``run`` part by part and stitch the core rows.

    Args:
        data: raw graph with ``pos`` [N, d].
        run: prepares and runs the model on a (sub)graph; returns ``(out [n, F], prepared)``.
        hops: message-passing steps of the model.
        max_nodes: core nodes per part.
        edge_length: assumed longest edge of the prepared graph; enlarged (and the parts
            recomputed) if a prepared part has a longer one.

    Returns:
        [N, F_out] outputs.

    Raises:
        ModelError: the prepared graph's edges keep outgrowing the halo.
    """
    pos = data.pos.double().numpy()
    splitter = Partitioner(data)
    # halo box per axis: hops x the longest edge projection of the graph the model runs
    # on -- the raw edges' projections when the model's graph is the raw one (its longest
    # edge is no longer than the raw graph's), else the given length on every axis
    extent = max_edge_extent(data)
    raw_len = max_edge_length(data)
    bound = extent if edge_length <= raw_len * (1 + 1e-6) else np.full(pos.shape[1],
                                                                        edge_length)
    for _ in range(3):
        radius = hops * bound * (1 + 1e-6) + 1e-12
        out: Tensor | None = None
        longer = bound
        for core, nodes in partition_nodes(pos, max_nodes, radius):
            res, prepared = run(splitter.subgraph(nodes))
            longer = np.maximum(longer, max_edge_extent(prepared))
            if (longer > bound * (1 + 1e-6)).any():
                break
            if out is None:
                out = res.new_empty((int(data.num_nodes), res.shape[1]))
            out[torch.from_numpy(core)] = res[torch.from_numpy(np.searchsorted(nodes, core))]
        else:
            if out is None:
                raise ModelError("partitioned prediction: the graph has no nodes")
            return out
        bound = longer
    raise ModelError("partitioned prediction: the prepared graph's longest edge kept growing "
                     "with the halo; expected a model whose graph has a bounded edge length")
