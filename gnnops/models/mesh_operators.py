"""Geometric operators of a simplicial mesh as graph tensors: P1 Laplacian weights, lumped mass.

For triangles (2-D) and tetrahedra (3-D) with ``data.cell_index`` [d + 1, C]: the P1
stiffness matrix of the unit coefficient ``K_ij = sum_cells |T| grad phi_i . grad phi_j``
(the cotangent Laplacian in 2-D) gives every graph edge ``j -> i`` the weight
``w_ij = max(-K_ij, 0)``, and every node the lumped mass ``m_i = sum_cells |T| / (d + 1)``.
These are pure geometry (no coefficient field, no state); a learned model multiplies them
by learned positive factors, as DiffusionNet (Sharp et al. 2022) does with the cotangent
Laplacian. In ``d`` dimensions ``w`` scales as ``h^(d-2)`` and ``m`` as ``h^d``, so
``m^-1 w`` scales as ``1 / h^2`` under refinement, as a diffusion operator must.

The clamp at 0 (obtuse / non-Delaunay configurations, where ``K_ij > 0``) keeps the learned
operator an M-matrix; well-shaped meshes have no such edges.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = ["simplex_mesh", "p1_operators"]

_SIMPLEX = {"triangle": 2, "tetra": 3}


def simplex_mesh(data: Data) -> bool:
    """Whether ``data`` carries triangles / tetrahedra matching its ``pos`` dimension."""
    cells = getattr(data, "cell_index", None)
    ctype = getattr(data, "cell_type", None)
    pos = getattr(data, "pos", None)
    if cells is None or pos is None or ctype is None or cells.numel() == 0:
        return False
    types = set(ctype) if isinstance(ctype, (list, tuple)) else {ctype}
    if len(types) != 1:
        return False
    dim = _SIMPLEX.get(next(iter(types)))
    return dim is not None and dim == pos.shape[1] and cells.shape[0] == dim + 1


def p1_operators(pos: Tensor, cells: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """P1 Laplacian edge weights and lumped masses (module docstring).

    Args:
        pos: [N, d] node coordinates.
        cells: [d + 1, C] simplices (node indices).
        edge_index: [2, E] graph edges ``src -> dst``.

    Returns:
        ``(w [E], m [N])`` in float64; an edge that is no cell edge gets weight 0.
    """
    n, d = pos.shape
    p = pos.double()[cells.t()]  # [C, d + 1, d]
    jac = p[:, 1:] - p[:, :1]  # [C, d, d], rows = edge vectors from vertex 0
    inv, info = torch.linalg.inv_ex(jac)
    vol = jac.det().abs() / math.factorial(d)
    ok = (info == 0) & (vol > 0)
    vol = torch.where(ok, vol, torch.zeros_like(vol))
    inv = torch.where(ok[:, None, None], inv, torch.zeros_like(inv))
    g = inv.transpose(1, 2)  # [C, d, d]: row k = grad of barycentric coordinate k + 1
    grads = torch.cat([-g.sum(dim=1, keepdim=True), g], dim=1)  # [C, d + 1, d]
    k_loc = vol[:, None, None] * grads @ grads.transpose(1, 2)  # [C, d + 1, d + 1]
    a, b = torch.meshgrid(torch.arange(d + 1), torch.arange(d + 1), indexing="ij")
    off = a != b
    a, b = a[off], b[off]
    rows = cells[a].reshape(-1)  # target i
    cols = cells[b].reshape(-1)  # source j
    vals = k_loc[:, a, b].t().reshape(-1)
    src, dst = edge_index[0], edge_index[1]
    keys = dst.long() * n + src.long()
    order = torch.argsort(keys)
    sorted_keys = keys[order]
    q = rows.long() * n + cols.long()
    pos_in = torch.searchsorted(sorted_keys, q).clamp_max(max(keys.numel() - 1, 0))
    found = sorted_keys[pos_in] == q if keys.numel() else torch.zeros_like(q, dtype=torch.bool)
    k_edge = torch.zeros(keys.numel(), dtype=torch.float64, device=pos.device)
    k_edge.index_add_(0, order[pos_in[found]], vals[found])
    mass = torch.zeros(n, dtype=torch.float64, device=pos.device)
    mass.index_add_(0, cells.reshape(-1), (vol / (d + 1)).repeat(d + 1))
    return (-k_edge).clamp_min(0.0), mass
