"""Hybrid solve: the reference iterative solver warm-started from a GNN prediction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnnops.errors import ProblemError

__all__ = ["Refinement", "refine_prediction"]


@dataclass
class Refinement:
    """The outcome of :meth:`Predictor.refine`.

    Attributes:
        fields: refined output fields (per node).
        iterations: solver iterations from the prediction.
        seconds: solver seconds from the prediction.
        residual: relative residual reached from the prediction.
        initial_residual: relative residual of the prediction itself (if known).
        zero_iterations: iterations from a zero start (``None`` unless compared).
        zero_seconds: seconds from a zero start.
        zero_residual: relative residual reached from a zero start.
        tol: the tolerance asked for.
        info: the solver's info dicts, ``{"predicted": ..., "zero": ...}``.
    """

    fields: dict[str, np.ndarray]
    iterations: int
    seconds: float
    residual: float | None
    initial_residual: float | None = None
    zero_iterations: int | None = None
    zero_seconds: float | None = None
    zero_residual: float | None = None
    tol: float = 1e-8
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def iteration_ratio(self) -> float | None:
        """Iterations from the prediction / iterations from zero (< 1: the GNN helped)."""
        if not self.zero_iterations:
            return None
        return self.iterations / self.zero_iterations

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers (no arrays)."""
        return {"tol": self.tol, "iterations": self.iterations, "seconds": self.seconds,
                "residual": self.residual, "initial_residual": self.initial_residual,
                "zero_iterations": self.zero_iterations, "zero_seconds": self.zero_seconds,
                "zero_residual": self.zero_residual, "iteration_ratio": self.iteration_ratio}


def _x0(fields: dict[str, np.ndarray], names: tuple[str, ...]) -> Any:
    if len(names) == 1 and names[0] in fields:
        return np.asarray(fields[names[0]], dtype=np.float64)
    return {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}


def _solve(problem: Any, mesh: Any, x0: Any, tol: float, maxiter: int | None,
           inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    kw = dict(inputs)
    if maxiter is not None:
        kw["maxiter"] = maxiter
    fields, info = problem.solve_iterative(mesh, x0=x0, tol=tol, **kw)
    return {k: np.asarray(v) for k, v in fields.items()}, dict(info)


def refine_prediction(problem: Any, pred: Any, *, tol: float = 1e-8, compare: bool = True,
                      maxiter: int | None = None) -> Refinement:
    """Run ``problem.solve_iterative`` from ``pred.fields`` (and from zero when ``compare``).

    Raises:
        ProblemError: the problem has no ``solve_iterative``.
    """
    if not hasattr(problem, "solve_iterative"):
        raise ProblemError(f"problem {getattr(problem, 'name', problem)!r} has no iterative "
                           "solver (solve_iterative); refine needs one")
    if not tol > 0:
        raise ProblemError(f"expected a positive solver tolerance (got {tol!r})")
    mesh = pred.data if pred.data is not None else pred.mesh
    names = tuple(getattr(problem, "output_fields", ()) or pred.fields)
    fields, info = _solve(problem, mesh, _x0(pred.fields, names), tol, maxiter, pred.inputs)
    ref = Refinement(fields=fields, iterations=int(info.get("iterations", -1)),
                     seconds=float(info.get("seconds", float("nan"))),
                     residual=info.get("residual"), initial_residual=pred.residual, tol=tol,
                     info={"predicted": info})
    if compare:
        zero = {k: np.zeros_like(np.asarray(v, dtype=np.float64)) for k, v in pred.fields.items()}
        _, zinfo = _solve(problem, mesh, _x0(zero, names), tol, maxiter, pred.inputs)
        ref.zero_iterations = int(zinfo.get("iterations", -1))
        ref.zero_seconds = float(zinfo.get("seconds", float("nan")))
        ref.zero_residual = zinfo.get("residual")
        ref.info["zero"] = zinfo
    return ref
