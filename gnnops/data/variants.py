"""Mesh variants: the canonical mesh with its interior nodes moved (``mesh_variants``).

A dataset of one geometry meshed once puts every training sample on the same node
positions, and a model can learn those positions rather than the field (accurate at the
training nodes, worse in between). :func:`mesh_variant` makes variant ``j >= 1`` of a
canonical mesh: each interior node moves by a seeded random displacement of up to
``AMPLITUDE`` x its shortest incident edge (uniform in the disk / ball); boundary nodes
stay, so the domain, the boundary tags and the connectivity are those of the canonical
mesh. Where a move would leave a cell with less than ``MIN_VOLUME_RATIO`` of its
canonical (oriented) area / volume, the moves of that cell's nodes are halved until none
does (after ``_HALVINGS`` rounds they are undone), so every cell keeps its orientation.
The draw depends only on ``(seed, geometry, j)``: regenerating gives the same mesh.
"""

from __future__ import annotations

import copy
import zlib
from typing import Any

import numpy as np

from gnnops.errors import DataError

__all__ = ["AMPLITUDE", "MIN_VOLUME_RATIO", "simplex_cells", "boundary_nodes",
           "signed_volumes", "variant_seed", "perturb_interior", "mesh_variant"]

#: largest move of an interior node, as a fraction of its shortest incident edge
AMPLITUDE = 0.3
#: smallest area / volume of a moved cell, as a fraction of its canonical one
MIN_VOLUME_RATIO = 0.1
_HALVINGS = 30
_STREAM = 0x6D76  # "mv": keeps the variant draws apart from the per-sample streams
_TOP = {"triangle": 2, "tetra": 3}


def simplex_cells(mesh: Any) -> tuple[np.ndarray, int]:
    """``(cells [C, d + 1], d)``: the top-dimensional triangles (2-D) or tetrahedra (3-D).

    Raises:
        DataError: the mesh has no triangle / tetra cells, or other volume cells.
    """
    blocks = [(c.type, np.asarray(c.data)) for c in mesh.cells]
    dims = [_TOP[t] for t, _ in blocks if t in _TOP]
    if not dims:
        raise DataError(f"mesh variants need a triangle / tetra mesh (got cells "
                        f"{sorted({t for t, _ in blocks})})")
    d = max(dims)
    other = sorted({t for t, _ in blocks if t not in _TOP and t not in ("vertex", "line")})
    if other:
        raise DataError(f"mesh variants need a triangle / tetra mesh (got also {other})")
    name = "triangle" if d == 2 else "tetra"
    return np.concatenate([c for t, c in blocks if t == name]).astype(np.int64), d


def boundary_nodes(mesh: Any) -> np.ndarray:
    """``[N]`` bool: nodes on a facet of exactly one top-dimensional cell
    (:func:`gnnops.graphs.topology.boundary_mask`), or on a lower-dimensional cell block
    (tagged boundary lines / faces, interfaces, vertices)."""
    from gnnops.graphs.cells import cell_info
    from gnnops.graphs.topology import boundary_mask

    cells, d = simplex_cells(mesh)
    top = "triangle" if d == 2 else "tetra"
    on = boundary_mask([(cell_info(top, d + 1), cells)], len(mesh.points))
    for block in mesh.cells:
        if block.type != top:
            on[np.asarray(block.data).ravel()] = True
    return on


def signed_volumes(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``[C]`` oriented areas (triangles) / volumes (tetrahedra) of ``cells`` on the first
    ``d`` columns of ``points``."""
    d = cells.shape[1] - 1
    p = np.asarray(points, dtype=np.float64)[:, :d]
    edges = p[cells[:, 1:]] - p[cells[:, :1]]  # [C, d, d]
    return np.linalg.det(edges) / (2.0 if d == 2 else 6.0)


def _shortest_edge(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``[N]`` length of each node's shortest incident edge (inf for unused nodes)."""
    k = cells.shape[1]
    pairs = np.array([(a, b) for a in range(k) for b in range(a + 1, k)])
    e = cells[:, pairs].reshape(-1, 2)
    length = np.linalg.norm(points[e[:, 0]] - points[e[:, 1]], axis=1)
    out = np.full(len(points), np.inf)
    np.minimum.at(out, e[:, 0], length)
    np.minimum.at(out, e[:, 1], length)
    return out


def variant_seed(seed: int, geometry: str, j: int) -> list[int]:
    """Entropy of ``numpy.random.default_rng`` for variant ``j`` of ``geometry``."""
    return [int(seed), _STREAM, zlib.crc32(geometry.encode()), int(j)]


def perturb_interior(mesh: Any, rng: np.random.Generator, *, amplitude: float = AMPLITUDE,
                     min_ratio: float = MIN_VOLUME_RATIO) -> Any:
    """A copy of ``mesh`` with its interior nodes moved at random (module docstring).

    Args:
        mesh: a ``meshio.Mesh`` of triangles (points ``[N, 2]`` or ``[N, 3]`` with z = 0)
            or tetrahedra.
        rng: draws the moves (all nodes draw, boundary moves are then dropped).
        amplitude: largest move / shortest incident edge.
        min_ratio: smallest moved / canonical oriented volume of a cell.

    Returns:
        A shallow copy of ``mesh`` (cells, tags, cell and point data shared) with new points.
    """
    cells, d = simplex_cells(mesh)
    p0 = np.asarray(mesh.points, dtype=np.float64)
    vol0 = signed_volumes(p0, cells)
    direction = rng.standard_normal((len(p0), d))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
    radius = rng.random(len(p0)) ** (1.0 / d)
    reach = np.where(np.isfinite(lmin := _shortest_edge(p0[:, :d], cells)), lmin, 0.0)
    move = (amplitude * reach * radius)[:, None] * direction
    move[boundary_nodes(mesh)] = 0.0
    scale = np.ones(len(p0))
    for round_ in range(_HALVINGS + len(p0) + 1):
        p = p0.copy()
        p[:, :d] += scale[:, None] * move
        bad = signed_volumes(p, cells) * np.sign(vol0) < min_ratio * np.abs(vol0)
        if not bad.any():
            break
        scale[np.unique(cells[bad])] *= 0.5 if round_ < _HALVINGS else 0.0
    out = copy.copy(mesh)
    out.points = p
    return out


def mesh_variant(mesh: Any, seed: int, geometry: str, j: int) -> Any:
    """Variant ``j`` of the canonical ``mesh`` of ``geometry`` (``j = 0``: ``mesh`` itself);
    drawn from :func:`variant_seed` ``(seed, geometry, j)``."""
    if j == 0:
        return mesh
    return perturb_interior(mesh, np.random.default_rng(variant_seed(seed, geometry, j)))
