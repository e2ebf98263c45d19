"""Heat diffusion on a network (NDCN): ``dx/dt = -k L x``, ``L = D - A``.

``A[i, j]`` is the weight of edge ``j -> i`` (see :mod:`gnnops.problems._graph_ops`);
``D`` the weighted in-degree, so constants are steady states and, for an undirected
graph, ``sum_i x_i`` is conserved. Published default ``k = 1`` (Zang & Wang, KDD 2020).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError
from gnnops.problems._graph_ops import NumpyGraphOp, adjacency, laplacian
from gnnops.problems._network import NetworkProblem, resolve_times
from gnnops.problems._network_inputs import ndcn_initial_state
from gnnops.problems.base import register

__all__ = ["NetworkDiffusion", "diffusion_exact", "ndcn_initial_state"]


@register
class NetworkDiffusion(NetworkProblem):
    """``dx/dt = -k L x``. Options: ``k=1`` plus the :class:`NetworkProblem` solver options.

    Default inputs: recipe ``"seeds"`` (10 % of nodes at ``U(0, 25)``, others 0).
    """

    name: ClassVar[str] = "network_diffusion"
    defaults: ClassVar[dict[str, float]] = {"k": 1.0}
    initial: ClassVar[dict[str, Any]] = {"recipe": "seeds", "fraction": 0.1, "low": 0.0,
                                         "high": 25.0}

    def rhs(self, x: Any, op: Any, p: dict[str, float]) -> Any:
        """``-k L x`` for ``x: [N, K]``."""
        return -p["k"] * op.lap(x)

    def jac(self, x: np.ndarray, op: NumpyGraphOp, p: dict[str, float]) -> sp.spmatrix:
        """``-k L`` (constant)."""
        if not hasattr(op, "_neg_kl"):
            op._neg_kl = sp.csr_matrix(-p["k"] * laplacian(op.A))
        return op._neg_kl


def diffusion_exact(graph: Any, *, x0: np.ndarray, times: Any = None, k: float = 1.0,
                    t0: float = 0.0) -> np.ndarray:
    """Exact solution ``x(t) = exp(-k L (t - t0)) x0`` by ``scipy.sparse.linalg.expm_multiply``
    interval by interval (irregular ``times`` allowed).

    Args:
        graph: networkx graph or PyG ``Data``.
        x0: ``[N]`` state at ``t0``.
        times: saved times ``[T]`` (default ``linspace(t0, 5, 101)``).
        k: diffusivity.

    Returns:
        ``[N, T]`` trajectory.
    """
    from scipy.sparse.linalg import expm_multiply

    a = adjacency(graph)
    x = np.asarray(x0, dtype=np.float64).reshape(-1)
    if x.size != a.shape[0]:
        raise ProblemError(f"expected x0 of shape [N] with N = {a.shape[0]} (got {x.size})")
    ts = resolve_times(t0=t0, times=times) if times is not None else resolve_times(t0=t0)
    neg_kl = sp.csc_matrix(-k * laplacian(a))
    out = np.empty((x.size, ts.size))
    prev = t0
    for j, t in enumerate(ts):  # loop over saved times, not nodes
        if t > prev:
            x = expm_multiply(neg_kl * (t - prev), x)
        out[:, j] = x
        prev = t
    return out
