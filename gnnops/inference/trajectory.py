"""Rollout prediction with one-step artifacts (recipes carrying a ``rollout`` layout).

``Predictor.predict(source, steps=K, **inputs)`` on such an artifact reads the initial
state (the problem's initial-state field, e.g. node attribute ``x0`` of a GraphML network
or point data ``u0`` of a mesh, or a keyword array) and the static inputs, rolls the
one-step model out ``K`` times (default: the training trajectory's length) with the
training step ``dt``, and returns a :class:`~gnnops.inference.timeseries.TimeSeriesPrediction`
whose ``fields[state]`` is ``[N, K + 1]`` (column 0 = the initial state) at ``times``.
Its ``residual`` is the problem's relative ODE / time-stepping residual of the predicted
trajectory (:func:`trajectory_residual`); for network ODEs its ``error_estimate`` is the
estimated relative L2 error against the ODE's true trajectory from the same initial state
(:func:`trajectory_estimate`, :mod:`gnnops.problems.rollout_estimate`), with the per-node
``error_indicator`` and the ``error_estimate_high`` flag of :mod:`gnnops.inference.trust`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import numpy as np
import torch

from gnnops.errors import ConfigError, GnnopsError
from gnnops.surrogate.recipe import RolloutLayout

__all__ = ["predict_rollout", "trajectory_residual", "trajectory_problem",
           "trajectory_estimate"]


def trajectory_problem(layout: RolloutLayout, steps: int, *,
                       times: Any = None) -> tuple[Any, dict[str, Any]]:
    """The problem instance and per-call options whose saved times are the ``steps + 1``
    rollout times ``t0 + dt * k``.

    Returns:
        ``(problem, call_options)``: network ODEs take ``times`` per call; mesh problems
        (heat) are built with ``t_end = steps * dt``, ``n_steps = steps``, ``save_every = 1``.
    """
    from gnnops.problems import get

    opts = dict(layout.problem_options)
    if times is None:
        times = layout.t0 + layout.dt * np.arange(steps + 1)
    if layout.includes_initial:
        for key in ("times", "n_times", "t_end"):
            opts.pop(key, None)
        return get(layout.problem, **opts), {"times": times}
    opts.update(t_end=float(steps * layout.dt), n_steps=int(steps), save_every=1)
    return get(layout.problem, **opts), {}


def trajectory_residual(layout: RolloutLayout, graph: Any, traj: np.ndarray,
                        inputs: dict[str, np.ndarray], *, per_node: bool = False,
                        times: Any = None) -> tuple[float, np.ndarray | None]:
    """Relative residual of a trajectory ``traj: [N, K + 1]`` (column 0 = initial state).

    Args:
        layout: the rollout layout.
        graph: networkx graph, mesh or ``Data`` the problem accepts.
        traj: states at ``t0 + dt * k``.
        inputs: the problem's inputs by name (initial state and static fields, ``[N]``).
        per_node: also return the per-node residual ``[N]``.
        times: ``[K + 1]`` times of the columns (default ``t0 + dt * k``; network ODEs only).

    Raises:
        GnnopsError: the problem rejects the trajectory.
    """
    steps = traj.shape[1] - 1
    prob, call = trajectory_problem(layout, steps, times=times)
    out = traj if layout.includes_initial else traj[:, 1:]
    outputs = {layout.state: np.asarray(out, dtype=np.float64)}
    kw = {**{k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}, **call}
    rel = float(prob.residual(graph, outputs, **kw))
    node = np.asarray(prob.residual_per_node(graph, outputs, **kw)) if per_node else None
    return rel, node


def trajectory_estimate(layout: RolloutLayout, graph: Any, traj: np.ndarray,
                        inputs: dict[str, np.ndarray], *, times: Any = None
                        ) -> tuple[Any, str | None]:
    """``(RolloutEstimate or None, failure flag or None)`` of ``traj: [N, K + 1]``.

    Problems without ``trajectory_error_estimate`` (mesh rollouts): ``(None, None)``.
    """
    steps = traj.shape[1] - 1
    prob, call = trajectory_problem(layout, steps, times=times)
    if not hasattr(prob, "trajectory_error_estimate"):
        return None, None
    kw = {**{k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}, **call}
    try:
        return prob.trajectory_error_estimate(graph, {layout.state: traj}, **kw), None
    except (GnnopsError, NotImplementedError, ArithmeticError, ValueError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        return None, f"estimate_unavailable: {why}"


def _estimate_kw(est: Any) -> dict[str, Any]:
    if est is None:
        return {}
    return {"error_estimate": float(est.total), "error_indicator": np.asarray(est.per_node)}


def _check_trajectory(layout: RolloutLayout, src: Any, arr: np.ndarray, flags: list[str],
                      threshold: float, *, check: bool) -> tuple[Any, ...]:
    """``(residual, per-node residual, estimate, flags, notes, timings)`` of a rollout."""
    from gnnops.inference.trust import trust_flags

    t2 = time.perf_counter()
    rel = per_node = est = note = None
    where = next(g for g in (src.graph, src.mesh, src.data) if g is not None)
    if check:
        try:
            rel, per_node = trajectory_residual(layout, where, arr, src.inputs, per_node=True)
        except (GnnopsError, NotImplementedError) as exc:
            flags.append(f"residual_unavailable: {' '.join(str(exc).split())}")
    t3 = time.perf_counter()
    timings = {"residual": t3 - t2}
    if rel is not None:
        est, note = trajectory_estimate(layout, where, arr, src.inputs)
        timings["estimate"] = time.perf_counter() - t3
    flags, notes = trust_flags(flags, est, threshold, note)
    return rel, per_node, est, flags, notes, timings


def predict_rollout(predictor: Any, source: Any, *, steps: int | None = None,
                    residual: bool = True, **inputs: Any) -> Any:
    """Roll a one-step artifact out on ``source`` (see the module docstring).

    Args:
        predictor: a :class:`~gnnops.inference.Predictor` whose recipe has a ``rollout`` layout.
        source: path (mesh file, ``.graphml`` / ``.gml``), ``meshio.Mesh``, networkx graph
            or ``Data`` (``x`` = ``[initial, *static]`` columns).
        steps: rollout steps (default: the training trajectory's number of steps).
        residual: compute the problem's residual of the predicted trajectory.
        **inputs: the initial state / static fields by name (override stored ones).

    Returns:
        A ``TimeSeriesPrediction``.

    Raises:
        ConfigError: ``steps`` < 1; GraphError: missing initial state or input.
    """
    from gnnops.inference.reliability_flags import compute_flags
    from gnnops.inference.sources import load_source
    from gnnops.inference.timeseries import TimeSeriesPrediction
    from gnnops.surrogate.stepping import rollout, state_times, step_input_names, step_inputs

    layout = predictor.recipe.rollout
    k = len(state_times(layout)) - 1 if steps is None else int(steps)
    if k < 1:
        raise ConfigError(f"expected steps >= 1 (got {steps!r})")
    names = [layout.initial, *layout.static]
    t0 = time.perf_counter()
    # the caller's fields, with the recipe's kind, direction and edge-weight rules
    recipe = dataclasses.replace(predictor.recipe, inputs=names, input_dims=[1] * len(names))
    src = load_source(source, recipe, inputs)
    x = src.data.x.float()
    t1 = time.perf_counter()
    surrogate = predictor.surrogate.eval()
    traj = rollout(surrogate, src.data, x[:, 0], x[:, 1:], np.full(k, layout.dt),
                   layout=layout)
    t2 = time.perf_counter()
    step0 = copy.copy(src.data)
    step0.x = step_inputs(x[:, 0], x[:, 1:], layout.dt, layout)
    snames = step_input_names(layout)
    flags = compute_flags(step0, traj, predictor.recipe.train_stats, kind=src.kind,
                          input_names=snames, input_dims=[1] * len(snames)) + src.flags
    arr = traj.double().numpy()
    check = residual and bool(torch.isfinite(traj).all())
    rel, per_node, est, flags, notes, times = _check_trajectory(
        layout, src, arr, flags, predictor.flag_threshold, check=check)
    return TimeSeriesPrediction(
        fields={layout.state: arr}, inputs=src.inputs, residual=rel,
        per_node_residual=per_node, flags=flags, notes=notes,
        timings={"graph": t1 - t0, "model": t2 - t1, **times}, **_estimate_kw(est),
        source=src.name, kind=src.kind, data=src.data, mesh=src.mesh, graph=src.graph,
        problem=predictor.problem_name or layout.problem,
        times=layout.t0 + layout.dt * np.arange(k + 1), state=layout.state)
