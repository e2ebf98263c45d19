"""Gaussian random fields as truncated Karhunen-Loeve (cosine / sine) series.

The field on the box ``[lo, hi]`` (mapped to the unit cube ``[0, 1]^d``) is

    g(x) = sum_k  xi_k * s_k * phi_k(x),   xi_k ~ N(0, 1),
    s_k  = tau^(alpha - 1) * (lambda_k + tau^2)^(-alpha / 2),   lambda_k = pi^2 |k|^2,

with ``phi_k = prod_i c_{k_i} cos(pi k_i x_i)`` (Neumann Laplacian, ``c_0 = 1``,
``c_k = sqrt(2)``, k_i = 0..K-1, the mean mode k = 0 set to 0) or
``phi_k = prod_i sqrt(2) sin(pi k_i x_i)`` (Dirichlet Laplacian, k_i = 1..K; the
field vanishes on the box boundary). With alpha = 2, tau = 3 this is the
N(0, (-Delta + 9 I)^-2) field of the FNO Darcy protocol (its ``GRF.m``).

A draw is stored as its coefficients ``xi_k * s_k`` (JSON-friendly nested lists,
see :func:`sample_field`), so the *same* field is evaluated on any mesh.

Points outside the box: the series is defined on all of R^d -- the even, 2-periodic
extension of the field on the box (cosine basis: ``g(hi + t) = g(hi - t)``,
``g(lo - t) = g(lo + t)``; sine basis: odd). A shape inside the box (every geometry of
:mod:`gnnops.meshing` lies in the unit square / cube) sees the field as drawn; parts of a
shape outside it see mirror images of the inside, so values there are not independent
of the mirrored ones. For a domain outside the unit square, pass its bounding box as
``box`` (e.g. ``problem_options: {box: [[0, 0], [2, 1]]}`` for Darcy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gnnops.errors import ProblemError
from gnnops.problems._linear import blas_threads

__all__ = ["kl_std", "sample_field", "evaluate_field", "unit_box"]


def unit_box(dim: int) -> list[list[float]]:
    """``[[0] * dim, [1] * dim]``: the default box of the series."""
    return [[0.0] * dim, [1.0] * dim]


def _wavenumbers(n_modes: int, basis: str) -> np.ndarray:
    if basis == "cos":
        return np.arange(n_modes, dtype=np.float64)
    if basis == "sin":
        return np.arange(1, n_modes + 1, dtype=np.float64)
    raise ProblemError(f"unknown series basis {basis!r}; expected one of: cos, sin")


def kl_std(n_modes: int, dim: int, *, alpha: float = 2.0, tau: float = 3.0,
           basis: str = "cos") -> np.ndarray:
    """Standard deviations ``s_k`` of the series coefficients, shape ``[K] * dim``."""
    k = _wavenumbers(n_modes, basis)
    grids = np.meshgrid(*([k] * dim), indexing="ij")
    lam = np.pi**2 * sum(g**2 for g in grids)
    std = tau ** (alpha - 1.0) * (lam + tau**2) ** (-alpha / 2.0)
    if basis == "cos":
        std[(0,) * dim] = 0.0
    return std


def sample_field(rng: np.random.Generator, *, dim: int = 2, n_modes: int | None = None,
                 alpha: float = 2.0, tau: float = 3.0, basis: str = "cos",
                 box: Any = None) -> dict[str, Any]:
    """Draw one field; returns JSON-serializable parameters for :func:`evaluate_field`.

    Args:
        rng: numpy random generator.
        dim: spatial dimension (2 or 3).
        n_modes: modes per axis K (default 32 in 2D, 12 in 3D).
        alpha, tau: smoothness and inverse length scale of the covariance.
        basis: ``"cos"`` (mean-zero, free boundary) or ``"sin"`` (zero on the box boundary).
        box: ``[[lo_1..lo_d], [hi_1..hi_d]]`` mapped to the unit cube (default unit cube).
    """
    if dim not in (1, 2, 3):
        raise ProblemError(f"expected dim 1, 2 or 3 for a random field, got {dim}")
    n_modes = (32 if dim <= 2 else 12) if n_modes is None else int(n_modes)
    std = kl_std(n_modes, dim, alpha=alpha, tau=tau, basis=basis)
    coeffs = std * rng.standard_normal(std.shape)
    box = unit_box(dim) if box is None else np.asarray(box, dtype=float).tolist()
    return {"coeffs": coeffs.tolist(), "basis": basis, "box": box,
            "alpha": float(alpha), "tau": float(tau)}


def _modes(x: np.ndarray, n_modes: int, basis: str) -> np.ndarray:
    k = _wavenumbers(n_modes, basis)
    if basis == "cos":
        scale = np.where(k == 0, 1.0, np.sqrt(2.0))
        return scale * np.cos(np.pi * x[:, None] * k)
    return np.sqrt(2.0) * np.sin(np.pi * x[:, None] * k)


def evaluate_field(params: dict[str, Any], points: np.ndarray, *,
                   chunk: int = 8192) -> np.ndarray:
    """Evaluate a drawn field at ``points: [N, d]``; returns ``[N]`` float64.

    Vectorized: per axis a ``[N, K]`` table of cosines, contracted with the
    coefficient tensor (chunks of ``chunk`` points bound the memory in 3D).

    Raises:
        ProblemError: the points' dimension differs from the field's.
    """
    coeffs = np.asarray(params["coeffs"], dtype=np.float64)
    dim = coeffs.ndim
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != dim:
        raise ProblemError(f"expected points of shape [N, {dim}] for a {dim}D field, "
                           f"got {list(points.shape)}")
    lo, hi = (np.asarray(b, dtype=np.float64) for b in params.get("box", unit_box(dim)))
    x = (points - lo) / (hi - lo)
    n_modes, basis = coeffs.shape[0], params.get("basis", "cos")
    out = np.empty(len(x))
    c2 = coeffs.reshape(-1, n_modes).T  # [K, K^(dim-1)]: the last axis against the rest
    with blas_threads(1):  # small products: threads only spin (see blas_threads)
        for s in range(0, len(x), chunk):
            xs = x[s:s + chunk]
            acc = _modes(xs[:, dim - 1], n_modes, basis) @ c2
            # acc: [n, K^(dim-1)]; contract the remaining axes from the last to the first
            for axis in range(dim - 2, -1, -1):
                acc = acc.reshape(len(xs), -1, n_modes)
                acc = np.einsum("nrk,nk->nr", acc, _modes(xs[:, axis], n_modes, basis))
            out[s:s + chunk] = acc.reshape(len(xs))
    return out
