"""The pool of active learning: candidates, the solver whose calls are the budget, draws.

Split from :mod:`gnnops.runs.active` (which re-exports these names); see its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnnops.data.ranges import draw_options, probe_sample_inputs

__all__ = ["Candidate", "Oracle", "draw_candidates", "probe_pool_options"]

@dataclass
class Candidate:
    """One pool or test entry: a geometry and an input draw, evaluated at its nodes.

    Attributes:
        index: position in its pool (its input seed is ``[seed, split, index]``).
        geometry: geometry name (``gnnops.meshing``).
        sample: the problem's input sample (re-evaluated on a reference mesh).
        inputs: input fields at the nodes, name -> [N] or [N, d].
        targets: the solution fields once solved, else None.
    """

    index: int
    geometry: str
    sample: Any = field(repr=False)
    inputs: dict[str, np.ndarray] = field(repr=False)
    targets: dict[str, np.ndarray] | None = field(default=None, repr=False)


class Oracle:
    """The meshes of the geometries and the solver whose calls are the budget.

    Args:
        problem: the problem instance.
        spec: the ``GenerateSpec`` (mesh size ``resolutions[train_resolution]``,
            ``reference_resolution``).
    """

    def __init__(self, problem: Any, spec: Any) -> None:
        self.problem, self.spec = problem, spec
        self.h = float(spec.resolutions[spec.train_resolution])
        self.calls = 0
        self._meshes: dict[tuple[str, float], Any] = {}
        self._graphs: dict[str, Any] = {}
        self._transfer: dict[str, Any] = {}

    def mesh(self, geometry: str, h: float | None = None) -> Any:
        """``(meshio.Mesh, FemMesh)`` of ``geometry`` at ``h`` (default: the training h)."""
        from gnnops.meshing import make_geometry
        from gnnops.problems._fem import fem_mesh

        key = (geometry, self.h if h is None else float(h))
        if key not in self._meshes:
            m = make_geometry(geometry, key[1])
            self._meshes[key] = (m, fem_mesh(m))
        return self._meshes[key]

    def graph(self, geometry: str) -> Any:
        """The ``Data`` of the geometry's mesh (no fields; copied per sample)."""
        if geometry not in self._graphs:
            from gnnops.graphs.mesh import from_meshio

            self._graphs[geometry] = from_meshio(self.mesh(geometry)[0])
        return self._graphs[geometry]

    def solve(self, cand: Candidate) -> dict[str, np.ndarray]:
        """Solve ``cand`` (one budgeted call; with a reference resolution: on the fine mesh,
        transferred), store and return its targets."""
        self.calls += 1
        ref_h = self.spec.reference_resolution
        if ref_h is None:
            cand.targets = self.problem.solve(self.mesh(cand.geometry)[1], **cand.inputs)
            return cand.targets
        fine = self.mesh(cand.geometry, ref_h)[1]
        if cand.geometry not in self._transfer:
            from gnnops.problems.transfer import P1Transfer

            coarse = self.mesh(cand.geometry)[1]
            self._transfer[cand.geometry] = P1Transfer(fine.points, fine.cells).matrix(
                coarse.points)
        p = self._transfer[cand.geometry]
        out = self.problem.solve(fine, **self.problem.evaluate_inputs(cand.sample, fine))
        cand.targets = {k: (p @ np.asarray(v).reshape(fine.n_nodes, -1)).reshape(
            (p.shape[0],) + np.shape(v)[1:]) for k, v in out.items()}
        return cand.targets


def draw_candidates(oracle: Oracle, count: int, *, seed: int, split: int,
                    geometries: list[str], options: dict[str, Any] | None = None
                    ) -> list[Candidate]:
    """``count`` unsolved candidates; ``index`` i lives on ``geometries[i % len]`` (repeat a
    geometry to weight it, :func:`weighted_cycle`) and draws its inputs from
    ``default_rng([seed, split, i])`` (the spec's ``problem_options``, updated by
    ``options``)."""
    prob, opts = oracle.problem, {**oracle.spec.problem_options, **(options or {})}
    out = []
    for i in range(count):
        geo = geometries[i % len(geometries)]
        rng = np.random.default_rng([seed, split, i])
        sample = prob.sample_inputs(rng, **draw_options(opts, rng))
        out.append(Candidate(i, geo, sample, prob.evaluate_inputs(sample, oracle.mesh(geo)[1])))
    return out


def probe_pool_options(problem: Any, options: dict[str, Any]) -> None:
    """Every end of every pool range through ``sample_inputs``: a ConfigError naming
    ``active.pool_options``, not a crash halfway through drawing the pool."""
    probe_sample_inputs(problem.sample_inputs, options, "active.pool_options")
