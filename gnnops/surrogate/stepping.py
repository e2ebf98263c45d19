"""Time-dependent operators: one-step training (MeshGraphNets style) and autoregressive rollout.

A time-dependent problem stores, per sample, its inputs (the initial state ``x0`` / ``u0``
and static fields such as ``kappa``, ``f``) and a trajectory ``[N, T]`` at the problem's
saved times. Training turns every trajectory into ``K`` one-step pairs::

    x = [s_k, static..., dt_k]  ->  y = s_{k+1} - s_k        (per node, physical units)

and trains an ordinary :class:`~gnnops.surrogate.surrogate.Surrogate` on them; node and
edge features of the graph (edge weights, mesh geometry, derived features of
``data.features``) are static. Evaluation and prediction roll the model out
autoregressively from the initial state (:func:`rollout`).

Training noise (Pfaff et al. 2021): with ``rollout.noise_std > 0`` the
:class:`RolloutSurrogate` adds ``eps ~ N(0, noise_std^2)`` (physical units of the state) to
the state column while it is in training mode and corrects the target to
``s_{k+1} - (s_k + eps)``, so the model learns to pull a perturbed state back onto the
trajectory; in eval mode (validation, evaluation, inference) there is no noise.

The layout of the trajectories is stored in the recipe as ``recipe.rollout``, a
:class:`~gnnops.surrogate.recipe.RolloutLayout` (:func:`trajectory_layout`): problem name
and constructor options, ``state`` (the
trajectory field), ``initial`` (the initial-state input), ``static`` (other inputs),
``times`` (the stored trajectory's times), ``t0``, ``includes_initial`` (whether the
stored trajectory's first column is the state at ``t0``: network ODEs yes, heat no),
``dt`` (the training step), ``dt_feature`` and ``anchor``.

Anchored increments (``rollout.anchor = c``, default off): for dynamics with a constant
steady state ``c`` (Fisher--KPP and other spreading models: ``x = 0`` is an unstable fixed
point), the one-step map is ``model(s) - model(c 1)`` (:func:`anchored_increment`), in
training and rollout alike. The constant state is then reproduced exactly, and since the
output of a ``depth``-block message-passing model at node ``i`` depends only on the
``depth``-hop neighbourhood of ``i``, a quiescent neighbourhood stays exactly quiescent: no
small bias is left for the unstable growth to amplify into premature activation.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import ConfigError, DataError
from gnnops.surrogate.normalizer import uncentered
from gnnops.surrogate.prepare import prepare_graph
from gnnops.surrogate.recipe import RolloutLayout
from gnnops.surrogate.surrogate import Surrogate

__all__ = ["trajectory_layout", "state_times", "step_input_names", "full_states",
           "step_inputs", "one_step_pairs", "anchored_increment", "RolloutSurrogate",
           "rollout", "one_step_increments"]


def trajectory_layout(problem: str, solver_options: dict[str, Any] | None = None, *,
                      dt_feature: bool = True, anchor: float | None = None) -> RolloutLayout:
    """The recipe's ``rollout`` layout for a time-dependent problem.

    Args:
        problem: registered problem name (``time_dependent`` must be true).
        solver_options: the problem's constructor options the data was generated with.
        dt_feature: append the step ``dt`` as an input column.
        anchor: constant steady state ``c`` of the dynamics for anchored increments
            ``model(s) - model(c)`` (module docstring), or ``None`` (plain increments).

    Raises:
        ConfigError: the problem is not time-dependent, or ``anchor`` is not a finite float.
    """
    from gnnops.problems import get

    if anchor is not None and not (isinstance(anchor, (int, float))
                                   and not isinstance(anchor, bool) and np.isfinite(anchor)):
        raise ConfigError(f"config key 'rollout.anchor' expects a finite float or null, "
                          f"got {anchor!r}")
    opts = dict(solver_options or {})
    prob = get(problem, **opts)
    if not getattr(prob, "time_dependent", False):
        raise ConfigError(f"task 'rollout' needs a time-dependent problem (got {problem!r}; "
                          f"its outputs are not trajectories)")
    times = np.asarray(prob.times() if callable(prob.times) else prob.times, dtype=np.float64)
    t0 = float(getattr(prob, "options", {}).get("t0", 0.0))
    includes = bool(times.size and abs(times[0] - t0) <= 1e-12 * max(1.0, abs(t0)))
    full = times if includes else np.concatenate([[t0], times])
    initial = prob.input_fields[0]
    return RolloutLayout(
        problem=problem, problem_options=opts, state=prob.output_fields[0],
        initial=initial, static=[f for f in prob.input_fields if f != initial],
        times=times.tolist(), t0=t0, includes_initial=includes,
        dt=float(np.median(np.diff(full))), dt_feature=bool(dt_feature),
        anchor=None if anchor is None else float(anchor),
    )


def state_times(layout: RolloutLayout) -> np.ndarray:
    """Times ``[K + 1]`` of the full state sequence (initial state first)."""
    t = np.asarray(layout.times, dtype=np.float64)
    return t if layout.includes_initial else np.concatenate([[layout.t0], t])


def step_input_names(layout: RolloutLayout) -> list[str]:
    """One-step model inputs: ``[state, *static, "dt"]`` (``dt`` when ``dt_feature``)."""
    return [layout.state, *layout.static] + (["dt"] if layout.dt_feature else [])


def full_states(data: Data, layout: RolloutLayout) -> tuple[Tensor, Tensor]:
    """States ``[N, K + 1]`` and static inputs ``[N, F_s]`` of a raw sample.

    Args:
        data: ``x`` = ``[initial, *static]`` columns (the problem's inputs, scalar each),
            ``y`` = the stored trajectory ``[N, T]``.

    Raises:
        DataError: widths do not match the layout.
    """
    n = int(data.num_nodes)
    x = data.x.reshape(n, -1).float()
    n_in = 1 + len(layout.static)
    if x.shape[1] != n_in:
        raise DataError(f"expected inputs {[layout.initial, *layout.static]} as {n_in} "
                        f"scalar columns (got x of shape {list(x.shape)})")
    y = data.y.reshape(n, -1).float()
    if y.shape[1] != len(layout.times):
        raise DataError(f"expected trajectory '{layout.state}' of shape [{n}, "
                        f"{len(layout.times)}] (got {list(y.shape)})")
    s = y if layout.includes_initial else torch.cat([x[:, :1], y], dim=1)
    return s, x[:, 1:]


def step_inputs(state: Tensor, static: Tensor, dt: float, layout: RolloutLayout) -> Tensor:
    """One-step input columns ``[N, 1 + F_s (+1)]`` from ``state [N]`` and ``static [N, F_s]``."""
    cols = [state.reshape(-1, 1).float(), static.float()]
    if layout.dt_feature:
        cols.append(torch.full((state.shape[0], 1), float(dt)))
    return torch.cat(cols, dim=1)


def _topology(data: Data, keep_pos: bool) -> Data:
    base = copy.copy(data)
    for key in ("x", "y", "node_ids", "source", "resolution") + (() if keep_pos else ("pos",)):
        if key in base:
            del base[key]
    return base


def one_step_pairs(data: Data, layout: RolloutLayout, *, keep_pos: bool = True) -> list[Data]:
    """The ``K`` training pairs of one trajectory (topology tensors shared, not copied).

    Args:
        data: raw sample (see :func:`full_states`).
        layout: the rollout layout.
        keep_pos: keep ``pos`` (meshes; networks drop it so families without a layout fit).

    Returns:
        ``K`` graphs with ``x`` = :func:`step_inputs` at ``t_k`` and ``y`` = ``s_{k+1} - s_k``
        ``[N, 1]``.
    """
    s, static = full_states(data, layout)
    dts = np.diff(state_times(layout))
    base = _topology(data, keep_pos)
    out = []
    for k in range(s.shape[1] - 1):  # loop over time steps, not nodes
        g = copy.copy(base)
        g.x = step_inputs(s[:, k], static, float(dts[k]), layout)
        g.y = s[:, k + 1:k + 2] - s[:, k:k + 1]
        out.append(g)
    return out


def anchored_increment(surrogate: torch.nn.Module, batch: Data, anchor: float | None, *,
                       normalized: bool = False, out: Tensor | None = None) -> Tensor:
    """The one-step increment, anchored at the constant state ``anchor`` when given.

    Args:
        surrogate: a :class:`Surrogate` (its plain ``forward`` is used; a
            :class:`RolloutSurrogate` has ``y_mean = 0``, so normalized anchored increments
            compare directly with its normalized targets).
        batch: prepared graph(s), state in input column 0 (physical units).
        anchor: ``None`` (returns ``surrogate(batch)``) or the constant steady state ``c``.
        normalized: return normalized units (``increment / y_std``).
        out: the already computed ``Surrogate.forward(batch, normalized=True)``, if any.

    Returns:
        ``[N, F_out]``: ``model(batch) - model(batch with state = anchor)`` (physical or
        normalized units); exactly 0 where the ``depth``-hop neighbourhood is at ``anchor``.
    """
    o = Surrogate.forward(surrogate, batch, normalized=True) if out is None else out
    if anchor is None:
        return o if normalized else surrogate.denormalize(o)
    b0 = copy.copy(batch)
    b0.x = batch.x.clone()
    b0.x[:, 0] = float(anchor)
    o = o - Surrogate.forward(surrogate, b0, normalized=True)  # the means cancel
    return o if normalized else o.float() * surrogate.y_std


class RolloutSurrogate(Surrogate):
    """A one-step Surrogate that injects training noise into the state column.

    In training mode with ``noise_std > 0``: ``eps ~ N(0, noise_std^2)`` (physical units) is
    added to input column 0 (the state) and the returned increment is ``out + eps`` (in the
    requested units), so the loss against ``y = s_{k+1} - s_k`` trains ``out`` towards
    ``s_{k+1} - (s_k + eps)``. In eval mode it is exactly :class:`Surrogate`.

    With ``recipe.rollout.anchor = c`` the increment is anchored
    (:func:`anchored_increment`) in both modes.

    Saved artifacts are plain :class:`Surrogate` s (the noise only exists in training; the
    anchor is in the recipe's layout and :func:`rollout` applies it).
    """

    def __init__(self, *args: Any, noise_std: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.anchor = self.recipe.rollout.anchor if self.recipe.rollout is not None else None
        if not noise_std >= 0:
            raise ConfigError(f"config key 'rollout.noise_std' expects a float >= 0, "
                              f"got {noise_std!r}")
        self.noise_std = float(noise_std)

    @classmethod
    def wrap(cls, sur: Surrogate, *, noise_std: float,
             layout: RolloutLayout | None = None) -> RolloutSurrogate:
        """The same model and recipe (plus ``recipe.rollout = layout``); the increment
        normalizer is re-centred at 0 (``y.std`` = root mean square), so a zero model output
        is a zero increment -- a steady state stays steady without learning a bias exactly.
        A model with ``homogeneous_columns`` (input column indices, e.g. the state) gets
        those columns re-centred the same way (:func:`~gnnops.surrogate.normalizer.uncentered`);
        one with ``state_units_output = True`` (it computes ``next state - state`` from
        the state it is given) gets the state's scale as the increment scale.
        """
        recipe = sur.recipe
        if layout is not None:
            recipe = dataclasses.replace(recipe, rollout=copy.deepcopy(layout))
        # a model linear and homogeneous in some input columns (the state, a forcing) gets
        # them scaled, not shifted (e.g. gnnops.models.linear_stencil)
        norms = uncentered(sur.normalizers, "x", getattr(sur.model, "homogeneous_columns", ()))
        rms = torch.sqrt(norms["y.std"] ** 2 + norms["y.mean"] ** 2).clamp_min(1e-12)
        norms["y.mean"], norms["y.std"] = torch.zeros_like(rms), rms
        if getattr(sur.model, "state_units_output", False):  # increment in the state's scale
            norms["y.std"] = norms["x.std"][:rms.numel()].clone()
        return cls(sur.model, model_name=sur.model_name, model_kwargs=sur.model_kwargs,
                   recipe=recipe, normalizers=norms, noise_std=noise_std)

    def forward(self, batch: Data, *, normalized: bool = False, input_noise: float = 0.0
                ) -> Tensor:
        """As :meth:`Surrogate.forward`, plus the state noise in training mode and the anchor."""
        if not (self.training and self.noise_std > 0):
            if self.anchor is None:
                return super().forward(batch, normalized=normalized, input_noise=input_noise)
            out = super().forward(batch, normalized=True, input_noise=input_noise)
            return anchored_increment(self, batch, self.anchor, normalized=normalized, out=out)
        eps = torch.randn(batch.x.shape[0], 1, device=batch.x.device) * self.noise_std
        b = copy.copy(batch)
        b.x = torch.cat([batch.x[:, :1] + eps.to(batch.x.dtype), batch.x[:, 1:]], dim=1)
        if self.anchor is None:
            out = super().forward(b, normalized=normalized, input_noise=input_noise)
        else:
            out = anchored_increment(self, b, self.anchor, normalized=normalized,
                                     out=super().forward(b, normalized=True,
                                                         input_noise=input_noise))
        return out + (eps / self.y_std if normalized else eps)


def _stepper(surrogate: torch.nn.Module, data: Data, state0: Tensor, static: Tensor,
             dts: np.ndarray, layout: RolloutLayout) -> Callable[[int, Tensor], Tensor]:
    """``increment(k, state)``: the model's one-step increment ``[N]`` at step ``k`` (graph
    prepared once; the anchor reference computed once per distinct ``dt``)."""
    recipe = surrogate.recipe
    g = _topology(data, keep_pos="pos" in recipe.features or recipe.kind == "mesh")
    g.x = step_inputs(state0, static, float(dts[0]) if dts.size else layout.dt, layout)
    model = getattr(surrogate, "model", surrogate)
    prepared = prepare_graph(g, recipe, model=model)
    dt_col = 1 + len(layout.static)
    anchor = layout.anchor
    ref: dict[float, Tensor] = {}  # model(anchor state) per dt: constant along the rollout

    def increment(k: int, state: Tensor) -> Tensor:
        if layout.dt_feature:
            prepared.x[:, dt_col] = float(dts[k])
        if anchor is not None and float(dts[k]) not in ref:
            prepared.x[:, 0] = float(anchor)
            ref[float(dts[k])] = Surrogate.forward(surrogate, prepared, normalized=True)
        prepared.x[:, 0] = state
        if anchor is None:
            return surrogate(prepared).float()[:, 0]
        out = Surrogate.forward(surrogate, prepared, normalized=True) - ref[float(dts[k])]
        return (out.float() * surrogate.y_std)[:, 0]

    return increment


@torch.no_grad()
def rollout(surrogate: torch.nn.Module, data: Data, state0: Tensor, static: Tensor,
            dts: Any, *, layout: RolloutLayout) -> Tensor:
    """Autoregressive rollout ``s_{k+1} = s_k + model([s_k, static, dt_k])``.

    Args:
        surrogate: one-step surrogate (physical units; put in eval mode by the caller).
        data: raw graph (topology, ``pos`` / edge features as in training).
        state0: ``[N]`` initial state.
        static: ``[N, F_s]`` static inputs.
        dts: ``[steps]`` time steps.
        layout: the recipe's rollout layout.

    Returns:
        ``[N, steps + 1]`` states, column 0 = ``state0``.
    """
    dts = np.asarray(dts, dtype=np.float64).reshape(-1)
    increment = _stepper(surrogate, data, state0, static, dts, layout)
    states = [state0.reshape(-1).float()]
    for k in range(dts.size):  # loop over time steps
        states.append(states[-1] + increment(k, states[-1]))
    return torch.stack(states, dim=1)


@torch.no_grad()
def one_step_increments(surrogate: torch.nn.Module, data: Data, states: Tensor,
                        static: Tensor, dts: Any, *, layout: RolloutLayout) -> Tensor:
    """Teacher-forced one-step predictions: the increment from every reference state.

    Args:
        surrogate, data, static, layout: as in :func:`rollout`.
        states: ``[N, steps + 1]`` reference states (column 0 = initial state).
        dts: ``[steps]`` time steps.

    Returns:
        ``[N, steps]``: column ``k`` = ``model([s_k, static, dt_k])`` (compare with
        ``s_{k+1} - s_k``).
    """
    dts = np.asarray(dts, dtype=np.float64).reshape(-1)
    increment = _stepper(surrogate, data, states[:, 0], static, dts, layout)
    return torch.stack([increment(k, states[:, k].float()) for k in range(dts.size)], dim=1)
