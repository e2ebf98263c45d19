"""Reference tables of meshio cell types: local edges, facets and measures.

Node ordering follows meshio, which is VTK's ordering for every type listed
here (meshio's gmsh reader permutes gmsh's ordering into it, except for
wedge18, which meshio 5.3.5 leaves in gmsh's order: a wedge18 mesh read from a
.msh file gets wrong face-centre edges). meshio 5.3.5 also lacks the
dimension of wedge15 and pyramid13, so it cannot build such meshes at all. For each
supported cell type the table gives

- ``dim``: topological dimension;
- ``corners``: number of corner (vertex) nodes; corners come first;
- ``edges``: ``[n_e, 2]`` local node pairs that become graph edges. A
  second-order edge runs corner -> mid-node -> corner (two graph edges).
  Face-interior nodes (quad9, wedge18's quad faces, pyramid14's base) connect to
  the mid-nodes of their face's edges, and the volume-interior node of
  hexahedron27 connects to the six face centres: the tensor-product grid lines
  of the 3x3(x3) Lagrange lattice. Quads and hexes get no diagonals;
- ``facets``: groups of ``(corners [n_f, c], all_nodes [n_f, m])`` local node
  lists of the (dim-1)-facets; facets are matched by their sorted corners,
  and every node of an unmatched facet (mid-nodes included) is a boundary node;
- ``simplices``: ``[n_s, dim+1]`` local corner tuples whose measures add up to
  the cell's measure (quads, hexes, wedges and pyramids are split; second-order
  cells are measured by their corners, i.e. straight-sided).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CellInfo", "CELLS", "cell_info", "cell_measures", "polygon_info"]


@dataclass(frozen=True)
class CellInfo:
    """Local tables of one meshio cell type (see the module docstring)."""

    name: str
    dim: int
    corners: int
    nodes: int
    edges: np.ndarray
    facets: tuple[tuple[np.ndarray, np.ndarray], ...]
    simplices: np.ndarray


def _a(rows: list) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)


# Corner-level topology of the linear cells.
_LIN_EDGES = {
    "line": [(0, 1)],
    "triangle": [(0, 1), (1, 2), (2, 0)],
    "quad": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "hexahedron": [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                   (0, 4), (1, 5), (2, 6), (3, 7)],
    "wedge": [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)],
    "pyramid": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4)],
}
_LIN_FACETS = {
    "line": [(0,), (1,)],
    "triangle": [(0, 1), (1, 2), (2, 0)],
    "quad": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra": [(0, 1, 3), (1, 2, 3), (2, 0, 3), (0, 2, 1)],
    # VTK face order of the hexahedron: x-, x+, y-, y+, z-, z+ (hexahedron27's
    # face-centre nodes 20..25 follow the same order).
    "hexahedron": [(0, 3, 7, 4), (1, 2, 6, 5), (0, 1, 5, 4), (3, 2, 6, 7),
                   (0, 1, 2, 3), (4, 5, 6, 7)],
    "wedge": [(0, 1, 2), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5)],
    "pyramid": [(0, 1, 2, 3), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)],
}
_SIMPLICES = {
    "line": [(0, 1)],
    "triangle": [(0, 1, 2)],
    "quad": [(0, 1, 2), (0, 2, 3)],
    "tetra": [(0, 1, 2, 3)],
    "hexahedron": [(0, 1, 2, 6), (0, 2, 3, 6), (0, 3, 7, 6), (0, 7, 4, 6), (0, 4, 5, 6),
                   (0, 5, 1, 6)],
    "wedge": [(0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5)],
    "pyramid": [(0, 1, 2, 4), (0, 2, 3, 4)],
}
_DIM = {"line": 1, "triangle": 2, "quad": 2, "tetra": 3, "hexahedron": 3, "wedge": 3,
        "pyramid": 3}
# Second-order types: (base type, number of mid-edge nodes placed in the order of
# the base's edge list, face-centre nodes as indices into the base's facet list,
# volume centre?).
_HIGHER = {
    "line3": ("line", True, (), False),
    "triangle6": ("triangle", True, (), False),
    "quad8": ("quad", True, (), False),
    "quad9": ("quad", True, "self", False),
    "tetra10": ("tetra", True, (), False),
    "hexahedron20": ("hexahedron", True, (), False),
    "hexahedron27": ("hexahedron", True, (0, 1, 2, 3, 4, 5), True),
    "wedge15": ("wedge", True, (), False),
    "wedge18": ("wedge", True, (2, 3, 4), False),
    "pyramid13": ("pyramid", True, (), False),
    "pyramid14": ("pyramid", True, (0,), False),
}


def _linear(name: str) -> CellInfo:
    corners = int(max(max(e) for e in _LIN_EDGES[name])) + 1
    facets: dict[int, list] = {}
    for f in _LIN_FACETS[name]:
        facets.setdefault(len(f), []).append(f)
    groups = tuple((_a(fs), _a(fs)) for _, fs in sorted(facets.items()))
    return CellInfo(name, _DIM[name], corners, corners, _a(_LIN_EDGES[name]), groups,
                    _a(_SIMPLICES[name]))


def _quadratic(name: str) -> CellInfo:
    base_name, _, face_spec, volume_centre = _HIGHER[name]
    base = _linear(base_name)
    nc = base.corners
    mid = {}  # frozenset(corner pair) -> mid node
    edges = []
    for k, (a, b) in enumerate(base.edges.tolist()):
        m = nc + k
        mid[frozenset((a, b))] = m
        edges += [(a, m), (m, b)]
    nxt = nc + len(base.edges)
    lin_faces = _LIN_FACETS[base_name]
    if face_spec == "self":  # quad9: the cell itself is the face
        face_list = [tuple(range(nc))]
    else:
        face_list = [lin_faces[i] for i in face_spec]
    centres = []
    for face in face_list:
        ring = [mid[frozenset((face[i], face[(i + 1) % len(face)]))] for i in range(len(face))]
        edges += [(m, nxt) for m in ring]
        centres.append(nxt)
        nxt += 1
    if volume_centre:
        edges += [(c, nxt) for c in centres]
        nxt += 1
    # facets: corners + mid-nodes (+ face centre when the cell has one for that face)
    face_centre = {}
    if face_spec != "self":
        for i, c in zip(face_spec, centres, strict=True):
            face_centre[tuple(lin_faces[i])] = c
    groups: dict[int, tuple[list, list]] = {}
    for f in lin_faces:
        if len(f) == 1:  # line3: facets are the end points
            ring = []
        elif len(f) == 2:  # 2-D cells: facets are edges with one mid-node
            ring = [mid[frozenset(f)]]
        else:
            ring = [mid[frozenset((f[i], f[(i + 1) % len(f)]))] for i in range(len(f))]
        full = list(f) + ring + ([face_centre[tuple(f)]] if tuple(f) in face_centre else [])
        key = (len(f), len(full))
        groups.setdefault(key, ([], []))
        groups[key][0].append(f)
        groups[key][1].append(full)
    facet_groups = tuple((_a(c), _a(m)) for _, (c, m) in sorted(groups.items()))
    return CellInfo(name, base.dim, nc, nxt, _a(edges), facet_groups, base.simplices)


def polygon_info(k: int) -> CellInfo:
    """Tables of a ``k``-gon (meshio type ``polygon``): ring edges, fan simplices."""
    ring = [(i, (i + 1) % k) for i in range(k)]
    fan = [(0, i, i + 1) for i in range(1, k - 1)]
    return CellInfo("polygon", 2, k, k, _a(ring), ((_a(ring), _a(ring)),), _a(fan))


CELLS: dict[str, CellInfo] = {n: _linear(n) for n in _LIN_EDGES}
CELLS.update({n: _quadratic(n) for n in _HIGHER})


def cell_info(name: str, nodes_per_cell: int) -> CellInfo | None:
    """Tables of a meshio cell type, or None when gnnops has none for it.

    Args:
        name: meshio cell type name (``"triangle"``, ``"tetra10"``, ...).
        nodes_per_cell: columns of the block's connectivity (used for polygons).
    """
    if name == "polygon" and nodes_per_cell >= 3:
        return polygon_info(nodes_per_cell)
    return CELLS.get(name)


_CHUNK = 1 << 16  # cells per block of the closed-form measures


def _simplex_measures(coords: list[np.ndarray], cells: np.ndarray,
                      info: CellInfo) -> np.ndarray:
    """[C] measures of ``cells`` [C, k] from coordinate columns (dim 2 or 3)."""
    dim = info.dim
    total = np.zeros(len(cells), dtype=np.float64)
    for simplex in info.simplices:  # 1-D gathers (np.take), in-place arithmetic
        p0 = [np.take(coords[k], cells[:, int(simplex[0])]) for k in range(dim)]
        e = [[np.subtract(np.take(coords[k], cells[:, int(s)]), p0[k]) for k in range(dim)]
             for s in simplex[1:]]
        if dim == 2:
            det = e[0][0] * e[1][1]
            det -= e[0][1] * e[1][0]
        else:
            det = _minor(e[1], e[2], 1, 2)
            det *= e[0][0]
            det -= _minor(e[1], e[2], 0, 2) * e[0][1]
            det += _minor(e[1], e[2], 0, 1) * e[0][2]
        np.abs(det, out=det)
        det /= math.factorial(dim)
        total += det
    return total


def _minor(r1: list[np.ndarray], r2: list[np.ndarray], a: int, b: int) -> np.ndarray:
    """``r1[a] * r2[b] - r1[b] * r2[a]`` with one temporary."""
    m = r1[a] * r2[b]
    m -= r1[b] * r2[a]
    return m


def cell_measures(points: np.ndarray, cells: np.ndarray, info: CellInfo) -> np.ndarray:
    """Length / area / volume of each cell, vectorized over the block.

    Args:
        points: [P, d] float coordinates, d >= info.dim.
        cells: [C, k] connectivity of one block.
        info: tables of the block's cell type.

    Returns:
        [C] float64 measures (absolute values; cells embedded in a higher
        dimension, e.g. triangles in 3-D, use the Gram determinant).
    """
    dim = info.dim
    total = np.zeros(len(cells), dtype=np.float64)
    if dim == points.shape[1] and dim in (2, 3):  # closed-form determinants, column by column
        coords = [np.ascontiguousarray(points[:, k], dtype=np.float64) for k in range(dim)]
        for lo in range(0, len(cells), _CHUNK):  # cache-sized temporaries, reused by malloc
            total[lo:lo + _CHUNK] = _simplex_measures(coords, cells[lo:lo + _CHUNK], info)
        return total
    for simplex in info.simplices:
        verts = points[cells[:, simplex]].astype(np.float64)  # [C, dim+1, d]
        jac = verts[:, 1:, :] - verts[:, :1, :]  # [C, dim, d]
        if jac.shape[2] == dim:
            vol = np.abs(np.linalg.det(jac))
        else:
            gram = jac @ np.swapaxes(jac, 1, 2)
            vol = np.sqrt(np.clip(np.linalg.det(gram), 0.0, None))
        total += vol / math.factorial(dim)
    return total
