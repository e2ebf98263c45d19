"""Mesh (``meshio.Mesh`` or any file meshio reads) -> ``torch_geometric.data.Data``.

See :mod:`gnnops.graphs` for the schema choices (top-dimension cells give the
edges, unused points stay as isolated nodes, ``node_type`` precedence, what
rides along for residuals and write-back).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import meshio
import numpy as np
import torch
from torch_geometric.data import Data

from gnnops.errors import MeshError
from gnnops.graphs.cells import CELLS, CellInfo, cell_info, cell_measures
from gnnops.graphs.io import read_mesh
from gnnops.graphs.topology import boundary_mask, mesh_edges, node_volume

__all__ = ["from_meshio", "load_mesh", "TAG_KEYS", "coincident_points", "COINCIDENT_TOL"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

#: Integer cell tags read for ``node_type``, first present wins.
TAG_KEYS = ("gmsh:physical", "medit:ref", "CellEntityIds", "cell_tags", "tags", "ref")


def load_mesh(mesh_or_path: meshio.Mesh | str | os.PathLike) -> tuple[meshio.Mesh, str]:
    """Return ``(mesh, description)`` from a ``meshio.Mesh`` or a path.

    Raises:
        MeshError: unreadable path, or an object that is neither.
    """
    if isinstance(mesh_or_path, meshio.Mesh):
        return mesh_or_path, "the meshio.Mesh"
    if isinstance(mesh_or_path, (str, os.PathLike)):
        return read_mesh(mesh_or_path), f"'{mesh_or_path}'"
    raise MeshError(
        f"expected a meshio.Mesh or a path, got {type(mesh_or_path).__name__}"
    )


def _dim_of(block: meshio.CellBlock) -> int:
    info = cell_info(block.type, block.data.shape[1] if block.data.ndim == 2 else 0)
    if info is not None:
        return info.dim
    from meshio._mesh import topological_dimension

    if block.type in topological_dimension:
        return topological_dimension[block.type]
    raise MeshError(f"unknown cell type '{block.type}'")


def _top_blocks(mesh: meshio.Mesh, top: int, n: int, src: str) -> list[tuple[CellInfo, np.ndarray]]:
    """Top-dimension blocks, same types concatenated, connectivity checked."""
    grouped: dict[tuple[str, int], list[np.ndarray]] = {}
    for block in mesh.cells:
        if _dim_of(block) != top:
            continue
        data = np.asarray(block.data)
        info = cell_info(block.type, data.shape[1])
        if info is None:
            known = ", ".join(sorted(CELLS) + ["polygon"])
            raise MeshError(
                f"cell type '{block.type}' in {src} is not supported for graphs; "
                f"expected one of: {known}"
            )
        if data.ndim != 2 or data.shape[1] != info.nodes:
            raise MeshError(
                f"expected '{block.type}' cells of shape [C, {info.nodes}] in {src} "
                f"(got {list(data.shape)})"
            )
        key = (block.type, data.shape[1])
        grouped.setdefault(key, []).append(data.astype(np.int64, copy=False))
    blocks = []
    for (name, k), datas in grouped.items():
        cells = datas[0] if len(datas) == 1 else np.concatenate(datas)
        if len(cells) and (cells.min() < 0 or cells.max() >= n):
            raise MeshError(
                f"'{name}' cells in {src} refer to points outside [0, {n}) "
                f"(got indices {int(cells.min())}..{int(cells.max())})"
            )
        blocks.append((cell_info(name, k), cells))
    return blocks


def _node_types(mesh: meshio.Mesh, top: int, boundary: np.ndarray) -> np.ndarray:
    """Tag ids of lower-dimension cells, else 0 interior / 1 boundary."""
    n = len(boundary)
    key = next((k for k in TAG_KEYS if k in mesh.cell_data), None)
    by_dim: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    if key is not None:
        for block, tags in zip(mesh.cells, mesh.cell_data[key], strict=True):
            dim = _dim_of(block)
            tags = np.asarray(tags).reshape(len(block.data), -1)[:, 0]
            if dim < top and len(block.data) and np.issubdtype(tags.dtype, np.number):
                by_dim.setdefault(dim, []).append((np.asarray(block.data), tags))
    if not by_dim:
        return boundary.astype(np.int64)
    node_type = np.zeros(n, dtype=np.int64)
    for dim in sorted(by_dim, reverse=True):  # lower dimensions overwrite higher ones
        tmp = np.full(n, -1, dtype=np.int64)
        for cells, tags in by_dim[dim]:
            k = cells.shape[1]
            np.maximum.at(tmp, cells.ravel().astype(np.int64),
                          np.repeat(tags.astype(np.int64), k))
        node_type = np.where(tmp >= 0, tmp, node_type)
    return node_type


def _stack_fields(mesh: meshio.Mesh, names: Sequence[str], n: int, drop_z: bool, src: str,
                  role: str) -> torch.Tensor | None:
    if isinstance(names, str):
        names = (names,)
    if not names:
        return None
    cols = []
    for name in names:
        if name not in mesh.point_data:
            have = ", ".join(sorted(mesh.point_data)) or "none"
            raise MeshError(
                f"{role} field '{name}' is not point data of {src}; point-data fields: {have}"
            )
        try:
            v = np.asarray(mesh.point_data[name], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise MeshError(f"point-data field '{name}' of {src} is not numeric ({exc})") from exc
        if v.shape[0] != n:
            raise MeshError(
                f"point-data field '{name}' of {src} has {v.shape[0]} rows, expected {n}"
            )
        v = v.reshape(n, -1)
        if drop_z and v.shape[1] == 3 and not np.any(v[:, 2]):
            v = v[:, :2]
        if not np.all(np.isfinite(v)):
            raise MeshError(f"point-data field '{name}' of {src} has NaN or inf values")
        cols.append(v)
    return torch.from_numpy(np.hstack(cols).astype(np.float32))


def _check_degenerate(pos: np.ndarray, blocks: list[tuple[CellInfo, np.ndarray]], top: int,
                      src: str) -> list[np.ndarray]:
    """Cell measures ([C] per block); MeshError when a top-dimension cell has
    (numerically) zero length / area / volume."""
    if top > pos.shape[1]:
        raise MeshError(f"{src} has {top}-D cells but {pos.shape[1]}-D points")
    extent = float(np.ptp(pos, axis=0).max()) if len(pos) else 0.0
    tol = 1e-12 * extent**top
    measures = []
    for info, cells in blocks:
        m = cell_measures(pos, cells, info)
        measures.append(m)
        bad = np.flatnonzero(m <= tol)
        if len(bad):
            what = {1: "length", 2: "area", 3: "volume"}[info.dim]
            raise MeshError(f"{src} has {len(bad)} degenerate '{info.name}' cells of zero "
                            f"{what} (first: cell {int(bad[0])} with nodes "
                            f"{cells[bad[0]].tolist()}); expected cells of positive {what}")
    return measures


_EDGE_CHUNK = 1 << 18  # edges per block of _edge_attr


def _edge_attr(pos: np.ndarray, ei: np.ndarray) -> np.ndarray:
    """[E, d+1] float32: pos[target] - pos[source] and its norm.

    Computed from the float32 coordinates that ``Data.pos`` stores, so the
    attribute is exactly ``pos[i] - pos[j]`` of the graph. Blocks of edges with
    1-D gathers (``np.take``) from contiguous coordinate columns: the temporaries
    stay cache-sized and are reused by the allocator instead of fresh pages.
    """
    d = pos.shape[1]
    e = ei.shape[1]
    out = np.empty((e, d + 1), dtype=np.float32)
    coords = [np.ascontiguousarray(pos[:, c], dtype=np.float32) for c in range(d)]
    for lo in range(0, e, _EDGE_CHUNK):
        src, dst = ei[0, lo:lo + _EDGE_CHUNK], ei[1, lo:lo + _EDGE_CHUNK]
        sq = np.zeros(len(src), dtype=np.float32)
        for c in range(d):
            col = np.take(coords[c], dst)
            col -= np.take(coords[c], src)
            out[lo:lo + len(src), c] = col
            col *= col
            sq += col
        np.sqrt(sq, out=out[lo:lo + len(src), d])
    return out


def from_meshio(
    mesh_or_path: meshio.Mesh | str | os.PathLike,
    *,
    inputs: Sequence[str] = (),
    targets: Sequence[str] = (),
    edges: bool = True,
) -> Data:
    """Build the graph of a finite-element mesh.

    Args:
        mesh_or_path: a ``meshio.Mesh`` or a file in any format meshio reads.
        inputs: point-data fields stacked into ``x`` [N, F_in], in this order.
        targets: point-data fields stacked into ``y`` [N, F_out], in this order.
        edges: ``False``: ``edge_index`` [2, 0] and ``edge_attr`` [0, d+1] (a model that
            reads none, e.g. Transolver: ~170 bytes per node less), plus the boundary cells'
            edges ``boundary_edge_index`` [2, S] for the wall distance.

    Returns:
        ``Data`` with ``pos`` [N, d], ``edge_index`` [2, E], ``edge_attr`` [E, d+1],
        ``boundary`` [N], ``node_type`` [N], ``node_volume`` [N], ``x``/``y`` when
        fields are named, and ``cell_index`` [k, C] + ``cell_type`` (one top-dimension
        cell type) or ``mesh_cells`` (mixed types). N is the mesh's point count.

    Raises:
        MeshError: unreadable file, no cells, non-finite coordinates, unsupported
            cell type, out-of-range connectivity, missing or malformed field.
    """
    mesh, src = load_mesh(mesh_or_path)
    points = _checked_points(mesh, src)
    top = _top_dimension(mesh, src)
    n = len(points)
    blocks = _top_blocks(mesh, top, n, src)
    drop_z = points.shape[1] == 3 and top <= 2 and not np.any(points[:, 2])
    pos = points[:, :2] if drop_z else points

    # small results first: their temporaries do not stack on the large edge arrays
    measures = _check_degenerate(pos, blocks, top, src)
    volume = node_volume(pos, blocks, n, measures=measures).astype(np.float32)
    del measures
    boundary = boundary_mask(blocks, n)
    ei, edge_attr, boundary_ei = _graph_edges(pos, blocks, boundary, edges)
    data = Data(
        pos=torch.from_numpy(pos.astype(np.float32)),
        edge_index=torch.from_numpy(ei),
        edge_attr=torch.from_numpy(edge_attr),
        boundary=torch.from_numpy(boundary),
        node_type=torch.from_numpy(_node_types(mesh, top, boundary)),
        node_volume=torch.from_numpy(volume),
        num_nodes=n,
    )
    if boundary_ei is not None:
        data.boundary_edge_index = torch.from_numpy(boundary_ei)
    x = _stack_fields(mesh, inputs, n, drop_z, src, "input")
    if x is not None:
        data.x = x
    y = _stack_fields(mesh, targets, n, drop_z, src, "target")
    if y is not None:
        data.y = y
    _attach_cells(data, blocks)
    return data


def _graph_edges(pos: np.ndarray, blocks: list[tuple[CellInfo, np.ndarray]],
                 boundary: np.ndarray, edges: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(edge_index [2, E], edge_attr [E, d+1], None)``; without ``edges``: empty ones and
    the edges of the cells with two or more boundary nodes (``boundary_edge_index``)."""
    n = len(boundary)
    if edges:
        ei = mesh_edges(blocks, n)
        return ei, _edge_attr(pos, ei), None
    near = [(info, cells[boundary[cells].sum(axis=1) >= 2]) for info, cells in blocks]
    return (np.empty((2, 0), dtype=np.int64),
            np.empty((0, pos.shape[1] + 1), dtype=np.float32), mesh_edges(near, n))


