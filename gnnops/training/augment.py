"""Physical-invariance augmentation: random rigid motions of the domain during training.

For an isotropic PDE with scalar fields (Darcy with a scalar coefficient, heat, Poisson)
the solution map commutes with rotations, reflections and translations of the domain:
if ``u`` solves the problem for ``(a, f)`` on ``D``, then ``u(Q^T (x - c))`` solves it for
``a(Q^T (x - c))``, ``f(Q^T (x - c))`` on ``Q D + c``. A graph whose node coordinates are
moved rigidly, with every nodal field left on its node, is therefore another exact training
sample. :func:`rigid_motion` draws one motion per graph of a batch: a uniformly random
orthogonal ``Q`` (rotation by any angle, reflected with probability 1/2) about the graph's
centroid, and a random shift of up to ``shift`` (domain units); the mesh edge features
``[dx, |dx|]`` are rotated with it.

Models that see absolute positions (Fourier features, GNO kernels) learn the invariance
from it; it does not apply to vector-valued fields (elasticity: the displacement would have
to rotate too), which :func:`check_augmentable` refuses.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import ConfigError
from gnnops.surrogate.recipe import Recipe, as_recipe

__all__ = ["random_orthogonal", "rigid_motion", "check_augmentable"]


def random_orthogonal(n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` random orthogonal ``d x d`` matrices ``[n, d, d]`` (Haar: QR of a Gaussian)."""
    g = torch.randn(n, d, d, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q.float()


def rigid_motion(batch: Data, *, shift: float = 0.0,
                 generator: torch.Generator | None = None) -> Data:
    """A shallow copy of ``batch`` with each graph's ``pos`` moved by a random rigid motion.

    Args:
        batch: a PyG batch (or one graph) with ``pos`` [N, d]; ``edge_attr`` [E, d + 1] of
            the form ``[dx, |dx|]`` (mesh edges) is rotated consistently, other edge
            features are left alone (they are invariant: weights, lengths).
        shift: largest translation per axis (uniform in ``[-shift, shift]``).
        generator: optional torch generator (reproducible draws).

    Returns:
        The moved batch; nodal fields (``x``, ``y``, volumes) stay on their nodes.
    """
    pos = batch.pos
    n, d = pos.shape
    b = getattr(batch, "batch", None)
    if b is None:
        b = torch.zeros(n, dtype=torch.long, device=pos.device)
    k = int(b.max()) + 1 if n else 1
    q = random_orthogonal(k, d, generator).to(pos.device, pos.dtype)
    counts = torch.bincount(b, minlength=k).clamp_min(1).to(pos.dtype).unsqueeze(1)
    centre = torch.zeros(k, d, dtype=pos.dtype, device=pos.device).index_add_(0, b, pos) / counts
    move = (torch.rand(k, d, generator=generator) * 2 - 1).to(pos.device, pos.dtype) * shift
    out = copy.copy(batch)
    rel = pos - centre[b]
    out.pos = torch.einsum("nij,nj->ni", q[b], rel) + centre[b] + move[b]
    ea = getattr(batch, "edge_attr", None)
    if ea is not None and ea.dim() == 2 and ea.shape[1] == d + 1:
        src = batch.edge_index[0]
        disp = torch.einsum("eij,ej->ei", q[b[src]].to(ea.dtype), ea[:, :d])
        out.edge_attr = torch.cat([disp, ea[:, d:]], dim=1)
    return out


def check_augmentable(recipe: Recipe | dict[str, Any], problem: str | None, *,
                      normalize_edges: bool = False) -> None:
    """Refuse ``train.augment`` where a rigid motion does not map samples to samples.

    Raises:
        ConfigError: no node coordinates (networks), vector-valued fields, or a recipe
            feature that encodes absolute direction (``pos`` as an input column), or
            standardized edge features (per-axis scales do not commute with rotations).
    """
    if normalize_edges:
        raise ConfigError("train.augment cannot be combined with data.normalize_edges (per-axis "
                          "edge scales do not commute with rotations)")
    recipe = as_recipe(recipe)
    if recipe.kind != "mesh":
        raise ConfigError("train.augment needs a mesh problem (node coordinates); got a "
                          f"{recipe.kind!r} dataset")
    dims = recipe.input_dims + recipe.target_dims
    if any(int(w) != 1 for w in dims):
        raise ConfigError(f"train.augment applies to scalar fields only (a rigid motion would "
                          f"have to rotate vector fields); problem {problem!r} has field "
                          f"widths {dims}")
    if "pos" in recipe.features:
        raise ConfigError("train.augment cannot be combined with data.features: [pos] (the "
                          "normalized coordinate columns are not moved); models that need "
                          "coordinates read data.pos")
