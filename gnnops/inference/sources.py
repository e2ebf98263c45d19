"""Turn what the user hands to ``Predictor.predict`` into a raw graph with its inputs.

A source is a path (a mesh file in any format meshio reads, or a ``.graphml`` /
``.gml`` network), a ``meshio.Mesh``, a networkx graph or a ``torch_geometric``
``Data``. Input fields come from the mesh's point data (networks: node
attributes; ``Data``: its ``x``) or from keyword arrays / scalars; a scalar
broadcasts to every node. The result carries the raw (physical-unit) inputs in
``data.x``, columns in the recipe's order, ready for ``prepare_graph``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from gnnops.errors import GraphError
from gnnops.surrogate.recipe import Recipe, as_recipe

__all__ = ["Source", "NETWORK_SUFFIXES", "load_source", "split_columns", "is_network_path"]

NETWORK_SUFFIXES = (".graphml", ".gml")


@dataclass
class Source:
    """A prediction source resolved to a graph.

    Attributes:
        name: the path, or a short description of an in-memory object.
        kind: ``"mesh"`` or ``"network"``.
        data: raw graph; ``x`` [N, F_in] holds the raw input columns.
        inputs: input name -> per-node array (``[N]`` or ``[N, d]``), physical units.
        mesh: the ``meshio.Mesh`` the graph came from (meshes), else ``None``.
        graph: the networkx graph (networks), else ``None``.
        flags: reliability notes about how the source was read (e.g. edge weights
            ignored or taken as 1), added to the prediction's flags.
    """

    name: str
    kind: str
    data: Data
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    mesh: Any = None
    graph: Any = None
    flags: list[str] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.data.num_nodes)


def is_network_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a network file (GraphML or GML)."""
    return str(path).lower().endswith(NETWORK_SUFFIXES)


def split_columns(x: np.ndarray, names: Sequence[str],
                  dims: Sequence[int]) -> dict[str, np.ndarray]:
    """Split stacked columns ``x`` [N, sum(dims)] into named fields ([N] when dim is 1)."""
    out, start = {}, 0
    for name, d in zip(names, dims, strict=True):
        col = x[:, start:start + d]
        out[name] = col[:, 0].copy() if d == 1 else col.copy()
        start += d
    return out