def _checked_points(mesh: meshio.Mesh, src: str) -> np.ndarray:
    """The mesh's points as float64 [N, d], d in 1..3.

    Raises:
        MeshError: no points, a bad shape, or non-finite coordinates.
    """
    points = np.asarray(mesh.points, dtype=np.float64)
    if points.ndim != 2 or not 1 <= points.shape[1] <= 3 or len(points) == 0:
        raise MeshError(f"expected points of shape [N, 2] or [N, 3] in {src} "
                        f"(got {list(points.shape)})")
    if not np.all(np.isfinite(points)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(points), axis=1)))
        raise MeshError(f"{src} has {bad} points with NaN or inf coordinates")
    big = float(np.abs(points).max())
    if big > _FLOAT32_MAX:  # Data.pos is float32: they would become inf
        raise MeshError(f"{src} has coordinates up to {big:.3g}; expected magnitudes below "
                        f"{_FLOAT32_MAX:.3g} (the float32 range of the graph's positions)")
    return points


def _top_dimension(mesh: meshio.Mesh, src: str) -> int:
    """The highest topological dimension of the mesh's non-empty cell blocks (>= 1).

    Raises:
        MeshError: no cells, or only vertex cells.
    """
    cells = [b for b in mesh.cells if len(b.data)]
    if not cells:
        raise MeshError(f"{src} has no cells; expected lines, triangles, tetrahedra, ...")
    top = max(_dim_of(b) for b in cells)
    if top == 0:
        raise MeshError(f"{src} has only vertex cells; expected cells of dimension >= 1")
    return top


