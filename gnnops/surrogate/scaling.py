"""Exact scaling laws of linear problems, applied around the model.

A problem may declare ``Problem.scaling_laws`` (input name -> exponent ``e_k``) with
``u(s_1 in_1, s_2 in_2, ...) = prod_k s_k^e_k u(in_1, in_2, ...)`` (Darcy:
``{"a": -1, "f": 1}``). With ``model.scaling_law`` the recipe stores the law
(``Recipe.scaling``); :func:`gnnops.surrogate.prepare.prepare_graph` divides each scaled
input of a graph by its volume-weighted mean magnitude ``s_k`` (:func:`input_scales`) and
records the output factor ``prod_k s_k^e_k`` per node as ``data.out_scale``
(:func:`apply_scaling`); :meth:`gnnops.surrogate.surrogate.Surrogate.physical` multiplies it
back. The law then holds exactly, whatever the model, for inputs of any magnitude.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import ConfigError

__all__ = ["input_scales", "apply_scaling"]


def input_scales(data: Data, recipe: Any) -> Tensor:
    """Scales ``[1, K]`` of the ``K`` scaled inputs of ``recipe.scaling`` on one raw graph.

    ``s_k`` is the volume-weighted mean of ``|in_k|`` over the graph's nodes (1 where it
    is 0). Computed once per whole graph (partitioned prediction passes it to the parts as
    ``data.input_scale``, so every part uses the whole graph's scales).
    """
    n = data.num_nodes
    x = data.x.reshape(n, -1).float()
    w = getattr(data, "node_volume", None)
    w = torch.ones(n) if w is None else w.reshape(-1).float()
    out = []
    for name in recipe.scaling:
        lo, hi = _columns(recipe, name)
        m = float((w[:, None] * x[:, lo:hi].abs()).sum() / w.sum().clamp_min(1e-30)
                  / max(hi - lo, 1))
        out.append(m if m > 0 and m == m else 1.0)
    return torch.tensor(out, dtype=torch.float32).reshape(1, -1)


def _columns(recipe: Any, name: str) -> tuple[int, int]:
    if name not in recipe.inputs:
        raise ConfigError(f"scaling law names input {name!r}; the model's inputs are "
                          f"{recipe.inputs}")
    i = recipe.inputs.index(name)
    lo = int(sum(recipe.input_dims[:i]))
    return lo, lo + int(recipe.input_dims[i])


def apply_scaling(x: Tensor, scales: Tensor, recipe: Any) -> tuple[Tensor, Tensor]:
    """Divide the scaled input columns; returns ``(x', out_scale [N, 1])``."""
    x = x.clone()
    factor = 1.0
    for s, (name, e) in zip(scales.tolist(), recipe.scaling.items(), strict=True):
        lo, hi = _columns(recipe, name)
        x[:, lo:hi] /= s
        factor *= s ** float(e)
    return x, torch.full((x.shape[0], 1), factor, dtype=torch.float32)