def _as_field(value: Any, n: int, dim: int, name: str, where: str) -> np.ndarray:
    """A keyword / stored input as a float64 array [N] (dim 1) or [N, dim]."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr)) if dim == 1 else np.full((n, dim), float(arr))
    if arr.ndim == 1 and dim > 1 and arr.shape[0] == dim:  # one vector for every node
        return np.broadcast_to(arr, (n, dim)).copy()
    if arr.shape[0] != n:
        raise GraphError(f"input '{name}' from {where} has {arr.shape[0]} values; expected one "
                         f"per node ({n}) or a scalar")
    arr = arr.reshape(n, -1)
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        raise GraphError(f"input '{name}' from {where} has NaN or inf values at {bad} of {n} "
                         f"nodes; expected finite numbers")
    if arr.shape[1] == 3 and dim == 2 and not np.any(arr[:, 2]):  # 2D vector stored with z=0
        arr = arr[:, :2]
    if arr.shape[1] != dim:
        raise GraphError(f"input '{name}' from {where} has {arr.shape[1]} components; "
                         f"expected {dim}")
    return arr[:, 0] if dim == 1 else arr


def _check_names(kwargs: Mapping[str, Any], names: Sequence[str]) -> None:
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise GraphError(f"unknown input field {unknown[0]!r}; this model takes: "
                         f"{', '.join(names) or 'no inputs'}")


def _stack(fields: Mapping[str, np.ndarray], names: Sequence[str], n: int) -> torch.Tensor:
    if not names:
        return torch.zeros((n, 0), dtype=torch.float32)
    cols = [np.asarray(fields[k], dtype=np.float64).reshape(n, -1) for k in names]
    return torch.from_numpy(np.hstack(cols).astype(np.float32))


def _from_mesh(mesh: Any, name: str, recipe: Recipe, kwargs: Mapping[str, Any],
               edges: bool = True) -> Source:
    import meshio

    from gnnops.graphs import from_meshio

    names, dims = list(recipe.inputs), list(recipe.input_dims)
    n = len(mesh.points)
    fields: dict[str, np.ndarray] = {}
    for k, d in zip(names, dims, strict=True):
        if k in kwargs:
            fields[k] = _as_field(kwargs[k], n, d, k, "the keyword arguments")
        elif k in mesh.point_data:
            fields[k] = _as_field(mesh.point_data[k], n, d, k, name)
        else:
            have = ", ".join(sorted(mesh.point_data)) or "none"
            raise GraphError(f"input field '{k}' is neither point data of {name} (has: {have}) "
                             f"nor given as a keyword argument")
    # the graph is built from the mesh alone; inputs are stacked here in recipe order
    bare = meshio.Mesh(mesh.points, mesh.cells, cell_data=mesh.cell_data,
                       field_data=mesh.field_data, point_sets=mesh.point_sets,
                       cell_sets=mesh.cell_sets)
    data = from_meshio(bare, edges=edges)
    data.x = _stack(fields, names, n)
    return Source(name=name, kind="mesh", data=data, inputs=fields, mesh=mesh)


def _from_network(graph: Any, name: str, recipe: Recipe, kwargs: Mapping[str, Any]) -> Source:
    from gnnops.graphs import from_networkx

    names, dims = list(recipe.inputs), list(recipe.input_dims)
    stored = [k for k in names if k not in kwargs]
    weight, flags = _weight_attribute(graph, name, recipe)
    data = from_networkx(graph, inputs=stored, edge_weight=weight)
    n = int(data.num_nodes)
    _check_network_edges(data, name, recipe)
    have = {}
    if stored:
        have = split_columns(data.x.double().numpy(), stored,
                             [d for k, d in zip(names, dims, strict=True) if k not in kwargs])
    fields = {k: (_as_field(kwargs[k], n, d, k, "the keyword arguments") if k in kwargs
                  else _as_field(have[k], n, d, k, name)) for k, d in zip(names, dims, strict=True)}
    data.x = _stack(fields, names, n)
    return Source(name=name, kind="network", data=data, inputs=fields, graph=graph,
                  flags=flags)


def _weight_attribute(graph: Any, name: str, recipe: Recipe) -> tuple[str | None, list[str]]:
    """The edge attribute to read as weights -- the one the model was trained with -- and
    the flags of a mismatch.

    A model trained on weighted networks (``recipe.edge_weight``) reads that attribute (a
    network without it on any edge gets weights 1 and a flag; one with it on only some
    edges is a GraphError from ``from_networkx``); a model trained on unweighted networks
    reads none, and a network with weights gets a flag saying they were ignored.
    """
    key = recipe.edge_weight
    present = {k for _, _, d in graph.edges(data=True) for k in d}
    if key is not None:
        if key in present:
            return key, []
        return None, [f"edge_weights_missing: the model was trained on networks weighted by "
                      f"edge attribute '{key}', which {name} does not have; every weight "
                      f"was taken as 1"]
    if "weight" in present and recipe.kind == "network":
        return None, [f"edge_weights_ignored: {name} has edge attribute 'weight' but the "
                      f"model was trained on unweighted networks; the weights were not used"]
    return None, []


def _check_network_edges(data: Data, name: str, recipe: Recipe) -> None:
    """GraphError for a network without edges, or a directed one for an undirected model."""
    ei = data.edge_index
    n = int(data.num_nodes)
    if ei.shape[1] == 0:
        raise GraphError(f"network {name} has {n} node(s) and no edges; expected at least one "
                         f"edge for the model to pass messages along")
    if recipe.undirected:
        keys = ei[0] * n + ei[1]
        one_way = int((~torch.isin(ei[1] * n + ei[0], keys)).sum())
        if one_way:
            raise GraphError(f"the model was trained on undirected networks, but {name} is "
                             f"directed ({one_way} of {ei.shape[1]} edges have no reverse edge); "
                             f"pass G.to_undirected() or read_network(path, directed=False)")


def _from_data(data: Data, recipe: Recipe, kwargs: Mapping[str, Any]) -> Source:
    names, dims = list(recipe.inputs), list(recipe.input_dims)
    n = int(data.num_nodes)
    data = data.clone()
    x = getattr(data, "x", None)
    have: dict[str, np.ndarray] = {}
    if x is not None and x.dim() == 2 and x.shape[1] >= sum(dims):
        have = split_columns(x[:, :sum(dims)].double().numpy(), names, dims)
    fields = {}
    for k, d in zip(names, dims, strict=True):
        if k in kwargs:
            fields[k] = _as_field(kwargs[k], n, d, k, "the keyword arguments")
        elif k in have:
            fields[k] = have[k]
        else:
            raise GraphError(f"input field '{k}' is missing: the Data has x of shape "
                             f"{None if x is None else list(x.shape)} (expected [N, {sum(dims)}]) "
                             f"and no keyword argument '{k}' was given")
    data.x = _stack(fields, names, n)
    if hasattr(data, "y"):
        del data.y
    kind = "mesh" if getattr(data, "pos", None) is not None and (
        hasattr(data, "cell_index") or hasattr(data, "mesh_cells")) else "network"
    return Source(name="<Data>", kind=kind, data=data, inputs=fields)


def load_source(source: Any, recipe: Recipe | Mapping[str, Any],
                inputs: Mapping[str, Any] | None = None, *, edges: bool = True) -> Source:
    """Resolve ``source`` into a :class:`Source`.

    Args:
        source: path, ``meshio.Mesh``, networkx graph or ``Data``.
        recipe: the artifact's graph recipe (``inputs``, ``input_dims``, ``undirected``; a
            mapping is read by ``Recipe.from_json``).
        inputs: keyword input fields overriding stored ones (arrays [N] / [N, d] or scalars).
        edges: build a mesh's edges (``False``: for a model that reads none, see
            :func:`gnnops.graphs.from_meshio`); networks and ``Data`` keep theirs.

    Raises:
        GraphError: unknown or missing input field, wrong length, unsupported source.
        MeshError: unreadable mesh file.
    """
    kwargs = dict(inputs or {})
    recipe = as_recipe(recipe)
    _check_names(kwargs, list(recipe.inputs))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if is_network_path(path):
            from gnnops.graphs import read_network

            return _from_network(read_network(path), str(path), recipe, kwargs)
        from gnnops.graphs.io import read_mesh

        return _from_mesh(read_mesh(path), str(path), recipe, kwargs, edges)
    if isinstance(source, Data):
        return _from_data(source, recipe, kwargs)
    if hasattr(source, "points") and hasattr(source, "cells"):
        return _from_mesh(source, "<meshio.Mesh>", recipe, kwargs, edges)
    if hasattr(source, "nodes") and hasattr(source, "edges"):
        return _from_network(source, f"<{type(source).__name__}>", recipe, kwargs)
    raise GraphError(f"expected a mesh / network path, a meshio.Mesh, a networkx graph or a "
                     f"Data to predict on (got {type(source).__name__})")