def _attach_cells(data: Data, blocks: list[tuple[CellInfo, np.ndarray]]) -> None:
    """Store the top-dimension cells: ``cell_index`` [k, C] + ``cell_type`` for one cell
    type, else ``mesh_cells`` [(type name, [C, k])]."""
    if len(blocks) == 1:
        info, c = blocks[0]
        if c.flags.writeable:  # torch's copy: plain pages, no huge-page compaction stall
            data.cell_index = torch.from_numpy(c).t().contiguous()
        else:
            data.cell_index = torch.from_numpy(np.ascontiguousarray(c.T))
        data.cell_type = info.name
    else:
        data.mesh_cells = [(info.name, torch.from_numpy(c)) for info, c in blocks]


#: Points closer than this times the mesh extent count as coincident.
COINCIDENT_TOL = 1e-10


def coincident_points(pos: np.ndarray | torch.Tensor,
                      cells: Sequence[np.ndarray | torch.Tensor]) -> int:
    """How many points used by ``cells`` repeat the position of another used point.

    A mesh exported without merging its nodes (each part, or each cell, with its own copy
    of shared points) has non-degenerate cells but a graph cut at every copy; predictions
    on it are garbage. Coordinates are binned on an integer grid (62 bits over the d
    axes) and points of equal bins are compared: exact duplicates are always found, points
    within ``COINCIDENT_TOL`` of the extent unless a bin border separates them.

    Args:
        pos: [N, d] point coordinates.
        cells: connectivity blocks [C, k] (indices into ``pos``).

    Returns:
        The count; a group of m coincident points counts m - 1.
    """
    pos = np.asarray(pos, dtype=np.float64)
    used = np.zeros(len(pos), dtype=bool)
    for c in cells:
        used[np.asarray(c, dtype=np.int64).ravel()] = True
    p = pos[used]
    if len(p) < 2:
        return 0
    lo = p.min(axis=0)
    extent = float(np.ptp(p, axis=0).max())
    if extent == 0.0:
        return len(p) - 1
    bits = 62 // p.shape[1]
    q = np.floor((p - lo) * (((1 << bits) - 1) / extent)).astype(np.int64)
    key = q[:, 0]
    for c in range(1, p.shape[1]):
        key = (key << bits) | q[:, c]
    order = np.argsort(key, kind="stable")
    same = np.flatnonzero(key[order[1:]] == key[order[:-1]])
    if len(same) == 0:
        return 0
    a, b = order[same], order[same + 1]
    return int(np.count_nonzero(np.linalg.norm(p[a] - p[b], axis=1) <= COINCIDENT_TOL * extent))
