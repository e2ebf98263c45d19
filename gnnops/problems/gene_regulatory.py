"""Gene regulatory dynamics (Michaelis--Menten, NDCN):
``dx_i/dt = -b x_i^f + sum_j A_ij x_j^h / (x_j^h + 1)``, defaults ``b = 1, f = 1, h = 2``.

``A_ij`` is the weight of the regulation ``j -> i`` (convention of
:mod:`gnnops.problems._graph_ops`). States are expression levels, ``x >= 0`` (non-integer
``f`` or ``h`` need it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from gnnops.problems._graph_ops import NumpyGraphOp
from gnnops.problems._network import NetworkProblem
from gnnops.problems.base import register

__all__ = ["GeneRegulatory"]


@register
class GeneRegulatory(NetworkProblem):
    """Options: ``b=1``, ``f=1``, ``h=2``, solver options.

    Default inputs: recipe ``"uniform"`` on ``[0, 25]`` (the NDCN range of values).
    """

    name: ClassVar[str] = "gene_regulatory"
    defaults: ClassVar[dict[str, float]] = {"b": 1.0, "f": 1.0, "h": 2.0}
    initial: ClassVar[dict[str, Any]] = {"recipe": "uniform", "low": 0.0, "high": 25.0}

    def rhs(self, x: Any, op: Any, p: dict[str, float]) -> Any:
        """``-b x^f + A (x^h / (x^h + 1))`` for ``x: [N, K]``."""
        xh = x ** p["h"]
        return -p["b"] * x ** p["f"] + op.matvec(xh / (xh + 1))

    def jac(self, x: np.ndarray, op: NumpyGraphOp, p: dict[str, float]) -> sp.spmatrix:
        """``diag(-b f x^(f-1)) + A diag(h x^(h-1) / (x^h + 1)^2)``."""
        b, f, h = p["b"], p["f"], p["h"]
        dh = h * x ** (h - 1) / (x**h + 1) ** 2
        return sp.diags(-b * f * x ** (f - 1)) + op.A @ sp.diags(dh)
