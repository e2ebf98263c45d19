"""Meshes and networks <-> ``torch_geometric.data.Data`` (the shared graph schema).

Public API (each name is imported from its submodule on first use, so importing
this package is cheap; ``read_mesh`` / ``write_mesh`` never load torch):

- :func:`from_meshio` -- mesh (``meshio.Mesh`` or any file meshio reads) -> ``Data``.
- :func:`to_meshio` -- node fields back onto the mesh cells -> ``meshio.Mesh``.
- :func:`read_mesh`, :func:`write_mesh` -- meshio I/O with gnnops errors; atomic write.
- :func:`from_networkx`, :func:`to_networkx` -- network <-> ``Data`` / predictions.
- :func:`radius_graph` -- ball neighbourhoods without torch-cluster (see :mod:`.radius`).
- :func:`read_network`, :func:`write_network` -- GraphML, GML, node-link JSON, edge lists.
- :func:`set_limits`, :func:`get_limits`, :func:`reset_limits` -- per-input size limits of
  every file read (nodes, cells, decompressed bytes; see :mod:`.safety`).

Schema choices for meshes (the README's "Graph schema" and ARCHITECTURE.md give the overview):

- **Edges** come from the cells of the highest topological dimension present:
  every cell edge in both directions, deduplicated, no self loops. Quads and
  hexes get no diagonals. A second-order edge is corner -> mid-node -> corner
  (two graph edges); face/volume-interior nodes (quad9, wedge18, pyramid14,
  hexahedron27) join the lines of the cell's tensor-product lattice: a face
  centre connects to its face's mid-edge nodes, hexahedron27's volume centre to
  the six face centres. Lower-dimensional cells (boundary lines, boundary
  triangles of a tet mesh, vertices) contribute tags only.
- **Unused points** (no top-dimension cell uses them) stay as isolated nodes so
  node i is mesh point i; they are not boundary and have ``node_volume`` 0.
- ``pos`` drops an all-zero z column of a mesh whose cells are at most 2-D.
  A 3-column point-data field whose z column is all zero is cut to 2 columns in
  that case too (VTK pads 2-D vectors to 3); every other field keeps its columns
  (``[N]`` -> 1 column, ``[N, k]`` -> k, ``[N, a, b]`` -> a*b).
- ``boundary``: nodes of the facets (matched by sorted corner nodes) that belong
  to exactly one top-dimension cell; all nodes of such a facet, mid-nodes included.
- ``node_type`` precedence: integer tags of lower-dimensional cells, read from the
  first cell-data key present of ``gmsh:physical``, ``medit:ref``,
  ``CellEntityIds``, ``cell_tags``, ``tags``, ``ref``. A node takes the tag of the
  lowest-dimension tagged cells it belongs to (a point tag beats a curve tag
  beats a surface tag); among cells of that dimension the largest tag wins.
  Nodes in no tagged lower-dimensional cell get 0. Tags of the top-dimension
  cells (the surface / volume group) are ignored. Without lower-dimensional
  tags: 0 interior / 1 boundary.
- ``node_volume``: each top-dimension cell's measure (simplices by determinant;
  quads, hexes, wedges, pyramids split into simplices; second-order cells by
  their corners) split equally among all its nodes.
- **What rides along** for residuals and write-back: ``cell_index`` [k, C] (long,
  offset by PyG batching) and ``cell_type`` (meshio name) when all top-dimension
  cells have one type; otherwise ``mesh_cells``, a list of ``(type, LongTensor
  [C, k])`` blocks (not offset by batching: write back per sample).
  :func:`to_meshio` rebuilds a writable mesh from either, or takes the original
  ``meshio.Mesh`` to keep every block and tag.

Networks: see :mod:`gnnops.graphs.network` (``node_ids``, ``edge_weight``,
``edge_attr`` [E, 1], ``node_volume`` ones) and :mod:`gnnops.graphs.network_io`
(file layouts; vector attributes stored as ``u_0, u_1, ...`` in GraphML/GML).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> submodule; imported on first access (PEP 562), so that e.g.
# ``from gnnops.graphs import read_mesh`` does not pay for torch / torch_geometric
_LAZY = {
    "from_meshio": "mesh",
    "load_mesh": "mesh",
    "TAG_KEYS": "mesh",
    "to_meshio": "writeback",
    "read_mesh": "io",
    "write_mesh": "io",
    "from_networkx": "network",
    "to_networkx": "network",
    "read_network": "network_io",
    "write_network": "network_io",
    "radius_graph": "radius",
    "set_limits": "safety",
    "get_limits": "safety",
    "reset_limits": "safety",
}

__all__ = [
    "from_meshio",
    "to_meshio",
    "read_mesh",
    "write_mesh",
    "load_mesh",
    "from_networkx",
    "to_networkx",
    "read_network",
    "write_network",
    "radius_graph",
    "TAG_KEYS",
    "set_limits",
    "get_limits",
    "reset_limits",
]

if TYPE_CHECKING:  # static analysers and IDEs see the real objects
    from gnnops.graphs.io import read_mesh, write_mesh
    from gnnops.graphs.mesh import TAG_KEYS, from_meshio, load_mesh
    from gnnops.graphs.network import from_networkx, to_networkx
    from gnnops.graphs.network_io import read_network, write_network
    from gnnops.graphs.radius import radius_graph
    from gnnops.graphs.safety import get_limits, reset_limits, set_limits
    from gnnops.graphs.writeback import to_meshio


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gnnops.graphs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gnnops.graphs.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
