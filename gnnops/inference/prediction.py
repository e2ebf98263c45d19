"""The result of one prediction: fields per node, physics residual, flags, timings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch_geometric.data import Data

from gnnops.errors import GraphError

__all__ = ["Prediction", "RESIDUAL_FIELD"]

# name of the per-node residual in written files
RESIDUAL_FIELD = "residual"


@dataclass
class Prediction:
    """A model's prediction on one mesh or network.

    Attributes:
        fields: output name -> per-node array ``[N]`` or ``[N, d]`` (physical units).
        inputs: input name -> per-node array the model was given.
        residual: relative physics residual of ``fields`` (``None`` without a problem).
        per_node_residual: absolute residual per node ``[N]`` (or ``None``).
        flags: out-of-distribution / sanity flags (see :mod:`gnnops.inference.reliability_flags`).
        timings: seconds spent in ``"graph"``, ``"model"`` and ``"residual"``.
        source: the path predicted on, or a description of the in-memory object.
        kind: ``"mesh"`` or ``"network"``.
        data: the raw graph (``x`` = raw inputs).
        mesh: the original ``meshio.Mesh`` (meshes read from a file or given), else None.
        graph: the original networkx graph (networks), else None.
        problem: name of the physical problem (or None).
    """

    fields: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    residual: float | None = None
    per_node_residual: np.ndarray | None = None
    flags: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    kind: str = "mesh"
    data: Data | None = None
    mesh: Any = None
    graph: Any = None
    problem: str | None = None

    @property
    def num_nodes(self) -> int:
        """Number of nodes N."""
        return int(next(iter(self.fields.values())).shape[0]) if self.fields else 0

    def point_fields(self, *, include_inputs: bool = False) -> dict[str, np.ndarray]:
        """The per-node arrays written to files: predictions and the per-node residual."""
        out = dict(self.inputs) if include_inputs else {}
        out.update(self.fields)
        if self.per_node_residual is not None and RESIDUAL_FIELD not in out:
            out[RESIDUAL_FIELD] = self.per_node_residual
        return out

    def to_meshio(self, *, include_inputs: bool = False) -> Any:
        """The mesh with the predicted fields (and the per-node residual) as point data.

        Raises:
            GraphError: a network prediction (it has no cells; use :meth:`write` with
                ``.graphml``).
        """
        from gnnops.graphs import to_meshio

        if self.kind == "network":
            raise GraphError("a network prediction has no mesh; write it to a .graphml file")
        base = self.mesh if self.mesh is not None else self.data
        return to_meshio(base, self.point_fields(include_inputs=include_inputs))

    def to_networkx(self) -> Any:
        """The network with the predicted fields as node attributes."""
        from gnnops.graphs import to_networkx

        base = self.graph if self.graph is not None else self.data
        return to_networkx(base, self.point_fields())

    def write(self, path: str | os.PathLike, *, file_format: str | None = None,
              include_inputs: bool = False) -> Path:
        """Write the prediction atomically (temporary name, then rename).

        Meshes go to any meshio format (``.vtu``, ``.xdmf``, ``.vtk``, ``.msh``...) with the
        fields as point data; networks to GraphML / GML with node attributes.

        Returns:
            The written path.
        """
        from gnnops.graphs.io import write_mesh

        path = Path(path)
        if self.kind == "network":
            from gnnops.graphs import write_network

            write_network(self.to_networkx(), path)
            return path
        return write_mesh(self.to_meshio(include_inputs=include_inputs), path,
                          file_format=file_format)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: nodes, residual, flags, timings."""
        return {
            "source": self.source,
            "nodes": self.num_nodes,
            "residual": self.residual,
            "flags": list(self.flags),
            "timings": dict(self.timings),
            "fields": {k: list(v.shape) for k, v in self.fields.items()},
        }
