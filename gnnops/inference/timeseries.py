"""Time series of node fields (rollout predictions) on networks and meshes.

Network layout (GraphML / GML; :func:`series_to_networkx`, :func:`read_network_series`)
-- a trajectory ``u: [N, T]`` at times ``t_0 < ... < t_{T-1}`` becomes

* node attributes ``u_t000, u_t001, ..., u_t{T-1}`` (floats; ``u_t<k>`` = ``u`` at ``t_k``;
  three digits, more when ``T > 1000``: the width is ``max(3, len(str(T - 1)))``);
  for a rollout ``u_t000`` is the given initial state;
* graph attributes ``time_series`` (the series' names, comma-separated, e.g. ``"u"``),
  ``times`` (JSON list of the ``T`` times, e.g. ``"[0.0, 0.1, 0.2]"``), ``n_times`` (``T``)
  and ``time_format`` (``"{name}_t{k:03d}"``);
* other per-node fields (e.g. ``residual``, the norm over steps of each node's ODE
  defects, and ``error_indicator``, the RMS over steps of its estimated error) as plain
  node attributes.

Node ids, edges, weights and the graph's own attributes are kept (the input graph is
copied). Mesh layout (:func:`write_mesh_series`): one VTU per time, ``<stem>_t<k>.vtu``,
each holding the fields at ``t_k`` as point data, and ``<stem>.pvd`` listing them with
their times -- ParaView opens the .pvd as an animation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from gnnops._atomic import atomic_open
from gnnops.errors import GraphError
from gnnops.inference.prediction import INDICATOR_FIELD, RESIDUAL_FIELD, Prediction

__all__ = ["time_format", "series_to_networkx", "read_network_series", "write_mesh_series",
           "write_pvd", "TimeSeriesPrediction"]


def time_format(n_times: int) -> str:
    """The attribute / file suffix format for ``n_times`` times: ``"{name}_t{k:03d}"``."""
    width = max(3, len(str(max(int(n_times) - 1, 0))))
    return "{name}_t{k:0" + str(width) + "d}"


def _check(name: str, values: Any, n: int, t: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape != (n, t):
        raise GraphError(f"time series '{name}' must be [N, T] = [{n}, {t}] "
                         f"(got {list(arr.shape)})")
    return arr


def series_to_networkx(graph_or_data: Any, series: Mapping[str, Any], times: Any, *,
                       static: Mapping[str, Any] | None = None) -> Any:
    """The network with time series as node attributes (layout in the module docstring).

    Args:
        graph_or_data: the original networkx graph (copied) or a ``Data`` with ``node_ids``.
        series: name -> ``[N, T]`` values.
        times: ``[T]`` times.
        static: name -> ``[N]`` or ``[N, k]`` per-node fields written as plain attributes.

    Returns:
        A new networkx graph.
    """
    import networkx as nx

    from gnnops.graphs import to_networkx

    t = np.asarray(times, dtype=np.float64).reshape(-1)
    base = to_networkx(graph_or_data, dict(static or {}))
    n = base.number_of_nodes()
    fmt = time_format(t.size)
    nodes = list(base.nodes)
    for name, values in series.items():
        arr = _check(name, values, n, t.size)
        for k in range(t.size):  # loop over times; nodes are set in one call
            nx.set_node_attributes(base, dict(zip(nodes, arr[:, k].tolist(), strict=True)),
                                   fmt.format(name=name, k=k))
    base.graph.update({"time_series": ",".join(series), "times": json.dumps(t.tolist()),
                       "n_times": int(t.size), "time_format": fmt})
    return base


def read_network_series(graph: Any, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values [N, T], times [T])`` of a time series written by :func:`series_to_networkx`.

    Args:
        graph: networkx graph (e.g. ``gnnops.graphs.read_network("pred.graphml")``).
        name: series name (default: the first in ``time_series``).

    Raises:
        GraphError: the graph carries no (such) time series.
    """
    from gnnops.graphs.network import node_attribute_matrix

    g = graph.graph
    names = [s for s in str(g.get("time_series", "")).split(",") if s]
    if not names or "times" not in g:
        raise GraphError("the network has no time series (graph attributes 'time_series' and "
                         f"'times' missing; has: {', '.join(map(str, g)) or 'none'})")
    name = names[0] if name is None else name
    if name not in names:
        raise GraphError(f"no time series {name!r} on the network; expected one of: "
                         f"{', '.join(names)}")
    times = np.asarray(json.loads(g["times"]), dtype=np.float64)
    fmt = str(g.get("time_format", time_format(times.size)))
    cols = [node_attribute_matrix(graph, fmt.format(name=name, k=k), role="time series")
            for k in range(times.size)]
    return np.hstack(cols), times


