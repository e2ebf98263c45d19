"""Fisher--KPP spreading on a network: ``dx/dt = -rho L x + alpha x (1 - x)``, ``x in [0, 1]``.

The network model of prion-like spreading of misfolded proteins (amyloid-beta, tau) on
the brain connectome (Kuhl lab): diffusion along the edges (``L = D - A``, convention of
:mod:`gnnops.problems._graph_ops`) plus logistic local growth. The interval ``[0, 1]`` is
invariant, so ``x0`` must lie in it.

Defaults ``rho = 0.5``, ``alpha = 2``: a seeded region saturates within ``t ~ 2`` and the
front crosses a 20 x 20 grid (8-neighbour) in about the ``T = 5`` window.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError
from gnnops.problems._graph_ops import NumpyGraphOp, laplacian
from gnnops.problems._network import NetworkProblem
from gnnops.problems.base import register

__all__ = ["FisherKPP"]


@register
class FisherKPP(NetworkProblem):
    """Options: ``rho=0.5`` (spreading rate), ``alpha=2`` (growth rate), solver options.

    Default inputs: recipe ``"region"`` (a seeded ball, ``value ~ U(0.5, 1)``, else 0).
    """

    name: ClassVar[str] = "fisher_kpp"
    defaults: ClassVar[dict[str, float]] = {"rho": 0.5, "alpha": 2.0}
    initial: ClassVar[dict[str, Any]] = {"recipe": "region", "low": 0.5, "high": 1.0}

    def rhs(self, x: Any, op: Any, p: dict[str, float]) -> Any:
        """``-rho L x + alpha x (1 - x)`` for ``x: [N, K]``."""
        return -p["rho"] * op.lap(x) + p["alpha"] * x * (1 - x)

    def jac(self, x: np.ndarray, op: NumpyGraphOp, p: dict[str, float]) -> sp.spmatrix:
        """``-rho L + diag(alpha (1 - 2 x))``."""
        if not hasattr(op, "_neg_rl"):
            op._neg_rl = sp.csr_matrix(-p["rho"] * laplacian(op.A))
        return op._neg_rl + sp.diags(p["alpha"] * (1 - 2 * x))

    def check_state(self, x0: np.ndarray) -> None:
        """Raise unless ``0 <= x0 <= 1``."""
        if x0.size and (x0.min() < 0 or x0.max() > 1):
            raise ProblemError(f"expected x0 in [0, 1] (got range [{x0.min():.4g}, "
                               f"{x0.max():.4g}])")
