"""Per-mesh operators that make the error estimate cheap on a mesh seen before.

Everything here is geometry (and Dirichlet set) only, built once per :class:`FemMesh` and
cached on it, so a new prediction or coefficient on a known mesh costs sparse mat-vecs:

- :func:`free_submatrix` (through :func:`free_index`): ``A_ff`` (free rows and columns) of a
  system's matrix as one
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

__all__ = ["same_pattern", "free_index", "free_submatrix", "simplex_operators",
           "simplex_recovery", "cells_to_nodes", "GalerkinMap"]


def _digest(mask: np.ndarray) -> str:
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=8).hexdigest()


def same_pattern(a: sp.csr_matrix, indptr: np.ndarray, indices: np.ndarray) -> bool:
    """Whether the CSR matrix ``a`` has the sparsity pattern ``(indptr, indices)`` (identity
    of the index arrays, else equality)."""
    if a.indices is indices and a.indptr is indptr:
        return True
    return (len(a.indices) == len(indices) and np.array_equal(a.indptr, indptr)
            and np.array_equal(a.indices, indices))


def free_index(fm: FemMesh, a: sp.csr_matrix, fixed: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(take, indptr, indices)``: ``a[free][:, free]`` (``free = ~fixed``) is the CSR matrix
    with data ``a.data[take]`` and pattern ``(indptr, indices)`` (sorted).

    Cached per mesh, Dirichlet set and sparsity pattern (the pattern of an assembled
    operator does not depend on the coefficient); another pattern is sliced and cached anew.
    """
    key = f"free-index:{a.shape[0]}:{_digest(fixed)}"
    hit = fm._store.get(key)
    if hit is not None and same_pattern(a, hit[0], hit[1]):
        return hit[2:]
    free = ~fixed
    probe = sp.csr_matrix((np.arange(1, a.nnz + 1, dtype=np.float64), a.indices, a.indptr),
                          shape=a.shape)
    sub = sp.csr_matrix(probe[free][:, free])
    sub.sort_indices()
    take = sub.data.astype(np.int64) - 1
    fm._store[key] = (a.indptr.copy(), a.indices.copy(), take, sub.indptr, sub.indices)
    return take, sub.indptr, sub.indices


def free_submatrix(fm: FemMesh, a: sp.csr_matrix, fixed: np.ndarray) -> sp.csr_matrix:
    """``a[free][:, free]`` as CSR, ``free = ~fixed``: one gather of ``a``'s data through
    :func:`free_index` (instead of slicing rows then columns)."""
    a = sp.csr_matrix(a)
    take, indptr, indices = free_index(fm, a, fixed)
    n = len(indptr) - 1
    return sp.csr_matrix((a.data[take], indices, indptr), shape=(n, n))


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


class GalerkinMap:
    """``C = P^T A P`` for every matrix ``A`` of one sparsity pattern, numeric only.

    ``C``'s entries are linear in ``A``'s: ``AP.data = T1 @ A.data`` and
    ``C.data = T2 @ AP.data``, with ``T1`` / ``T2`` built once from the pattern and ``P``.
    Two sparse mat-vecs replace scipy's two sparse-sparse products, each of which redoes
    its symbolic pass (the pattern of the result) on every new coefficient.

    Args:
        a: ``[n, n]`` CSR with the pattern every later ``A`` shares (sorted indices).
        p: ``[n, m]`` prolongator.
    """

    def __init__(self, a: sp.csr_matrix, p: sp.spmatrix) -> None:
        p = sp.csr_matrix(p)
        p.sort_indices()
        self.indptr, self.indices = a.indptr, a.indices
        n, m = p.shape
        rows = np.repeat(np.arange(n), np.diff(a.indptr))
        ap_key, t1 = self._expand(rows, a.indices, p, m)
        ap_rows, ap_cols = ap_key // m, ap_key % m
        # C = P^T (AP): AP entry (i, l) meets P entries (i, k) -> C entry (k, l)
        c_key, t2 = self._expand(ap_cols, ap_rows, p, m, swap=True)
        self.t1, self.t2 = t1, t2
        c_rows, self.c_indices = c_key // m, (c_key % m).astype(np.int32)
        self.c_indptr = np.concatenate([[0], np.cumsum(np.bincount(c_rows, minlength=m))]
                                       ).astype(np.int32)
        self.m = m

    @staticmethod
    def _expand(left: np.ndarray, mid: np.ndarray, p: sp.csr_matrix, m: int,
                swap: bool = False) -> tuple[np.ndarray, sp.csr_matrix]:
        """Entries ``(left_e, mid_e)`` times P's row ``mid_e``: the sorted unique result
        keys ``left * m + col`` and the map ``[keys, entries]`` with the P values.
        ``swap``: the key is ``col * m + left`` (the transpose side of ``P^T X``)."""
        cnt = np.diff(p.indptr)[mid]
        entry = np.repeat(np.arange(len(mid)), cnt)
        first = np.repeat(p.indptr[mid] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
        pos = first + np.arange(len(entry))
        col = p.indices[pos].astype(np.int64)
        lft = left[entry].astype(np.int64)
        key = col * m + lft if swap else lft * m + col
        uniq, inv = np.unique(key, return_inverse=True)
        t = sp.csr_matrix((p.data[pos], (inv.ravel(), entry)), shape=(len(uniq), len(mid)))
        return uniq, t

    def matches(self, a: sp.csr_matrix) -> bool:
        """Whether ``a`` has this map's pattern (:func:`same_pattern`)."""
        return same_pattern(a, self.indptr, self.indices)

    def __call__(self, a: sp.csr_matrix) -> sp.csr_matrix:
        """``[m, m]`` CSR ``P^T A P`` (``a`` must :meth:`match`)."""
        data = self.t2 @ (self.t1 @ a.data)
        return sp.csr_matrix((data, self.c_indices, self.c_indptr), shape=(self.m, self.m))
