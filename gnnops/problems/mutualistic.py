"""Mutualistic interaction dynamics in ecology (NDCN):
``dx_i/dt = b + x_i (1 - x_i/k)(x_i/c - 1) + sum_j A_ij x_i x_j / (d + e x_i + h x_j)``,
defaults ``b = 0.1, k = 5, c = 1, d = 5, e = 0.9, h = 0.1``.

``A_ij`` is the weight of the edge ``j -> i`` (convention of
:mod:`gnnops.problems._graph_ops`); abundances ``x >= 0``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from gnnops.problems._graph_ops import NumpyGraphOp
from gnnops.problems._network import NetworkProblem
from gnnops.problems.base import register

__all__ = ["Mutualistic"]


@register
class Mutualistic(NetworkProblem):
    """Options: ``b=0.1, k=5, c=1, d=5, e=0.9, h=0.1``, solver options.

    Default inputs: recipe ``"uniform"`` on ``[0, 10]``.
    """

    name: ClassVar[str] = "mutualistic"
    defaults: ClassVar[dict[str, float]] = {"b": 0.1, "k": 5.0, "c": 1.0, "d": 5.0,
                                            "e": 0.9, "h": 0.1}
    initial: ClassVar[dict[str, Any]] = {"recipe": "uniform", "low": 0.0, "high": 10.0}

    def rhs(self, x: Any, op: Any, p: dict[str, float]) -> Any:
        """The mutualistic right-hand side for ``x: [N, K]`` (edge terms gathered, summed)."""
        xi, xj = op.at_dst(x), op.at_src(x)
        inter = op.scatter(op.w * xi * xj / (p["d"] + p["e"] * xi + p["h"] * xj))
        return p["b"] + x * (1 - x / p["k"]) * (x / p["c"] - 1) + inter

    def jac(self, x: np.ndarray, op: NumpyGraphOp, p: dict[str, float]) -> sp.spmatrix:
        """Diagonal (logistic-Allee term and ``d/dx_i`` of the edge terms) plus ``d/dx_j``."""
        k, c, d, e, h = p["k"], p["c"], p["d"], p["e"], p["h"]
        xi, xj, w = x[op.dst], x[op.src], op.w[:, 0]
        den2 = (d + e * xi + h * xj) ** 2
        own = -1 + 2 * x / c + 2 * x / k - 3 * x**2 / (k * c)
        diag = own + op.scatter((w * xj * (d + h * xj) / den2)[:, None])[:, 0]
        off = sp.csr_matrix((w * xi * (d + e * xi) / den2, (op.dst, op.src)), shape=op.A.shape)
        return sp.diags(diag) + off
