"""networkx graph <-> ``torch_geometric.data.Data`` for biological networks.

Node order is ``list(G.nodes)`` (insertion order); the original ids ride along
in ``data.node_ids`` so predictions go back to the right nodes. An undirected
graph gives both directions of every edge, a directed one its edges as given
(row 0 = source). Self loops are dropped (schema: no self loops) and parallel
edges of a multigraph are merged, the first one's weight kept. Isolated nodes
are kept.

Node attributes become features: a number is one column, a list/array several.
Because GraphML and GML cannot store arrays, a vector attribute ``u`` of length
k is stored flat as ``u_0, u_1, ..., u_{k-1}`` (see :func:`flatten_attributes`);
asking for ``u`` on a graph that only has ``u_0..u_{k-1}`` stacks them back.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

from gnnops.errors import GraphError

__all__ = ["from_networkx", "to_networkx", "flatten_attributes", "node_attribute_matrix"]


def _attr_names(G: nx.Graph) -> list[str]:
    names: set[str] = set()
    for _, attrs in G.nodes(data=True):
        names.update(attrs)
    return sorted(names)


def _flat_columns(G: nx.Graph, name: str) -> list[str]:
    """``name_0, name_1, ...`` when present on the first node (the flat layout)."""
    first = next(iter(G.nodes(data=True)))[1]
    cols = []
    while f"{name}_{len(cols)}" in first:
        cols.append(f"{name}_{len(cols)}")
    return cols


def node_attribute_matrix(G: nx.Graph, name: str, *, role: str = "node") -> np.ndarray:
    """Stack one node attribute over ``G.nodes`` into a float matrix.

    Args:
        G: the graph.
        name: attribute name; a number per node gives 1 column, a list k columns;
            if absent, the flat layout ``name_0..name_{k-1}`` is stacked instead.
        role: word used in error messages ("input", "target", ...).

    Returns:
        [N, k] float64.

    Raises:
        GraphError: attribute missing (lists the available ones), missing on some
            node, ragged or not numeric.
    """
    nodes = G.nodes
    present = any(name in a for _, a in G.nodes(data=True))
    cols = [name] if present else _flat_columns(G, name)
    if not cols:
        have = ", ".join(_attr_names(G)) or "none"
        raise GraphError(
            f"{role} attribute '{name}' is not on the network's nodes; node attributes: {have}"
        )
    mats = []
    for col in cols:
        values = [a.get(col) for _, a in nodes(data=True)]
        missing = [u for u, v in zip(nodes, values, strict=True) if v is None]
        if missing:
            raise GraphError(
                f"{role} attribute '{col}' is missing on {len(missing)} of {len(values)} nodes "
                f"(first: {missing[0]!r})"
            )
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise GraphError(
                f"{role} attribute '{col}' must be a number or an equal-length list of "
                f"numbers on every node ({exc})"
            ) from exc
        mats.append(arr.reshape(len(values), -1))
    return np.hstack(mats)


def _stack(G: nx.Graph, names: Sequence[str], role: str) -> torch.Tensor | None:
    if isinstance(names, str):
        names = (names,)
    if not names:
        return None
    mat = np.hstack([node_attribute_matrix(G, nm, role=role) for nm in names])
    if not np.all(np.isfinite(mat)):
        raise GraphError(f"{role} attributes {list(names)} have NaN or inf values")
    return torch.from_numpy(mat.astype(np.float32))


def from_networkx(
    G: nx.Graph,
    *,
    inputs: Sequence[str] = (),
    targets: Sequence[str] = (),
    edge_weight: str | None = None,
) -> Data:
    """Build the graph ``Data`` of a network.

    Args:
        G: a networkx Graph / DiGraph (multigraphs are merged).
        inputs: node attributes stacked into ``x`` [N, F_in], in this order.
        targets: node attributes stacked into ``y`` [N, F_out].
        edge_weight: edge attribute used as weight; ones when None.

    Returns:
        ``Data`` with ``edge_index`` [2, E], ``edge_weight`` [E], ``edge_attr`` [E, 1],
        ``x``/``y`` when named, ``boundary`` (all False), ``node_type`` (zeros),
        ``node_volume`` (ones), ``node_ids`` (list, original ids), ``pos`` [N, d]
        when every node has a ``pos`` attribute.

    Raises:
        GraphError: not a graph, empty, missing attribute or weight.
    """
    if not isinstance(G, nx.Graph):
        raise GraphError(f"expected a networkx graph, got {type(G).__name__}")
    n = G.number_of_nodes()
    if n == 0:
        raise GraphError("the network is empty: expected at least one node, got 0")
    nodes = list(G.nodes)
    edge_index, weight = _edges(G, nodes, edge_weight)
    data = Data(
        edge_index=edge_index,
        edge_weight=weight,
        edge_attr=weight[:, None].clone(),
        boundary=torch.zeros(n, dtype=torch.bool),
        node_type=torch.zeros(n, dtype=torch.long),
        node_volume=torch.ones(n),
        num_nodes=n,
    )
    data.node_ids = nodes
    x, y = _stack(G, inputs, "input"), _stack(G, targets, "target")
    if x is not None:
        data.x = x
    if y is not None:
        data.y = y
    try:
        data.pos = torch.from_numpy(node_attribute_matrix(G, "pos").astype(np.float32))
    except GraphError:
        pass  # no layout: networks may have no positions
    return data


def _edge_triples(G: nx.Graph, nodes: list[Hashable], edge_weight: str | None) -> np.ndarray:
    """``(source index, target index, weight)`` of every edge of ``G`` as given, [E, 3].

    Raises:
        GraphError: the weight attribute is missing on some edge or not a number.
    """
    index = {u: i for i, u in enumerate(nodes)}
    if edge_weight is None:
        triples = [(index[u], index[v], 1.0) for u, v in G.edges()]
    else:
        triples = [(index[u], index[v], w) for u, v, w in G.edges(data=edge_weight)]
        missing = [(nodes[s], nodes[t]) for s, t, w in triples if w is None]
        if missing:
            have: set[str] = set()
            for _, _, a in G.edges(data=True):
                have.update(a)
            raise GraphError(
                f"edge weight '{edge_weight}' is missing on {len(missing)} of {len(triples)} "
                f"edges (first: {missing[0]!r}); edge attributes: "
                f"{', '.join(sorted(have)) or 'none'}"
            )
    try:
        return np.asarray(triples, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError) as exc:
        raise GraphError(f"edge weight '{edge_weight}' must be a number on every edge "
                         f"({exc})") from None


def _edges(G: nx.Graph, nodes: list[Hashable],
           edge_weight: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``edge_index`` [2, E] (both directions when undirected, self loops dropped, parallel
    edges merged keeping the first weight, sorted by (source, target)) and weights [E].

    Raises:
        GraphError: a missing, non-numeric or non-finite weight.
    """
    n = len(nodes)
    arr = _edge_triples(G, nodes, edge_weight)
    src, dst, w = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
    if not G.is_directed():
        src, dst, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.tile(w, 2)
    keep = src != dst
    keys, first = np.unique(src[keep] * n + dst[keep], return_index=True)
    w = w[keep][first]
    if not np.all(np.isfinite(w)):
        raise GraphError(f"edge weight '{edge_weight}' has NaN or inf values")
    edge_index = torch.from_numpy(np.stack([keys // n, keys % n]))
    return edge_index, torch.from_numpy(w.astype(np.float32))


def _columns(name: str, value: object, n: int) -> list:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise GraphError(
            f"field '{name}' must have one row per node: expected [{n}] or [{n}, k] "
            f"(got {list(arr.shape)})"
        )
    arr = arr.reshape(n, -1)
    return arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()


def to_networkx(data_or_graph: Data | nx.Graph, fields: Mapping[str, object]) -> nx.Graph:
    """Put node fields (predictions) on a network as node attributes.

    Args:
        data_or_graph: the original networkx graph (copied, ids and attributes kept)
            or a ``Data`` from :func:`from_networkx` (ids from ``data.node_ids``,
            DiGraph unless ``edge_index`` is symmetric, weights as ``weight``).
        fields: name -> array or tensor [N] (float attribute) or [N, k] (list of k
            floats; :func:`write_network` flattens it to ``name_0..name_{k-1}``).

    Returns:
        A new networkx graph.

    Raises:
        GraphError: a field of the wrong length, or a Data without edge_index.
    """
    if isinstance(data_or_graph, nx.Graph):
        H = data_or_graph.copy()
    elif isinstance(data_or_graph, Data):
        data = data_or_graph
        n = int(data.num_nodes)
        ids = list(getattr(data, "node_ids", None) or range(n))
        if len(ids) != n:
            raise GraphError(f"data.node_ids has {len(ids)} ids for {n} nodes")
        ei = data.edge_index.detach().cpu().numpy()
        keys = ei[0] * n + ei[1]
        symmetric = bool(np.isin(ei[1] * n + ei[0], keys).all())
        H = nx.Graph() if symmetric else nx.DiGraph()
        H.add_nodes_from(ids)
        w = getattr(data, "edge_weight", None)
        w = w.detach().cpu().numpy().tolist() if w is not None else [1.0] * ei.shape[1]
        H.add_edges_from((ids[s], ids[t], {"weight": wt})
                         for s, t, wt in zip(ei[0].tolist(), ei[1].tolist(), w, strict=True))
    else:
        raise GraphError(
            f"expected a torch_geometric Data or a networkx graph, got "
            f"{type(data_or_graph).__name__}"
        )
    nodes = list(H.nodes)
    for name, value in fields.items():
        values = _columns(name, value, len(nodes))
        nx.set_node_attributes(H, dict(zip(nodes, values, strict=True)), name)
    return H


def flatten_attributes(G: nx.Graph) -> nx.Graph:
    """Copy of ``G`` whose list/array/tensor attributes are split into ``name_i`` scalars.

    Node, edge and graph attributes are flattened; numpy scalars become Python
    numbers (GraphML and GML writers accept only those).
    """
    def flat(attrs: Mapping[Hashable, object]) -> dict:
        out: dict = {}
        for k, v in attrs.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu().numpy()
            if isinstance(v, (list, tuple, np.ndarray)):
                for i, item in enumerate(np.asarray(v).ravel().tolist()):
                    out[f"{k}_{i}"] = item
            elif isinstance(v, np.generic):
                out[k] = v.item()
            else:
                out[k] = v
        return out

    H = G.__class__()
    H.graph.update(flat(G.graph))
    H.add_nodes_from((u, flat(a)) for u, a in G.nodes(data=True))
    H.add_edges_from((u, v, flat(a)) for u, v, a in G.edges(data=True))
    return H
