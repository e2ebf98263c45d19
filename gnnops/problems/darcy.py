"""Darcy flow: -div(a grad u) = f in the domain, u = 0 on its boundary.

Discretization: P1 (triangles, tetrahedra) or Q1 (quads, hexahedra) finite
elements of scikit-fem. Coefficient convention (solve and residual alike): the
nodal ``a`` is averaged per cell, ``a_K = mean of a at the nodes of K``, and the
stiffness matrix is ``sum_K a_K ∫_K grad(phi_i)·grad(phi_j)`` -- linear in
``a_K``, so a new coefficient on a cached mesh costs one sparse mat-vec
(:meth:`FemMesh.structure`). The source is the P1/Q1 interpolant of the nodal
``f`` integrated exactly: ``b = M f`` (M the consistent mass matrix). Dirichlet
nodes: every node of a boundary facet (and any node outside all cells).

Inputs (FNO protocol, see REFERENCES.md): ``a = 12`` where the Gaussian random
field N(0, (-Delta + 9I)^-2) is >= 0, else 3 (``kind="fno"``), or a smooth
log-normal ``a = exp(sigma * field)`` (``kind="lognormal"``); ``f = 1``. The field lives
on ``box`` (default the unit square / cube, which holds every gnnops.meshing geometry);
outside it the series repeats mirror images (see :mod:`gnnops.problems.random_fields`),
so give the bounding box of a larger domain as ``box``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gnnops.errors import ProblemError
from gnnops.problems._fem import FemMesh, fem_mesh
from gnnops.problems._linear import LinearSystem, check_field
from gnnops.problems._stationary import StationaryFemProblem
from gnnops.problems.base import InputSample, register
from gnnops.problems.estimators import FluxMap
from gnnops.problems.random_fields import evaluate_field, sample_field

__all__ = ["Darcy"]


@register
class Darcy(StationaryFemProblem):
    """-div(a grad u) = f, u = 0 on the boundary (P1 / Q1, cell-mean coefficient).

    Args:
        box: ``[[lo...], [hi...]]`` box mapped to the unit cube by the sampler
            (default: the unit square / cube).
        n_modes: Karhunen-Loeve modes per axis of the sampler (default 32 in 2D, 12 in 3D).
    """

    name = "darcy"
    kind = "mesh"
    input_fields = ("a", "f")
    output_fields = ("u",)
    optional_inputs = ("f",)
    # u is linear in f and u(la a) = u(a) / la (the equation and u = 0 on the boundary)
    scaling_laws = {"a": -1.0, "f": 1.0}
    zero_dirichlet = True

    def zero_dirichlet_nodes(self, mesh_or_graph: Any) -> np.ndarray:
        """[N] bool: every boundary node (u = 0 on the whole boundary)."""
        return fem_mesh(mesh_or_graph).boundary.copy()

    def __init__(self, *, box: Any = None, n_modes: int | None = None) -> None:
        self.box = box
        self.n_modes = n_modes

    def sample_inputs(self, rng: np.random.Generator, *, kind: str = "fno", dim: int = 2,
                      box: Any = None, n_modes: int | None = None, alpha: float = 2.0,
                      tau: float = 3.0, a_pos: float = 12.0, a_neg: float = 3.0,
                      sigma: float = 1.0, f: float = 1.0) -> InputSample:
        """Draw a coefficient field (as KL coefficients) and a constant source.

        Args:
            rng: numpy generator.
            kind: ``"fno"`` (a = a_pos where GRF >= 0 else a_neg) or ``"lognormal"``
                (a = exp(sigma * GRF)).
            dim: spatial dimension of the meshes it will be evaluated on.
            box, n_modes: override the problem's options.
            alpha, tau: covariance parameters (2, 3 per the FNO protocol).
            a_pos, a_neg, sigma: coefficient map parameters.
            f: constant source.
        """
        if kind not in ("fno", "lognormal"):
            raise ProblemError(f"unknown darcy input kind {kind!r}; expected one of: "
                               "fno, lognormal")
        field = sample_field(rng, dim=dim, n_modes=n_modes or self.n_modes, alpha=alpha,
                             tau=tau, basis="cos", box=box if box is not None else self.box)
        params = {"kind": kind, "field": field, "a_pos": float(a_pos), "a_neg": float(a_neg),
                  "sigma": float(sigma), "f": float(f)}
        return InputSample(self.name, params)

    def evaluate_inputs(self, sample: InputSample, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """``{"a": [N], "f": [N]}`` at the nodes (mesh-independent functions of space)."""
        fm = fem_mesh(mesh_or_graph)
        p = sample.params
        g = evaluate_field(p["field"], fm.points)
        if p["kind"] == "fno":
            a = np.where(g >= 0, p["a_pos"], p["a_neg"])
        else:
            a = np.exp(p["sigma"] * g)
        return {"a": a, "f": np.full(fm.n_nodes, p["f"])}

    def _inputs(self, fm: FemMesh, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        unknown = set(inputs) - set(self.input_fields)
        if unknown:
            raise ProblemError(f"unknown darcy inputs {sorted(unknown)}; expected "
                               f"{list(self.input_fields)}")
        if "a" not in inputs:
            raise ProblemError("darcy needs the coefficient 'a' (1 value per node)")
        n = fm.n_nodes
        return {"a": check_field("a", inputs["a"], n, positive=True),
                "f": check_field("f", inputs.get("f", 1.0), n)}

    def _unit_inputs(self, fm: FemMesh) -> dict[str, Any]:
        return {"a": 1.0}

    def _flux(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> FluxMap:
        """``a_K grad u`` per quadrature point, coefficient ``a_K``."""
        a_cell = fm.cell_mean(inputs["a"])

        def flux(grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return a_cell[:, None, None] * grad[:, :, 0, :], a_cell

        return flux

    def _system(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> LinearSystem:
        a = fm.structure("stiffness").matrix(fm.cell_mean(inputs["a"]))
        b = fm.mass() @ inputs["f"]
        return LinearSystem(a, b, fm.boundary.copy(), np.zeros(fm.n_nodes))
