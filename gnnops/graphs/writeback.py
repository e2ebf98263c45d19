"""Node fields (predictions) -> ``meshio.Mesh`` on the original cells.

The cells are taken from, in this order:

1. a ``meshio.Mesh`` passed instead of a ``Data`` (the original mesh: every cell
   block, its cell data and field data are kept, the fields are added to
   ``point_data``);
2. ``data.cell_index`` [k, C] and ``data.cell_type`` (one top-dimension type);
3. ``data.mesh_cells``: list of ``(cell type, LongTensor [C, k])`` (mixed types).

Points come from ``data.pos`` padded with a zero z column (VTU/XDMF readers such
as ParaView expect 3-D points). Write the result with :func:`write_mesh` (atomic)
or ``meshio.write``.
"""

from __future__ import annotations

from collections.abc import Mapping

import meshio
import numpy as np
import torch
from torch_geometric.data import Data

from gnnops.errors import GraphError, MeshError

__all__ = ["to_meshio"]


def _as_numpy(name: str, value: object, n: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise MeshError(f"field '{name}' must be numeric (got dtype {arr.dtype})")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise MeshError(
            f"field '{name}' must have one row per mesh point: expected [{n}] or [{n}, k] "
            f"(got {list(arr.shape)})"
        )
    if arr.ndim > 2:
        arr = arr.reshape(n, -1)
    return arr


def _cells_of(data: Data) -> list[tuple[str, np.ndarray]]:
    if getattr(data, "cell_index", None) is not None and getattr(data, "cell_type", None):
        ctype = data.cell_type
        if isinstance(ctype, (list, tuple)):
            raise GraphError(
                "expected one graph, got a batch of "
                f"{len(ctype)}; write each sample back separately (Batch.to_data_list())"
            )
        return [(ctype, data.cell_index.detach().cpu().numpy().T.copy())]
    blocks = getattr(data, "mesh_cells", None)
    if blocks:
        return [(str(t), torch.as_tensor(c).cpu().numpy()) for t, c in blocks]
    raise GraphError(
        "the Data has neither cell_index/cell_type nor mesh_cells, so its cells cannot be "
        "recovered; pass the original meshio.Mesh to to_meshio instead"
    )


def to_meshio(
    data_or_mesh: Data | meshio.Mesh, fields: Mapping[str, object]
) -> meshio.Mesh:
    """Write node fields onto the mesh cells.

    Args:
        data_or_mesh: the original ``meshio.Mesh`` or a ``Data`` built by
            :func:`gnnops.graphs.from_meshio`.
        fields: name -> array or tensor [N] or [N, k] (one row per point).

    Returns:
        A new ``meshio.Mesh`` with the fields in ``point_data``.

    Raises:
        MeshError: a field of the wrong length or type.
        GraphError: a Data whose cells cannot be recovered.
    """
    if isinstance(data_or_mesh, meshio.Mesh):
        mesh = data_or_mesh
        n = len(mesh.points)
        point_data = {k: np.asarray(v) for k, v in mesh.point_data.items()}
        point_data.update({k: _as_numpy(k, v, n) for k, v in fields.items()})
        return meshio.Mesh(
            mesh.points, mesh.cells, point_data=point_data,
            cell_data={k: list(v) for k, v in mesh.cell_data.items()},
            field_data=dict(mesh.field_data), point_sets=dict(mesh.point_sets),
            cell_sets=dict(mesh.cell_sets),
        )
    if not isinstance(data_or_mesh, Data):
        raise GraphError(
            f"expected a torch_geometric Data or a meshio.Mesh, got {type(data_or_mesh).__name__}"
        )
    data = data_or_mesh
    if getattr(data, "pos", None) is None:
        raise GraphError("the Data has no pos, so it has no mesh points to write")
    pos = data.pos.detach().cpu().numpy().astype(np.float64)
    n = len(pos)
    if pos.shape[1] < 3:
        pos = np.hstack([pos, np.zeros((n, 3 - pos.shape[1]))])
    cells = _cells_of(data)
    point_data = {k: _as_numpy(k, v, n) for k, v in fields.items()}
    return meshio.Mesh(pos, cells, point_data=point_data)
