"""Building blocks shared by the models: MLPs and scatter reductions.

Every reduction is a gather / ``index_add_`` over an edge list; no Python loops
over nodes or edges.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnops.models.fused import linear, linear_relu

__all__ = ["MLP", "scatter_sum", "weighted_mean_weights", "edge_geometry"]


class MLP(nn.Sequential):
    """``Linear -> ReLU -> (Linear -> ReLU) * (hidden_layers - 1) -> Linear [-> LayerNorm]``.

    Args:
        in_dim: input width.
        out_dim: output width.
        hidden: hidden width.
        hidden_layers: number of hidden layers (MeshGraphNets uses 2).
        layer_norm: append a LayerNorm on the output (all MGN MLPs but the decoder).

    Linear layers are initialised as in the reference MeshGraphNets code (Sonnet):
    weights ~ truncated normal with std 1/sqrt(fan_in), zero biases. PyTorch's default
    (std 1/sqrt(3 fan_in)) shrinks a perturbation ~5x per 3-layer MLP, so at init a
    signal fades exponentially along long chains of MLPs (deep processors, U-Net paths).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: int,
        *,
        hidden_layers: int = 2,
        layer_norm: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(d, hidden), nn.ReLU(inplace=True)]  # on a fresh tensor
            d = hidden
        layers.append(nn.Linear(d, out_dim))
        if layer_norm:
            layers.append(nn.LayerNorm(out_dim))
        super().__init__(*layers)
        for layer in self:
            if isinstance(layer, nn.Linear):
                std = layer.in_features**-0.5
                nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
                nn.init.zeros_(layer.bias)

    def forward(self, h: Tensor) -> Tensor:
        """``[R, in_dim] -> [R, out_dim]``."""
        return self.tail(h, start=0)

    def tail(self, h: Tensor, start: int = 1) -> Tensor:
        """Apply the layers from index ``start`` on (used after a split first layer).

        A Linear followed by its ReLU runs as one fused kernel where it can
        (:func:`gnnops.models.fused.linear_relu`).
        """
        layers = list(self)
        i = start
        while i < len(layers):
            layer = layers[i]
            if (isinstance(layer, nn.Linear) and i + 1 < len(layers)
                    and isinstance(layers[i + 1], nn.ReLU)):
                h = linear_relu(h, layer.weight, layer.bias)
                i += 2
                continue
            h = linear(h, layer.weight, layer.bias) if isinstance(layer, nn.Linear) else layer(h)
            i += 1
        return h


def scatter_sum(src: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """Sum rows of ``src`` into ``num_nodes`` bins.

    Args:
        src: [E, F] values per edge.
        index: [E] target bin of every row.
        num_nodes: number of bins N.

    Returns:
        [N, F] sums (zero for empty bins).
    """
    out = src.new_zeros((num_nodes,) + tuple(src.shape[1:]))
    return out.index_add_(0, index, src)


def weighted_mean_weights(
    weight: Tensor, src: Tensor, dst: Tensor, num_nodes: int
) -> Tensor:
    """Per-edge coefficients ``w_j / sum_{j' -> i} w_j'`` of a weighted mean.

    Args:
        weight: [N] node weights (e.g. ``node_volume``).
        src: [E] source node j of every edge.
        dst: [E] target node i of every edge.
        num_nodes: N.

    Returns:
        [E] coefficients; the coefficients of the edges into one node sum to 1.
    """
    w = weight[src]
    den = scatter_sum(w, dst, num_nodes)
    return w / den.clamp_min(torch.finfo(w.dtype).tiny)[dst]


def edge_geometry(pos: Tensor, src: Tensor, dst: Tensor, scale: float = 1.0) -> Tensor:
    """Relative displacement ``(pos_i - pos_j) / scale`` and its norm per edge.

    Args:
        pos: [N, d] coordinates.
        src: [E] sources j.
        dst: [E] targets i.
        scale: length unit.

    Returns:
        [E, d + 1].
    """
    rel = (pos[dst] - pos[src]) / scale
    return torch.cat([rel, rel.norm(dim=1, keepdim=True)], dim=1)
