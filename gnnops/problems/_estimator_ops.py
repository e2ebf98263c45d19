"""Per-mesh operators that make the error estimate cheap on a mesh seen before.

Everything here is geometry (and Dirichlet set) only, built once per :class:`FemMesh` and
cached on it, so a new prediction or coefficient on a known mesh costs sparse mat-vecs:

- :func:`free_submatrix`: ``A_ff`` (free rows and columns) of a system's matrix as one
  gather of its data (the sparsity pattern of an assembled operator does not depend on
  the coefficient), instead of slicing rows then columns;
- :func:`simplex_recovery`: the Zienkiewicz-Zhu flux recovery of P1 simplices with three
  cached sparse operators: the per-cell gradient ``D: [C*d, N]``, the lumped L2
  projection of cell values onto the nodes ``W: [N, C]`` and the cell -> node incidence
  ``I: [N, C]`` (for the nodal shares of cell indicators).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from gnnops.problems._fem import FemMesh

__all__ = ["free_submatrix", "simplex_operators", "simplex_recovery", "cells_to_nodes"]


def _digest(mask: np.ndarray) -> str:
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=8).hexdigest()


def free_submatrix(fm: FemMesh, a: sp.csr_matrix, fixed: np.ndarray) -> sp.csr_matrix:
    """``a[free][:, free]`` as CSR, ``free = ~fixed``.

    The positions of the kept entries are cached per mesh, Dirichlet set and sparsity
    pattern; a matrix with the cached pattern (every coefficient of one assembled
    operator) costs one gather of its data. Another pattern is sliced and cached anew.
    """
    a = sp.csr_matrix(a)
    key = f"free-index:{a.shape[0]}:{_digest(fixed)}"
    hit = fm._store.get(key)
    if hit is not None:
        indptr, indices, take, out_indptr, out_indices = hit
        if (len(a.indices) == len(indices) and np.array_equal(a.indptr, indptr)
                and np.array_equal(a.indices, indices)):
            shape = (len(out_indptr) - 1,) * 2
            return sp.csr_matrix((a.data[take], out_indices, out_indptr), shape=shape)
    free = ~fixed
    probe = sp.csr_matrix((np.arange(1, a.nnz + 1, dtype=np.float64), a.indices, a.indptr),
                          shape=a.shape)
    sub = sp.csr_matrix(probe[free][:, free])
    sub.sort_indices()
    take = sub.data.astype(np.int64) - 1
    fm._store[key] = (a.indptr.copy(), a.indices.copy(), take, sub.indptr, sub.indices)
    return sp.csr_matrix((a.data[take], sub.indices, sub.indptr), shape=sub.shape)


def simplex_operators(fm: FemMesh) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """``(D, W, I)`` of the module docstring for a triangle / tetrahedron mesh (cached).

    ``(D @ u).reshape(C, d)`` is the (constant) gradient of the P1 function ``u: [N]`` in
    each cell; ``W @ s`` the lumped L2 projection of cell values ``s: [C]`` (weights
    ``int_K phi_i = |K| / k``); ``I`` has a 1 where node i belongs to cell K.
    """
    def build() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        _, grads, dx, edofs = fm.shape_data()  # grads [k, d, C, Q], dx [C, Q], edofs [C, k]
        n_cells, k = edofs.shape
        d = grads.shape[1]
        g = grads[..., 0]  # [k, d, C]: P1 gradients are constant per cell
        rows = np.broadcast_to(np.arange(n_cells)[None, None, :] * d
                               + np.arange(d)[None, :, None], g.shape)
        cols = np.broadcast_to(edofs.T[:, None, :], g.shape)
        dmat = sp.csr_matrix((g.ravel(), (rows.ravel(), cols.ravel())),
                             shape=(n_cells * d, fm.n_nodes))
        vol = dx.sum(axis=1)  # [C]
        inc = _incidence(fm)
        share = inc @ sp.diags(vol / k)
        den = np.asarray(share.sum(axis=1)).ravel()
        w = sp.diags(1.0 / np.where(den > 0, den, 1.0)) @ share
        return dmat, sp.csr_matrix(w), inc

    return fm.cached("zz-simplex", build)


def simplex_recovery(fm: FemMesh, u: np.ndarray,
                     flux: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``eta_K^2 = ||G sigma_h - sigma_h||_K^2 / k_K^2`` ``[C]`` of P1 simplices.

    Args:
        fm: a triangle or tetrahedron mesh.
        u: ``[N, c]`` nodal values.
        flux: gradients ``[C, 1, c, d]`` -> (flux ``[C, 1, m]``, coefficient ``k_K [C]``).
    """
    dmat, w, _ = simplex_operators(fm)
    _, _, dx, edofs = fm.shape_data()
    n_cells, k = edofs.shape
    c, d = u.shape[1], fm.dim
    grad = (dmat @ u).reshape(n_cells, d, c).transpose(0, 2, 1)  # [C, c, d]
    sigma, coef = flux(grad[:, None])
    sigma = sigma[:, 0]  # [C, m]
    g = np.asarray(w @ sigma)  # [N, m] recovered nodal flux
    # int_K |v|^2 of a linear v = |K| (sum |v_i|^2 + |sum v_i|^2) / (k (k + 1)), v = g - sigma;
    # 1D gathers per node and component (a [C, k, m] gather and einsum are ~5x slower)
    nodes = fm.cached("edofs-t", lambda: np.ascontiguousarray(edofs.T))  # [k, C]
    sq = np.zeros(n_cells)
    for j in range(sigma.shape[1]):
        gj, sj = np.ascontiguousarray(g[:, j]), sigma[:, j]
        tot = np.zeros(n_cells)
        for i in range(k):
            v = gj[nodes[i]] - sj
            sq += v * v
            tot += v
        sq += tot * tot
    return dx.sum(axis=1) * sq / (k * (k + 1)) / coef**2


def cells_to_nodes(fm: FemMesh, eta2: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Nodal density ``d_i^2`` with ``sum_i m_i d_i^2 = sum_K eta2_K`` (equal shares of each
    cell's ``eta2`` to its k nodes, divided by the lumped mass ``m_i``)."""
    return (_incidence(fm) @ (eta2 / fm.cells.shape[1])) / np.where(mass > 0, mass, 1.0)


def _incidence(fm: FemMesh) -> sp.csr_matrix:
    """``[N, C]``: 1 where node i is a vertex of cell K (cached)."""
    def build() -> sp.csr_matrix:
        n_cells, k = fm.cells.shape
        owner = np.repeat(np.arange(n_cells), k)
        return sp.csr_matrix((np.ones(n_cells * k), (fm.cells.ravel(), owner)),
                             shape=(fm.n_nodes, n_cells))

    return fm.cached("incidence", build)
