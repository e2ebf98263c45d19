"""Optional terms of :mod:`gnnops.models.linear_stencil` for weighted networks.

- :func:`edge_weight_base`: the implicit step's base conductance ``W_ij`` = the graph's raw
  ``data.edge_weight`` (``weight_base=True``). Then ``c_ij = w_ij softplus(gamma)`` scales
  exactly with the weight: a weighted Laplacian ``rho dt L_w`` is represented by a constant
  ``softplus(gamma) / m = rho dt``, also for weights above those seen in training (``gamma``
  still sees the edge features, the normalized weight among them, so it need not be
  constant; trained on counts 1-60 it varied 0.055-0.067 over 1-162 on Fisher-KPP).
- :class:`LocalReaction`: a nonlinear per-node term ``R(u_i, h_i) = u_i g(u_i, h_i)``
  (``local_reaction=True``) added to the explicit part ``E(u)``, so the step is
  ``(diag(m + l) + L_c) u_next = m (u + E(u))`` with a learned local reaction flow (e.g.
  the logistic flow of Fisher-KPP over ``dt``, a function of ``x_i`` alone). It is 0 at
  ``u_i = 0`` by construction: with no source (``source_columns: []``) a zero state gets
  exactly a zero increment, as the rollout anchor ``x = 0`` asks. The MLP gives the
  per-capita rate ``g`` (logistic: ``(e - 1)(1 - x) / (1 - x + x e)``, ``e = exp(alpha
  dt)``, nearly linear in ``x``), so the growth rate at ``u -> 0``, which sets the speed
  of a pulled front, is an output of the MLP and not a slope that the few small-``u``
  samples must pin down (measured on Fisher-KPP, 2 hidden layers: a difference form
  ``f(u) - f(0)`` reached 0.59 of the exact rate at 0 and 17 % NL1 on the 1444-node
  Watts-Strogatz test split, ``u g(u)`` 0.89 and 7.4 %).

Both act on the model's normalized state ``u = x / s`` (scaled, not shifted:
:meth:`~gnnops.surrogate.stepping.RolloutSurrogate.wrap`), so ``u = 0`` is ``x = 0``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.mlp import MLP
from gnnops.models.scatter import SortedEdges

__all__ = ["LocalReaction", "edge_weight_base"]


def edge_weight_base(data: Data, edges: SortedEdges, dtype: torch.dtype) -> Tensor | None:
    """Raw edge weights in the sorted edge order [E], or ``None`` without ``edge_weight``.

    Raises:
        ModelError: ``edge_weight`` of the wrong length, not finite or negative (an implicit
            step needs ``W >= 0`` to stay an M-matrix).
    """
    w = getattr(data, "edge_weight", None)
    if w is None:
        return None
    w = w.reshape(-1)
    e = data.edge_index.shape[1]
    if w.shape[0] != e:
        raise ModelError(f"expected data.edge_weight of {e} values, one per edge "
                         f"(got {w.shape[0]})")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ModelError(f"expected finite non-negative edge weights (got range "
                         f"[{float(w.min()):.4g}, {float(w.max()):.4g}])")
    return edges.permute(w.to(dtype))


class LocalReaction(nn.Module):
    """``R(u, h)_o = sum_s u_s g_os([u, h / sqrt(L)])`` [N, F_out], ``g`` an MLP.

    The state columns of ``g``'s first layer has unit-variance weights and the latents enter
    scaled by ``1 / sqrt(L)``: with plain fan-in scaling the (LayerNorm'd, unit-scale)
    latents outweigh the state ~sqrt(L) times, the ReLU kinks of ``g`` in ``u`` sit (or are
    pushed by the first optimizer steps) far outside the state's O(1) range and ``g`` stays
    linear in ``u`` (measured with a difference form ``f(u) - f(0)``: a logistic step
    fitted to 71 % instead of ~1 % in one of three seeds with one hidden layer).

    Args:
        state_dim: state columns S.
        latent: static latent width L (also the hidden width).
        out_channels: F_out.
        hidden_layers: hidden layers of ``g``.
    """

    def __init__(self, state_dim: int, latent: int, out_channels: int,
                 hidden_layers: int) -> None:
        super().__init__()
        self.h_scale = latent ** -0.5
        self.state_dim, self.out_channels = state_dim, out_channels
        self.g = MLP(state_dim + latent, out_channels * state_dim, latent,
                     hidden_layers=hidden_layers, layer_norm=False)
        with torch.no_grad():
            nn.init.normal_(self.g[0].weight[:, :state_dim], std=1.0)
            self.g[-1].weight.mul_(0.1)  # start near R = 0, as the other heads

    def forward(self, u: Tensor, h: Tensor) -> Tensor:
        """Args: ``u`` [N, S] normalized state, ``h`` [N, L] static latents."""
        rate = self.g(torch.cat([u, h * self.h_scale], 1))
        return torch.einsum("ns,nos->no", u, rate.view(-1, self.out_channels, self.state_dim))
