"""Shared machinery of the network-dynamics problems: dx/dt = F(x) on a graph.

The graph operators (adjacency convention ``A[i, j]`` = weight of ``j -> i``,
``L = D - A``) are in :mod:`gnnops.problems._graph_ops`.

Residual (time discretization of a trajectory ``X: [N, T]`` saved at ``times``):
per interval ``[t_k, t_k+1]`` the defect of the integral form
``x_k+1 - x_k - int F(x) dt`` with the integral by

* ``"hermite_simpson"`` (default, 4th order): ``dt/6 (F_k + 4 F(x_m) + F_k+1)``,
  ``x_m = (x_k + x_k+1)/2 + dt/8 (F_k - F_k+1)`` (the cubic Hermite midpoint);
* ``"trapezoid"`` (2nd order): ``dt/2 (F_k + F_k+1)``.

A true trajectory scores the quadrature error, relative O(dt^4) resp. O(dt^2);
the relative residual is ``||defects|| / max(||quadratures||, ||x_k+1 - x_k||)``
(Frobenius norms over nodes and intervals). When ``x0`` is given and
``times[0] == t0`` the initial mismatch ``X[:, 0] - x0`` is one more defect; when
``times[0] > t0``, ``(t0, x0)`` is prepended as the first saved point.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError
from gnnops.problems._graph_ops import NumpyGraphOp, TorchGraphOp, adjacency, to_numpy
from gnnops.problems._network_inputs import draw_initial, evaluate_initial
from gnnops.problems.base import InputSample, Problem

__all__ = ["resolve_times", "NetworkProblem"]

SOLVER_OPTIONS = ("t0", "t_end", "n_times", "times", "method", "rtol", "atol", "scheme")
_SPARSE_JAC = ("BDF", "Radau")
_DENSE_JAC_MAX_N = 2000  # LSODA takes a dense Jacobian: only passed up to this size


def resolve_times(*, t0: float = 0.0, t_end: float = 5.0, n_times: int = 101,
                  times: Any = None) -> np.ndarray:
    """Saved times ``[T]``: explicit ``times`` (strictly increasing, >= t0, may be irregular),
    else ``linspace(t0, t_end, n_times)``."""
    if times is None:
        if not (int(n_times) == n_times and n_times >= 2):
            raise ProblemError(f"expected n_times an integer >= 2 (got {n_times!r})")
        if not t_end > t0:
            raise ProblemError(f"expected t_end > t0 = {t0} (got {t_end})")
        return np.linspace(float(t0), float(t_end), int(n_times))
    arr = to_numpy(times).reshape(-1)
    if arr.size < 1 or not np.all(np.isfinite(arr)):
        raise ProblemError(f"expected times a non-empty finite 1-D array (got {arr.size} entries)")
    if np.any(np.diff(arr) <= 0) or arr[0] < t0:
        raise ProblemError(f"expected times strictly increasing and >= t0 = {t0} "
                           f"(got {arr[:5].tolist()}...)")
    return arr


class NetworkProblem(Problem):
    """Base of the network ODE problems. Subclasses set ``name``, ``defaults`` and
    ``initial``, and implement :meth:`rhs` (numpy and torch alike) and :meth:`jac`.

    Constructor keywords (problem-wide defaults, each overridable per call):
    the ODE parameters in ``defaults``; ``t0=0``, ``t_end=5``, ``n_times=101`` or
    ``times``; ``method="DOP853"`` (any ``solve_ivp`` method; ``"BDF"``/``"Radau"`` get
    the sparse analytic Jacobian, ``"LSODA"`` a dense one up to 2000 nodes);
    ``rtol=1e-8``, ``atol=1e-10``; ``scheme="hermite_simpson"`` or ``"trapezoid"`` (residual).
    """

    kind: ClassVar[str] = "network"
    input_fields: ClassVar[tuple[str, ...]] = ("x0",)
    output_fields: ClassVar[tuple[str, ...]] = ("x",)
    time_dependent: ClassVar[bool] = True
    defaults: ClassVar[dict[str, float]] = {}
    initial: ClassVar[dict[str, Any]] = {"recipe": "uniform", "low": 0.0, "high": 1.0}

    def __init__(self, **options: Any) -> None:
        base = {"t0": 0.0, "t_end": 5.0, "n_times": 101, "times": None, "method": "DOP853",
                "rtol": 1e-8, "atol": 1e-10, "scheme": "hermite_simpson", **self.defaults}
        self.options = self._merge(base, options)

    # -- to implement --------------------------------------------------------------------
    def rhs(self, x: Any, op: Any, p: dict[str, float]) -> Any:
        """``F(x)`` for ``x: [N, K]`` (K states at once), numpy or torch."""
        raise NotImplementedError

    def jac(self, x: np.ndarray, op: NumpyGraphOp, p: dict[str, float]) -> sp.spmatrix:
        """Sparse Jacobian ``dF/dx: [N, N]`` at ``x: [N]``."""
        raise NotImplementedError

    def check_state(self, x0: np.ndarray) -> None:
        """Validate an initial state (subclasses restrict the range)."""

    # -- options ---------------------------------------------------------------------------
    def _merge(self, base: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(base))
        if unknown:
            raise ProblemError(f"unknown option(s) {unknown} for problem {self.name!r}; "
                               f"expected some of: {', '.join(sorted(base))}")
        out = {**base, **options}
        for key in self.defaults:
            if not np.isfinite(float(out[key])):
                raise ProblemError(f"expected a finite number for {key!r} (got {out[key]!r})")
        if out["scheme"] not in ("hermite_simpson", "trapezoid"):
            raise ProblemError("expected scheme 'hermite_simpson' or 'trapezoid' "
                               f"(got {out['scheme']!r})")
        return out

    def params(self, **overrides: Any) -> dict[str, float]:
        """ODE parameters after ``overrides``."""
        o = self._merge(self.options, overrides)
        return {k: float(o[k]) for k in self.defaults}

    def times(self, **overrides: Any) -> np.ndarray:
        """Saved times ``[T]`` of the trajectories (problem defaults after ``overrides``)."""
        o = self._merge(self.options, overrides)
        return resolve_times(t0=o["t0"], t_end=o["t_end"], n_times=o["n_times"],
                             times=o["times"])

    def _x0(self, x0: Any, n: int) -> np.ndarray:
        arr = to_numpy(x0)
        if arr.size != n or arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
            raise ProblemError(f"expected x0 of shape [N] or [N, 1] with N = {n} "
                               f"(got {list(arr.shape)})")
        arr = arr.reshape(n)
        if not np.all(np.isfinite(arr)):
            raise ProblemError("expected a finite x0 (got NaN/inf)")
        self.check_state(arr)
        return arr

    # -- inputs --------------------------------------------------------------------------
    def sample_inputs(self, rng: np.random.Generator, **options: Any) -> InputSample:
        """Draw an initial-state recipe (see :mod:`gnnops.problems._network_inputs`); the defaults
        are the class attribute ``initial`` (when ``options`` names no other ``recipe``),
        overridden by ``options``."""
        same = options.get("recipe", self.initial["recipe"]) == self.initial["recipe"]
        return InputSample(self.name, draw_initial(rng, {**(self.initial if same else {}),
                                                         **options}))

    def evaluate_inputs(self, sample: InputSample, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """``{"x0": [N]}`` of the sample on this graph."""
        x0 = evaluate_initial(sample.params, mesh_or_graph, adjacency(mesh_or_graph))
        return {"x0": x0}

    # -- solver --------------------------------------------------------------------------
    def solve(self, mesh_or_graph: Any, **inputs: Any) -> dict[str, np.ndarray]:
        """Integrate from ``x0`` (at ``t0``) with ``scipy.integrate.solve_ivp``.

        Args:
            mesh_or_graph: networkx graph or PyG ``Data``.
            **inputs: ``x0`` [N] (required); ODE parameters and solver options.

        Returns:
            ``{"x": [N, T]}`` at the saved times (``times[0] == t0`` gives ``x0``).
        """
        from scipy.integrate import solve_ivp

        if "x0" not in inputs:
            raise ProblemError(f"problem {self.name!r} expects input 'x0' (got none)")
        x0_in = inputs.pop("x0")
        o = self._merge(self.options, inputs)
        p = {k: float(o[k]) for k in self.defaults}
        times = self.times(**inputs)
        op = NumpyGraphOp(adjacency(mesh_or_graph))
        x0 = self._x0(x0_in, op.n)

        def fun(_t: float, x: np.ndarray) -> np.ndarray:
            return self.rhs(x[:, None], op, p)[:, 0]

        kw: dict[str, Any] = {}
        if o["method"] in _SPARSE_JAC:
            kw["jac"] = lambda _t, x: self.jac(x, op, p)
        elif o["method"] == "LSODA" and op.n <= _DENSE_JAC_MAX_N:
            kw["jac"] = lambda _t, x: self.jac(x, op, p).toarray()
        t_end = float(times[-1])
        if t_end == o["t0"]:
            return {"x": x0[:, None].copy()}
        try:
            sol = solve_ivp(fun, (float(o["t0"]), t_end), x0, method=o["method"], t_eval=times,
                            rtol=float(o["rtol"]), atol=float(o["atol"]), **kw)
        except ValueError as exc:
            raise ProblemError(f"solve_ivp rejected the options ({exc})") from exc
        if sol.status != 0:
            raise ProblemError(f"ODE integration failed: {sol.message}")
        return {"x": sol.y}

    # -- residuals ------------------------------------------------------------------------
    def _prepare(self, x: Any, inputs: dict[str, Any], n: int) -> tuple[Any, Any, Any, dict]:
        x0 = inputs.pop("x0", None)
        p = self.params(**inputs)
        o = self._merge(self.options, inputs)
        times = self.times(**inputs)
        if x.ndim != 2 or x.shape[0] != n or x.shape[1] != times.size:
            raise ProblemError(f"expected trajectory 'x' of shape [N, T] = [{n}, {times.size}] "
                               f"(got {list(x.shape)})")
        return x0, times, p, o

    def _rhs_cols(self, x: Any, op: Any, p: dict) -> Any:
        """``rhs`` over the columns of ``x: [N, K]``, in chunks of ~2M edge values (numpy)."""
        if not isinstance(op, NumpyGraphOp):
            return self.rhs(x, op, p)
        step = max(1, 2_000_000 // max(len(op.src), 1))
        return np.concatenate([self.rhs(x[:, i:i + step], op, p)
                               for i in range(0, x.shape[1], step)], axis=1)

    def _defects(self, x: Any, times: np.ndarray, x0: Any, op: Any, p: dict, o: dict,
                 cat: Any, to: Any) -> tuple[Any, Any, Any]:
        """Per-interval defects, quadratures and increments ``[N, M]`` (numpy or torch)."""
        ic = None
        t0 = float(o["t0"])
        if x0 is not None and times[0] > t0:
            x = cat([x0.reshape(-1, 1), x], 1)
            times = np.concatenate([[t0], times])
        elif x0 is not None:
            ic = x[:, :1] - x0.reshape(-1, 1)
        dt = to(np.diff(times)[None, :])
        f = self._rhs_cols(x, op, p)
        dx = x[:, 1:] - x[:, :-1]
        if o["scheme"] == "trapezoid":
            q = dt / 2 * (f[:, :-1] + f[:, 1:])
        else:
            xm = (x[:, :-1] + x[:, 1:]) / 2 + dt / 8 * (f[:, :-1] - f[:, 1:])
            q = dt / 6 * (f[:, :-1] + 4 * self._rhs_cols(xm, op, p) + f[:, 1:])
        d = dx - q
        if ic is not None:
            d = cat([ic, d], 1)
        return d, q, dx

    def residual_per_node(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                          **inputs: Any) -> np.ndarray:
        """Absolute residual per node ``[N]``: the 2-norm over intervals of its defects."""
        return np.sqrt(np.sum(self._np_defects(mesh_or_graph, outputs, inputs)[0] ** 2, axis=1))

    def residual(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                 **inputs: Any) -> float:
        """Relative residual ``||d|| / max(||quadrature||, ||increments||)`` (0 if both 0)."""
        d, q, dx = self._np_defects(mesh_or_graph, outputs, inputs)
        den = max(float(np.linalg.norm(q)), float(np.linalg.norm(dx)))
        num = float(np.linalg.norm(d))
        return num / den if den > 0 else (0.0 if num == 0 else float("inf"))

    def _np_defects(self, graph: Any, outputs: dict, inputs: dict) -> tuple:
        if "x" not in outputs:
            raise ProblemError(f"expected output 'x' (got {sorted(outputs)})")
        op = NumpyGraphOp(adjacency(graph))
        x = np.asarray(outputs["x"], dtype=np.float64)
        x0, times, p, o = self._prepare(x, dict(inputs), op.n)
        x0 = None if x0 is None else self._x0(x0, op.n)
        return self._defects(x, times, x0, op, p, o, np.concatenate, np.asarray)

    def trajectory_error_estimate(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                                  **inputs: Any) -> Any:
        """Estimated error of a predicted trajectory ``outputs["x"]: [N, T]`` (column 0 at
        ``times[0]``) against the true one from ``x0``, without solving it from ``t0``
        (:mod:`gnnops.problems.rollout_estimate`). Returns a ``RolloutEstimate``."""
        from gnnops.problems.rollout_estimate import rollout_error_estimate

        if "x" not in outputs:
            raise ProblemError(f"expected output 'x' (got {sorted(outputs)})")
        x = np.asarray(outputs["x"], dtype=np.float64)
        x0, times, _p, _o = self._prepare(x, dict(inputs), x.shape[0])
        params = {k: v for k, v in inputs.items() if k in self.defaults}
        return rollout_error_estimate(self, mesh_or_graph, x, times, x0=x0, **params)

    def residual_torch(self, data: Any, outputs: Any, **inputs: Any) -> Any:
        """Differentiable relative residual (torch scalar), mean over the graphs of a batch.

        Args:
            data: PyG ``Data`` or batch (``edge_index``, optional ``edge_weight``, ``batch``).
            outputs: trajectory ``[N, T]`` at the saved times.
            **inputs: ``x0`` ``[N]`` or ``[N, 1]`` (default ``data.x[:, 0]`` when present),
                ``times``, ODE parameters.
        """
        import torch

        inputs = dict(inputs)
        if "x0" not in inputs and getattr(data, "x", None) is not None:
            inputs["x0"] = data.x[:, 0]
        x0 = inputs.get("x0")
        op = TorchGraphOp(data, outputs.dtype)
        if x0 is not None:
            if x0.numel() != op.n:
                raise ProblemError(f"expected x0 of shape [N] or [N, 1] with N = {op.n} "
                                   f"(got {list(x0.shape)})")
            inputs["x0"] = x0.to(outputs.dtype).reshape(-1)
        x0, times, p, o = self._prepare(outputs, inputs, op.n)

        def to(a: np.ndarray) -> Any:
            return torch.as_tensor(a, dtype=outputs.dtype, device=outputs.device)

        d, q, dx = self._defects(outputs, times, x0, op, p, o, torch.cat, to)
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(op.n, dtype=torch.long, device=outputs.device)
        g = int(batch.max()) + 1 if batch.numel() else 1

        def per_graph(v: Any) -> Any:
            return outputs.new_zeros(g).index_add(0, batch, (v * v).sum(1))

        num, den = per_graph(d), torch.maximum(per_graph(q), per_graph(dx))
        return (torch.sqrt(num + 1e-30) / torch.sqrt(den + 1e-30)).mean()
