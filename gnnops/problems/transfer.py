"""Transfer of a P1 finite-element field from one simplex mesh to other points.

``P1Transfer(points, cells).matrix(targets)`` is the sparse interpolation matrix ``P``
``[M, N]`` with ``(P u)_k = u_h(x_k)``: the P1 interpolant of the nodal values ``u`` on
the source mesh evaluated at the target points (barycentric weights of the containing
triangle / tetrahedron). Used by the reference-solution protocol: solve once on a fine
mesh, evaluate on every training and test mesh.

Points outside the source mesh (a coarse mesh of a curved boundary, whose boundary chords
cut outside the fine mesh's chords by O(h^2)) get the value at the closest point of the
nearest candidate cell (clamped barycentric coordinates); ``outside_distance`` reports how
far they were.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from gnnops.errors import ProblemError

__all__ = ["P1Transfer"]


class P1Transfer:
    """Point location and P1 interpolation on a simplex mesh.

    Args:
        points: ``[N, d]`` source node coordinates (d = 2 or 3).
        cells: ``[C, d + 1]`` triangles (2-D) or tetrahedra (3-D), node indices.
        candidates: cells tried per target point (nearest centroids first).
    """

    def __init__(self, points: np.ndarray, cells: np.ndarray, *, candidates: int = 12) -> None:
        self.points = np.asarray(points, dtype=np.float64)
        self.cells = np.asarray(cells, dtype=np.int64)
        d = self.points.shape[1]
        if self.cells.ndim != 2 or self.cells.shape[1] != d + 1:
            raise ProblemError(f"expected simplex cells of shape [C, {d + 1}] for {d}-D points "
                               f"(got {list(self.cells.shape)})")
        verts = self.points[self.cells]  # [C, d+1, d]
        self._origin = verts[:, 0]
        t = (verts[:, 1:] - verts[:, :1]).transpose(0, 2, 1)  # [C, d, d] columns = edges
        det = np.linalg.det(t)
        if np.any(np.abs(det) < 1e-300):
            raise ProblemError("P1 transfer needs non-degenerate cells (a cell of zero volume)")
        self._inv = np.linalg.inv(t)
        self._tree = cKDTree(verts.mean(axis=1))
        self._k = int(min(candidates, len(self.cells)))
        self.outside_distance = np.zeros(0)

    def _bary(self, x: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Barycentric coordinates ``[M, k, d + 1]`` of ``x`` [M, d] in ``cells`` [M, k]."""
        lam = np.einsum("mkij,mkj->mki", self._inv[cells], x[:, None, :] - self._origin[cells])
        return np.concatenate([1.0 - lam.sum(-1, keepdims=True), lam], axis=-1)

    def matrix(self, targets: np.ndarray, *, block: int = 20000) -> sp.csr_matrix:
        """Interpolation matrix ``[M, N]`` (rows sum to 1) for ``targets`` ``[M, d]``."""
        x = np.asarray(targets, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.points.shape[1]:
            raise ProblemError(f"expected target points of shape [M, {self.points.shape[1]}] "
                               f"(got {list(x.shape)})")
        rows, cols, vals, dist = [], [], [], []
        for s in range(0, len(x), block):  # bounded memory: k candidates per point
            xb = x[s:s + block]
            _, cand = self._tree.query(xb, k=self._k)
            cand = cand.reshape(len(xb), -1)
            bary = self._bary(xb, cand)
            score = bary.min(axis=-1)  # >= 0 inside (up to round-off)
            best = score.argmax(axis=1)
            pick = np.arange(len(xb))
            cell = cand[pick, best]
            lam = bary[pick, best]
            outside = score[pick, best] < -1e-10
            if outside.any():  # clamp to the cell: closest point approximation
                lam[outside] = np.clip(lam[outside], 0.0, None)
                lam[outside] /= lam[outside].sum(axis=1, keepdims=True)
            nodes = self.cells[cell]
            proj = np.einsum("mi,mid->md", lam, self.points[nodes])
            dist.append(np.linalg.norm(proj - xb, axis=1))
            rows.append(np.repeat(np.arange(s, s + len(xb)), nodes.shape[1]))
            cols.append(nodes.ravel())
            vals.append(lam.ravel())
        self.outside_distance = np.concatenate(dist) if dist else np.zeros(0)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                     np.concatenate(cols))),
                             shape=(len(x), len(self.points)))

    def __call__(self, values: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``values`` ``[N, ...]`` at the source nodes -> ``[M, ...]`` at ``targets``."""
        v = np.asarray(values)
        p = self.matrix(targets)
        return (p @ v.reshape(len(self.points), -1)).reshape((len(targets),) + v.shape[1:])
