"""Graph operators of the network problems: adjacency, Laplacian, ``A @ Y`` in numpy and torch.

Adjacency convention (one for networkx and PyG alike): ``A[i, j]`` is the weight
of the edge ``j -> i`` -- node ``i`` *receives* from ``j``. This is the PyG
``source_to_target`` flow of the graph schema (``edge_index[0]`` = source ``j``,
``edge_index[1]`` = target ``i``). A networkx ``DiGraph`` edge ``(u, v)`` gives
``A[v, u]``; an undirected graph gives a symmetric ``A``. Weights come from the
networkx edge attribute ``"weight"`` (default 1), or ``Data.edge_weight``, else a
one-column ``Data.edge_attr``, else ones; duplicate edges add up. The degree is
the weighted in-degree ``D_ii = sum_j A_ij`` and ``L = D - A`` (rows sum to 0).
Nodes are ordered as ``list(G.nodes)`` or as the ``Data`` rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError

__all__ = ["to_numpy", "adjacency", "laplacian", "NumpyGraphOp", "TorchGraphOp"]


def to_numpy(v: Any, dtype: Any = np.float64) -> np.ndarray:
    """A numpy copy of an array-like or a (possibly GPU / grad-tracking) torch tensor."""
    return np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=dtype)


def adjacency(graph: Any) -> sp.csr_matrix:
    """Weighted adjacency ``A: [N, N]`` (csr, float64), ``A[i, j]`` = weight of ``j -> i``.

    Args:
        graph: a networkx (Di)Graph or a PyG ``Data`` with ``edge_index`` [2, E].

    Raises:
        ProblemError: anything else, or non-numeric / non-finite weights.
    """
    import networkx as nx

    if isinstance(graph, nx.Graph):
        try:
            a = nx.to_scipy_sparse_array(graph, nodelist=list(graph.nodes), weight="weight",
                                         dtype=np.float64, format="csr")
        except (TypeError, ValueError) as exc:
            raise ProblemError(f"expected numeric edge attribute 'weight' ({exc})") from exc
        a = sp.csr_matrix(a.T if graph.is_directed() else a)
    elif hasattr(graph, "edge_index"):
        n = int(graph.num_nodes)
        ei = to_numpy(graph.edge_index, np.int64)
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ProblemError(f"expected edge_index of shape [2, E] (got {list(ei.shape)})")
        w = _edge_weight_np(graph, ei.shape[1])
        a = sp.csr_matrix((w, (ei[1], ei[0])), shape=(n, n))
    else:
        raise ProblemError("expected a networkx graph or a torch_geometric Data with edge_index"
                           f" (got {type(graph).__name__})")
    a.sum_duplicates()
    if not np.all(np.isfinite(a.data)):
        raise ProblemError("expected finite edge weights (got NaN/inf)")
    return a


def _edge_weight_np(data: Any, e: int) -> np.ndarray:
    for name in ("edge_weight", "edge_attr"):
        arr = getattr(data, name, None)
        if arr is None:
            continue
        arr = to_numpy(arr)
        if name == "edge_attr" and (arr.ndim != 2 or arr.shape[1] != 1):
            continue  # mesh-style edge features are not weights
        if arr.size != e:
            raise ProblemError(f"expected {name} with {e} entries (got shape {list(arr.shape)})")
        return arr.reshape(-1)
    return np.ones(e)


def laplacian(a: sp.csr_matrix) -> sp.csr_matrix:
    """``L = D - A`` with ``D = diag(A.sum(1))`` (weighted in-degree), csr ``[N, N]``."""
    return sp.csr_matrix(sp.diags(np.asarray(a.sum(axis=1)).ravel()) - a)


class NumpyGraphOp:
    """Graph operations on ``Y: [N, K]`` numpy arrays (scipy sparse)."""

    def __init__(self, a: sp.csr_matrix) -> None:
        self.A = a
        self.n = a.shape[0]
        coo = a.tocoo()
        self.dst, self.src = coo.row, coo.col
        self.w = coo.data[:, None]  # [E, 1]
        self.deg = np.asarray(a.sum(axis=1)).reshape(-1, 1)  # [N, 1]
        self._scatter: sp.csr_matrix | None = None

    def matvec(self, y: np.ndarray) -> np.ndarray:
        return self.A @ y

    def lap(self, y: np.ndarray) -> np.ndarray:
        return self.deg * y - self.A @ y

    def at_src(self, y: np.ndarray) -> np.ndarray:
        return y[self.src]

    def at_dst(self, y: np.ndarray) -> np.ndarray:
        return y[self.dst]

    def scatter(self, vals: np.ndarray) -> np.ndarray:
        """Sum edge values ``[E, K]`` into their target nodes ``[N, K]``."""
        if self._scatter is None:
            e = len(self.dst)
            self._scatter = sp.csr_matrix((np.ones(e), (self.dst, np.arange(e))),
                                          shape=(self.n, e))
        return self._scatter @ vals


class TorchGraphOp:
    """The same operations on torch tensors ``[N, K]`` (differentiable; PyG batches)."""

    def __init__(self, data: Any, dtype: Any) -> None:
        import torch

        self.n = int(data.num_nodes)
        self.src, self.dst = data.edge_index[0], data.edge_index[1]
        e = self.src.numel()
        w = getattr(data, "edge_weight", None)
        if w is None:
            ea = getattr(data, "edge_attr", None)
            w = ea[:, 0] if ea is not None and ea.dim() == 2 and ea.shape[1] == 1 else None
        if w is None:
            w = torch.ones(e, dtype=dtype, device=self.src.device)
        self.w = w.reshape(-1, 1).to(dtype)
        self.deg = self.scatter(self.w)

    def scatter(self, vals: Any) -> Any:
        out = vals.new_zeros((self.n, vals.shape[1]))
        return out.index_add(0, self.dst, vals)

    def matvec(self, y: Any) -> Any:
        return self.scatter(self.w * y[self.src])

    def lap(self, y: Any) -> Any:
        return self.deg * y - self.matvec(y)

    def at_src(self, y: Any) -> Any:
        return y[self.src]

    def at_dst(self, y: Any) -> Any:
        return y[self.dst]
