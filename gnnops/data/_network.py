"""Network samples on disk: one graph per sample, GraphML + NPZ.

Each network sample draws its OWN graph of the split's family at the
resolution's node count (graph seed: first word of
``SeedSequence([seed, split_id, idx, 1, resolution])``), so a model sees many
graphs, not one. The initial-state recipe comes from ``default_rng([seed,
split_id, idx])`` as for meshes; a test sample uses the same recipe at every
resolution and in every test family.

Files of sample ``idx``:

* ``<idx:05d>.graphml``: structure and node ids (nodes ``0 .. N-1``), node
  positions flattened to ``pos_0, pos_1`` where the family has them, edge
  ``weight`` where present; graph attributes ``family``, ``seed``.
* ``<idx:05d>.npz``: every input and output field by name (``x0: [N]``,
  ``x: [N, T]``) and ``times: [T]``, in the GraphML node order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gnnops.errors import DataError

__all__ = ["draw_graph", "write_network_sample", "check_network_sample", "read_network_sample"]


def draw_graph(task: Any, ctx: Any) -> Any:
    """The seeded graph of a network task (``networkx.Graph``)."""
    from gnnops.graphs.families import make_graph

    gseed = int(np.random.SeedSequence(
        [ctx.seed, task.split_id, task.idx, 1, task.resolution]).generate_state(1)[0])
    return make_graph(task.family, int(ctx.node_counts[task.resolution]), seed=gseed,
                      **ctx.family_options)


def _flat_graph(g: Any) -> Any:
    import networkx as nx

    out = nx.DiGraph() if g.is_directed() else nx.Graph()
    for v, attrs in g.nodes(data=True):
        flat = {}
        for k, val in attrs.items():
            if isinstance(val, (tuple, list, np.ndarray)):
                flat.update({f"{k}_{i}": float(c) for i, c in enumerate(np.ravel(val))})
            elif isinstance(val, (bool, int, float, str, np.integer, np.floating)):
                flat[k] = val.item() if isinstance(val, np.generic) else val
        out.add_node(v, **flat)
    for u, v, attrs in g.edges(data=True):
        w = attrs.get("weight")
        out.add_edge(u, v, **({} if w is None else {"weight": float(w)}))
    out.graph.update({"family": str(g.graph.get("family", "")),
                      "seed": int(g.graph.get("seed", 0)),
                      "params": json.dumps({k: v for k, v in g.graph.items()
                                            if k not in ("family", "seed")}, default=str)})
    return out


def write_network_sample(g: Any, path: Path, inputs: dict[str, Any], outputs: dict[str, Any],
                         problem: Any) -> None:
    """Write ``path`` (``.graphml``) and its ``.npz`` atomically (NPZ first, GraphML last)."""
    import networkx as nx

    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in {**inputs, **outputs}.items()}
    if getattr(problem, "time_dependent", False) and hasattr(problem, "times"):
        arrays["times"] = np.asarray(problem.times(), dtype=np.float64)
    npz = path.with_suffix(".npz")
    tmp_npz = npz.with_name(f".{npz.stem}.{os.getpid()}.tmp.npz")
    tmp_gml = path.with_name(f".{path.stem}.{os.getpid()}.tmp.graphml")
    try:
        np.savez(tmp_npz, **arrays)
        nx.write_graphml(_flat_graph(g), tmp_gml)
        os.replace(tmp_npz, npz)
        os.replace(tmp_gml, path)
    finally:
        tmp_npz.unlink(missing_ok=True)
        tmp_gml.unlink(missing_ok=True)


def check_network_sample(path: Path) -> dict[str, list[int]] | None:
    """Field shapes of a finished network sample, or None when a file is missing/corrupt."""
    npz = path.with_suffix(".npz")
    if not npz.is_file():
        return None
    try:
        with np.load(npz) as z:
            return {k: list(z[k].shape[1:]) for k in z.files if k != "times"}
    except Exception:  # corrupt or truncated archive: produce it again
        return None


def read_network_sample(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """``(graph, arrays)`` of a network sample: the GraphML graph (int node ids, ``pos``
    restored as a tuple) and the NPZ arrays.

    Raises:
        DataError: missing or unreadable file.
    """
    import networkx as nx

    npz = path.with_suffix(".npz")
    for p in (path, npz):
        if not p.is_file():
            raise DataError(f"sample file listed in the manifest is missing: '{p}'")
    try:
        g = nx.read_graphml(path, node_type=int)
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # xml / zip parsers raise many kinds
        raise DataError(f"cannot read network sample '{path}': {type(exc).__name__}: {exc}") \
            from exc
    nodes = list(g.nodes)
    if nodes and "pos_0" in g.nodes[nodes[0]]:
        cols = sorted(k for k in g.nodes[nodes[0]] if k.startswith("pos_"))
        for v in nodes:
            a = g.nodes[v]
            a["pos"] = tuple(float(a.pop(c)) for c in cols)
    return g, arrays
