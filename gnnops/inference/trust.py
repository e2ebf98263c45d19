"""Whether to trust a prediction: its error estimate, the flags it implies, correction.

The estimate is the problem's ``error_estimate`` (stationary FEM problems: an algebraic
part, the prediction vs this mesh's exact discrete solution by AMG-CG on the residual
equation, and a discretization part by flux recovery; see
:mod:`gnnops.problems.estimators`), as a relative L2 error against the PDE's solution.

Flag codes added here (the sanity and training-range codes are in
:mod:`gnnops.inference.flags`):

- ``error_estimate_high``: the estimated relative L2 error exceeds the threshold
  (``DEFAULT_THRESHOLD`` = 0.2; ``Predictor(flag_threshold=...)``,
  ``gnnops predict --flag-threshold``);
- ``estimate_unverified``: an estimate was computed but cannot vouch for the prediction:
  its AMG-CG solve did not reach its tolerance, or the discretization part is beyond
  ``ASYMPTOTIC_LIMIT`` (the mesh does not resolve the solution, where the estimator's
  h-scaling no longer holds);
- ``estimate_unavailable``: the problem has a residual but the estimate failed (message).

With a verified estimate, the training-range codes (``VOUCHED``: inputs, spacing and node
count outside the training set) become *notes*: the estimate checks the prediction against
the equations wherever its inputs lie. Without one (no problem, ``residual=False``, a
problem without an estimator) they stay flags. ``non_finite_*`` codes are always flags.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from gnnops.errors import GnnopsError, ProblemError

__all__ = ["DEFAULT_THRESHOLD", "ASYMPTOTIC_LIMIT", "VOUCHED", "resolution_independent",
           "estimate", "trust_flags", "estimate_fields", "correct_prediction", "flag_code"]

DEFAULT_THRESHOLD = 0.2
# a discretization estimate above this means the mesh does not resolve the solution
ASYMPTOTIC_LIMIT = 0.5
VOUCHED = ("input_out_of_range", "spacing_out_of_range", "too_many_nodes", "too_few_nodes")
_ESTIMATE_CODES = ("error_estimate_high", "estimate_unverified", "estimate_unavailable")


def flag_code(flag: str) -> str:
    """The code of a flag string ``"<code>: <explanation>"``."""
    return flag.split(":", 1)[0]


def resolution_independent(model: Any) -> bool:
    """Whether ``model`` declares that it discretizes a mesh-independent operator (its
    ``resolution_independent`` attribute): then no spacing flag is raised for it."""
    return bool(getattr(model, "resolution_independent", False))


def check_threshold(threshold: Any) -> float:
    """A positive finite threshold, else ProblemError."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ProblemError(f"expected a flag threshold > 0 (a relative error), got {threshold!r}")
    return value


def estimate(problem: Any, data: Any, fields: dict[str, np.ndarray],
             inputs: dict[str, Any]) -> tuple[Any, str | None]:
    """``(ErrorEstimate or None, flag or None)``: the problem's estimate of ``fields``.

    No problem, or one without ``error_estimate``: ``(None, None)``; a failure:
    ``(None, "estimate_unavailable: <why>")``.
    """
    if problem is None or not hasattr(problem, "error_estimate"):
        return None, None
    try:
        est = problem.error_estimate(data, fields, **inputs)
    except (GnnopsError, NotImplementedError, ArithmeticError, ValueError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        return None, f"estimate_unavailable: {why}"
    return est, None


def _unverified(est: Any) -> str | None:
    if not np.isfinite(est.total):
        return "estimate_unverified: the estimate is not finite"
    if not est.converged:
        return (f"estimate_unverified: the algebraic estimate did not reach its tolerance in "
                f"{est.iterations} AMG cycles")
    if est.discretization > ASYMPTOTIC_LIMIT:
        return (f"estimate_unverified: discretization error estimate "
                f"{est.discretization:.3g} > {ASYMPTOTIC_LIMIT:g}: the mesh does not resolve "
                "the solution")
    return None


def trust_flags(flags: list[str], est: Any, threshold: float = DEFAULT_THRESHOLD,
                note: str | None = None) -> tuple[list[str], list[str]]:
    """``(flags, notes)`` of a prediction given its sanity / training-range ``flags``, its
    estimate (or None) and the failure ``note`` of :func:`estimate` (module docstring)."""
    base = [f for f in flags if flag_code(f) not in _ESTIMATE_CODES]
    if est is None:
        return base + ([note] if note else []), []
    out: list[str] = []
    unverified = _unverified(est)
    if unverified:
        out.append(unverified)
    if not est.total <= threshold:
        detail = est.detail() if hasattr(est, "detail") else (
            f"algebraic {est.algebraic:.3g}, discretization {est.discretization:.3g}")
        out.append(f"error_estimate_high: estimated relative L2 error {est.total:.3g} > "
                   f"{threshold:g} ({detail})")
    vouched = unverified is None
    notes = [f for f in base if vouched and flag_code(f) in VOUCHED]
    return [f for f in base if f not in notes] + out, notes


def estimate_fields(est: Any) -> dict[str, Any]:
    """The ``Prediction`` keyword values of an estimate (all None without one)."""
    if est is None:
        return {"error_estimate": None, "error_algebraic": None, "error_discretization": None,
                "error_indicator": None}
    return {"error_estimate": float(est.total), "error_algebraic": float(est.algebraic),
            "error_discretization": float(est.discretization),
            "error_indicator": np.asarray(est.per_node)}


def correct_prediction(problem: Any, pred: Any, cycles: int,
                       threshold: float = DEFAULT_THRESHOLD) -> Any:
    """A new ``Prediction``: ``pred``'s fields improved by ``cycles`` AMG cycles of the
    problem's own discretization (:meth:`correct` of the problem), with its residual,
    estimate, flags and notes recomputed and ``timings["correct"]``.

    Raises:
        ProblemError: no problem, or one without ``correct``; a bad ``cycles``.
    """
    if problem is None or not hasattr(problem, "correct"):
        name = getattr(problem, "name", None)
        raise ProblemError("correct needs a stationary mesh problem with a multigrid "
                           f"correction; this artifact's problem is {name!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer)) or cycles < 0:
        raise ProblemError(f"expected cycles as an integer >= 0, got {cycles!r}")
    mesh = pred.data if pred.data is not None else pred.mesh
    t0 = time.perf_counter()
    fields, _info = problem.correct(mesh, pred.fields, cycles=int(cycles), **pred.inputs)
    fields = {k: np.asarray(v) for k, v in fields.items()}
    t1 = time.perf_counter()
    rel = per_node = None
    with_residual = pred.residual is not None
    if with_residual:
        per_node = np.asarray(problem.residual_per_node(mesh, fields, **pred.inputs))
        rel = float(problem.residual(mesh, fields, **pred.inputs))
    est, note = estimate(problem, mesh, fields, pred.inputs)
    t2 = time.perf_counter()
    before = "" if pred.error_algebraic is None else f"{pred.error_algebraic:.3g} -> "
    after = "" if est is None else f"{est.algebraic:.3g}"
    prior = [f for f in pred.flags + pred.notes if flag_code(f) != "corrected"]
    flags, notes = trust_flags(prior, est, threshold, note)
    notes.append(f"corrected: {int(cycles)} AMG cycles, algebraic error {before}{after}")
    timings = {**pred.timings, "correct": t1 - t0, "estimate": t2 - t1}
    return replace(pred, fields=fields, residual=rel, per_node_residual=per_node, flags=flags,
                   notes=notes, timings=timings, **estimate_fields(est))