def write_pvd(path: str | os.PathLike, files: list[str], times: Any) -> Path:
    """Write a ParaView collection ``path`` (.pvd) of ``files`` (relative names) at ``times``."""
    p = Path(path)
    rows = "\n".join(f'    <DataSet timestep="{float(t)!r}" group="" part="0" '
                     f"file={quoteattr(f)}/>" for f, t in zip(files, times, strict=True))
    text = ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" '
            f'byte_order="LittleEndian">\n  <Collection>\n{rows}\n  </Collection>\n'
            "</VTKFile>\n")
    with atomic_open(p) as fh:
        fh.write(text)
    return p


def write_mesh_series(mesh_or_data: Any, series: Mapping[str, Any], times: Any,
                      path: str | os.PathLike, *,
                      static: Mapping[str, Any] | None = None) -> Path:
    """One VTU per time (``<stem>_t<k>.vtu`` next to ``path``) and the ``<stem>.pvd``.

    Args:
        mesh_or_data: the original ``meshio.Mesh`` or a mesh ``Data`` (cells recoverable).
        series: name -> ``[N, T]`` values.
        times: ``[T]`` times.
        path: the .pvd path (another suffix is replaced by .pvd).
        static: per-node fields written into every step's file.

    Returns:
        The .pvd path.
    """
    from gnnops.graphs import to_meshio
    from gnnops.graphs.io import write_mesh

    t = np.asarray(times, dtype=np.float64).reshape(-1)
    pvd = Path(path).with_suffix(".pvd")
    if not pvd.parent.is_dir():
        raise GraphError(f"cannot write '{pvd}': folder '{pvd.parent}' does not exist")
    n = len(mesh_or_data.points) if hasattr(mesh_or_data, "points") else \
        int(mesh_or_data.num_nodes)
    arrs = {k: _check(k, v, n, t.size) for k, v in series.items()}
    fmt = time_format(t.size)
    files = []
    for k in range(t.size):  # loop over times
        fields = {**dict(static or {}), **{name: a[:, k] for name, a in arrs.items()}}
        name = fmt.format(name=pvd.stem, k=k) + ".vtu"
        write_mesh(to_meshio(mesh_or_data, fields), pvd.parent / name)
        files.append(name)
    return write_pvd(pvd, files, t)


@dataclass
class TimeSeriesPrediction(Prediction):
    """A rollout prediction: ``fields[state]`` is ``[N, T]`` at :attr:`times`.

    Attributes:
        times: ``[T]`` times; column 0 is the given initial state.
        state: the name of the predicted series (e.g. ``"x"``, ``"u"``).
    """

    times: np.ndarray | None = None
    state: str = ""

    def _static(self) -> dict[str, np.ndarray]:
        out = {}
        if self.per_node_residual is not None:
            out[RESIDUAL_FIELD] = self.per_node_residual
        if self.error_indicator is not None:
            out[INDICATOR_FIELD] = self.error_indicator
        return out

    def to_networkx(self) -> Any:
        """The network with the series as node attributes ``<state>_t000, ...``."""
        base = self.graph if self.graph is not None else self.data
        return series_to_networkx(base, {self.state: self.fields[self.state]}, self.times,
                                  static=self._static())

    def to_meshio(self, *, include_inputs: bool = False) -> Any:
        """The mesh with the FINAL state (and the residual); use :meth:`write` for all steps."""
        from gnnops.graphs import to_meshio

        if self.kind == "network":
            raise GraphError("a network prediction has no mesh; write it to a .graphml file")
        fields = {**(dict(self.inputs) if include_inputs else {}), **self._static(),
                  self.state: self.fields[self.state][:, -1]}
        return to_meshio(self.mesh if self.mesh is not None else self.data, fields)

    def write(self, path: str | os.PathLike, *, file_format: str | None = None,
              include_inputs: bool = False) -> Path:
        """Networks: GraphML / GML with the time-series layout. Meshes: ``<stem>.pvd`` plus one
        ``<stem>_t<k>.vtu`` per time (any other suffix of ``path`` is replaced by .pvd).

        Returns:
            The written path (the .pvd for meshes).
        """
        if self.kind == "network":
            from gnnops.graphs import write_network

            return write_network(self.to_networkx(), Path(path))
        static = {**(dict(self.inputs) if include_inputs else {}), **self._static()}
        base = self.mesh if self.mesh is not None else self.data
        return write_mesh_series(base, {self.state: self.fields[self.state]}, self.times,
                                 path, static=static)
