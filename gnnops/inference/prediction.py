"""The result of one prediction: fields per node, physics residual, flags, timings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch_geometric.data import Data

from gnnops.errors import GraphError

__all__ = ["Prediction", "RESIDUAL_FIELD", "INDICATOR_FIELD"]

# name of the per-node residual in written files
RESIDUAL_FIELD = "residual"
# name of the per-node error indicator (estimated |u - u_exact|, units of u) in written files
INDICATOR_FIELD = "error_indicator"


@dataclass
class Prediction:
    """A model's prediction on one mesh or network.

    Attributes:
        fields: output name -> per-node array ``[N]`` or ``[N, d]`` (physical units).
        inputs: input name -> per-node array the model was given.
        residual: relative physics residual of ``fields`` (``None`` without a problem).
        per_node_residual: absolute residual per node ``[N]`` (or ``None``).
        flags: reasons to distrust the prediction: estimated error above the threshold,
            an estimate that cannot vouch, out-of-distribution / sanity flags (see
            :mod:`gnnops.inference.trust`).
        notes: training-range facts the error estimate has checked (not flags).
        error_estimate: estimated relative L2 error against the PDE's exact solution
            (``sqrt(error_algebraic^2 + error_discretization^2)``), or None.
        error_algebraic: its part vs this mesh's exact discrete solution.
        error_discretization: its part from the mesh's own discretization error.
        error_indicator: ``[N]`` estimated absolute error per node (units of the field).
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
    notes: list[str] = field(default_factory=list)
    error_estimate: float | None = None
    error_algebraic: float | None = None
    error_discretization: float | None = None
    error_indicator: np.ndarray | None = None
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
        """The per-node arrays written to files: predictions, the per-node residual and the
        error indicator."""
        out = dict(self.inputs) if include_inputs else {}
        out.update(self.fields)
        if self.per_node_residual is not None and RESIDUAL_FIELD not in out:
            out[RESIDUAL_FIELD] = self.per_node_residual
        if self.error_indicator is not None and INDICATOR_FIELD not in out:
            out[INDICATOR_FIELD] = self.error_indicator
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
        """A JSON-able summary: nodes, residual, error estimate, flags, notes, timings."""
        return {
            "source": self.source,
            "nodes": self.num_nodes,
            "residual": self.residual,
            "error_estimate": self.error_estimate,
            "error_algebraic": self.error_algebraic,
            "error_discretization": self.error_discretization,
            "flags": list(self.flags),
            "notes": list(self.notes),
            "timings": dict(self.timings),
            "fields": {k: list(v.shape) for k, v in self.fields.items()},
        }
