"""Differentiable solve of a graph M-matrix system ``A x = b`` (sparse LU, float64).

``A = diag(d) + L_c`` where ``(L_c x)_i = sum_{e: j -> i} c_e (x_i - x_j)`` over the edges
into node ``i``: with ``d > 0`` and ``c >= 0`` every row is strictly diagonally dominant
with non-positive off-diagonals (a nonsingular M-matrix, ``A^-1 >= 0`` entrywise), so the
solve always exists and ``||A^-1 diag(d) b||_inf <= ||b||_inf`` (discrete maximum
principle). Used by :mod:`gnnops.models.linear_stencil` for its implicit step.

Gradients (adjoint method, one transposed solve with the same factorization)::

    lam = A^-T g,   db = lam,   dd_i = -sum_f lam_if x_if,
    dc_e = -sum_f lam_(dst e) f (x_(dst e) f - x_(src e) f)

The LU factorization is SciPy's ``splu`` on the CPU; tensors on another device are moved
for the solve and back. Without autograd, the last factorization is reused while ``d`` and
``c`` are unchanged (an autoregressive rollout solves with the same matrix every step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["mmatrix_solve", "assemble"]

_CACHE: dict[str, Any] = {}


def assemble(d: Tensor, c: Tensor, src: Tensor, dst: Tensor) -> Any:
    """``A = diag(d) + L_c`` as a SciPy CSC matrix (float64).

    Args:
        d: [N] diagonal (> 0).
        c: [E] edge conductances (>= 0), edge ``e`` couples target ``dst[e]`` to ``src[e]``.
        src, dst: [E] edge endpoints.
    """
    import scipy.sparse as sp

    n = d.shape[0]
    dn = d.detach().cpu().double().numpy()
    cn = c.detach().cpu().double().numpy()
    s, t = src.cpu().numpy(), dst.cpu().numpy()
    diag = dn + np.bincount(t, weights=cn, minlength=n)
    rows = np.concatenate([np.arange(n), t])
    cols = np.concatenate([np.arange(n), s])
    vals = np.concatenate([diag, -cn])
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))


def _factor(d: Tensor, c: Tensor, src: Tensor, dst: Tensor) -> Any:
    import scipy.sparse.linalg as spla

    if not torch.is_grad_enabled():
        hit = _CACHE.get("key")
        if (hit is not None and hit[0].shape == d.shape and hit[1].shape == c.shape
                and torch.equal(hit[0], d) and torch.equal(hit[1], c)
                and torch.equal(hit[2], src) and torch.equal(hit[3], dst)):
            return _CACHE["lu"]
    lu = spla.splu(assemble(d, c, src, dst))
    if not torch.is_grad_enabled():
        _CACHE["key"] = (d.detach().clone(), c.detach().clone(), src.clone(), dst.clone())
        _CACHE["lu"] = lu
    return lu


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, d: Tensor, c: Tensor, b: Tensor, src: Tensor,  # type: ignore[override]
                dst: Tensor) -> Tensor:
        lu = _factor(d, c, src, dst)
        x = torch.from_numpy(lu.solve(b.detach().cpu().double().numpy()))
        x = x.to(device=b.device, dtype=b.dtype)
        ctx.lu = lu
        ctx.save_for_backward(x, src, dst)
        return x

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, src, dst = ctx.saved_tensors
        lam = torch.from_numpy(ctx.lu.solve(g.detach().cpu().double().numpy(), trans="T"))
        lam = lam.to(device=g.device, dtype=g.dtype)
        dd = -(lam * x).sum(dim=1)
        dc = -(lam[dst] * (x[dst] - x[src])).sum(dim=1)
        return dd, dc, lam, None, None


def mmatrix_solve(d: Tensor, c: Tensor, b: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """Solve ``(diag(d) + L_c) x = b`` (module docstring); differentiable in ``d, c, b``.

    Args:
        d: [N] positive diagonal.
        c: [E] non-negative conductances of the edges ``src -> dst``.
        b: [N, F] right-hand sides.
        src, dst: [E] edge endpoints (int64).

    Returns:
        [N, F] solution, dtype and device of ``b``.
    """
    return _Solve.apply(d, c, b, src, dst)
