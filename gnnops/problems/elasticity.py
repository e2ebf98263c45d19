"""Linear elasticity: -div(sigma(u)) = body force, 2D plane strain or 3D.

``sigma = 2 mu eps(u) + lambda tr(eps(u)) I`` with the Lamé parameters of a
Young's modulus field ``E`` and a Poisson ratio ``nu`` (option, 0.3):
``lambda = E nu / ((1 + nu)(1 - 2 nu))``, ``mu = E / (2 (1 + nu))`` (plane strain
in 2D). Discretization: vector P1 / Q1 (scikit-fem shape functions), ``E``
averaged per cell (as darcy's coefficient), dofs node-major (``u: [N, d]``).

Boundary conditions are chosen by node-set specs (see
:func:`gnnops.problems._fem.select_nodes`): a mesh tag name (gmsh physical group
/ meshio cell set), a box side (``"left"`` = min x, ``"right"``, ``"bottom"``,
``"top"``, ``"front"``, ``"back"``), a callable ``f(x: [d, N]) -> [N] bool``, a
mask or node indices.

- ``clamp`` (default ``"left"``): u = 0 on these nodes.
- ``body_force`` (default ``(0, -1)`` in 2D, ``(0, 0, -1)`` in 3D): a constant
  vector or ``[N, d]`` nodal field, integrated as ``M f`` per component.
- ``traction`` + ``traction_on``: a constant traction vector on the boundary
  facets whose nodes all lie in the ``traction_on`` set (exact for flat facets).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from gnnops.errors import ProblemError
from gnnops.problems._fem import Assembly, FemMesh, build_assembly, fem_mesh, select_nodes
from gnnops.problems._linear import LinearSystem, check_field
from gnnops.problems._stationary import StationaryFemProblem
from gnnops.problems.base import InputSample, register
from gnnops.problems.estimators import FluxMap
from gnnops.problems.random_fields import evaluate_field, sample_field

__all__ = ["Elasticity", "elasticity_assembly"]


def elasticity_assembly(fm: FemMesh, nu: float) -> Assembly:
    """Cached structure of the stiffness for E = 1 per cell (linear in the cell's E)."""
    def build() -> Assembly:
        _, grads, dx, edofs = fm.shape_data()
        d = fm.dim
        lam, mu = nu / ((1 + nu) * (1 - 2 * nu)), 1.0 / (2 * (1 + nu))
        gg = np.einsum("iacq,jbcq,cq->ciajb", grads, grads, dx, optimize=True)
        lap = np.einsum("ciaja->cij", gg)
        local = lam * gg + mu * gg.transpose(0, 1, 4, 3, 2)
        local += mu * lap[:, :, None, :, None] * np.eye(d)[None, None, :, None, :]
        k = edofs.shape[1]
        vdofs = (edofs[:, :, None] * d + np.arange(d)).reshape(-1, k * d)
        return build_assembly(local.reshape(-1, k * d, k * d), vdofs, fm.n_nodes * d)

    return fm.cached(f"elasticity:{nu!r}", build)


def _spec_key(spec: Any) -> str:
    if isinstance(spec, np.ndarray) or isinstance(spec, (list, tuple)):
        arr = np.ascontiguousarray(np.asarray(spec))
        return hashlib.blake2b(arr.tobytes() + str(arr.dtype).encode(), digest_size=8).hexdigest()
    return repr(spec)


@register
class Elasticity(StationaryFemProblem):
    """Linear elasticity with a Young's modulus field ``E`` (see the module docstring).

    Args:
        nu: Poisson ratio in (-1, 0.5).
        clamp: node-set spec of the clamped (u = 0) nodes.
        body_force: constant ``[d]`` vector or ``[N, d]`` field; None -> gravity-like default.
        traction: constant ``[d]`` traction vector, applied on ``traction_on``.
        traction_on: node-set spec of the loaded boundary (required with ``traction``).
        box, n_modes: the sampler's box and modes per axis.
    """

    name = "elasticity"
    kind = "mesh"
    input_fields = ("E",)
    output_fields = ("u",)
    # the stiffness is linear in E and the loads do not depend on it: u(la E) = u(E) / la
    scaling_laws = {"E": -1.0}
    zero_dirichlet_part = True  # u = 0 on the clamped nodes

    def __init__(self, *, nu: float = 0.3, clamp: Any = "left", body_force: Any = None,
                 traction: Any = None, traction_on: Any = None, box: Any = None,
                 n_modes: int | None = None) -> None:
        if not -1.0 < nu < 0.5:
            raise ProblemError(f"expected Poisson ratio nu in (-1, 0.5), got {nu}")
        if (traction is None) != (traction_on is None):
            raise ProblemError("give both 'traction' (a vector) and 'traction_on' (where)")
        self.nu, self.clamp, self.body_force = float(nu), clamp, body_force
        self.traction, self.traction_on = traction, traction_on
        self.box, self.n_modes = box, n_modes

    def _options_key(self) -> Any:
        return (self.nu, _spec_key(self.clamp), _spec_key(self.body_force),
                _spec_key(self.traction), _spec_key(self.traction_on))

    def _components(self, fm: FemMesh) -> int:
        return fm.dim

    def sample_inputs(self, rng: np.random.Generator, *, dim: int = 2, e_mean: float = 1.0,
                      sigma: float = 1.0, box: Any = None, n_modes: int | None = None,
                      alpha: float = 2.0, tau: float = 3.0) -> InputSample:
        """Log-normal ``E = e_mean * exp(sigma * GRF)`` (GRF as darcy's, cosine series)."""
        field = sample_field(rng, dim=dim, n_modes=n_modes or self.n_modes, alpha=alpha,
                             tau=tau, basis="cos", box=box if box is not None else self.box)
        return InputSample(self.name, {"field": field, "e_mean": float(e_mean),
                                       "sigma": float(sigma)})

    def evaluate_inputs(self, sample: InputSample, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """``{"E": [N]}`` at the nodes."""
        fm = fem_mesh(mesh_or_graph)
        p = sample.params
        return {"E": p["e_mean"] * np.exp(p["sigma"] * evaluate_field(p["field"], fm.points))}

    def _inputs(self, fm: FemMesh, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        unknown = set(inputs) - set(self.input_fields)
        if unknown:
            raise ProblemError(f"unknown elasticity inputs {sorted(unknown)}; expected ['E']")
        return {"E": check_field("E", inputs.get("E"), fm.n_nodes, positive=True)}

    def _load(self, fm: FemMesh) -> np.ndarray:
        d, n = fm.dim, fm.n_nodes
        body = self.body_force
        if body is None:
            body = np.eye(d)[-1] * -1.0
        force = check_field("body_force", body, n, components=d)
        b = fm.mass() @ force  # [N, d]
        if self.traction is not None:
            t = np.asarray(self.traction, dtype=np.float64).reshape(-1)
            if t.shape != (d,):
                raise ProblemError(f"expected a traction vector of {d} values, got {t.size}")
            on = select_nodes(fm, self.traction_on, what="traction boundary")
            facets, meas = fm.boundary_facets()
            sel = on[facets].all(axis=1)
            if not sel.any():
                raise ProblemError(f"traction boundary {self.traction_on!r} contains no "
                                   "boundary facet")
            share = np.repeat(meas[sel] / facets.shape[1], facets.shape[1])
            w = np.bincount(facets[sel].ravel(), weights=share, minlength=n)
            b = b + w[:, None] * t
        return b.reshape(-1)

    def _unit_inputs(self, fm: FemMesh) -> dict[str, Any]:
        return {"E": 1.0}

    def _flux(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> FluxMap:
        """The stress ``E_K (lambda tr(eps) I + 2 mu eps)`` per quadrature point, ``[.., d*d]``,
        coefficient ``E_K``."""
        e_cell = fm.cell_mean(inputs["E"])
        nu, d = self.nu, fm.dim
        lam, mu = nu / ((1 + nu) * (1 - 2 * nu)), 1.0 / (2 * (1 + nu))

        def flux(grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            eps = 0.5 * (grad + grad.swapaxes(2, 3))  # [C, Q, d, d]
            tr = np.trace(eps, axis1=2, axis2=3)
            sigma = lam * tr[..., None, None] * np.eye(d) + 2 * mu * eps
            return e_cell[:, None, None] * sigma.reshape(*sigma.shape[:2], d * d), e_cell

        return flux

    def zero_dirichlet_nodes(self, mesh_or_graph: Any) -> np.ndarray:
        """[N] bool: the clamped nodes (u = 0 there)."""
        return select_nodes(fem_mesh(mesh_or_graph), self.clamp, what="clamp")

    def _system(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> LinearSystem:
        d = fm.dim
        a = elasticity_assembly(fm, self.nu).matrix(fm.cell_mean(inputs["E"]))
        b = fm.cached(f"elasticity-load:{self._options_key()}", lambda: self._load(fm))
        clamped = select_nodes(fm, self.clamp, what="clamp") | ~fm.used
        if clamped.sum() < 2:
            raise ProblemError("the clamp must hold at least 2 nodes to fix rigid motions")
        fixed = np.repeat(clamped, d)
        return LinearSystem(a, b, fixed, np.zeros(fm.n_nodes * d), components=d)
