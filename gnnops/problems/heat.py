"""Heat equation: du/dt = div(kappa grad u) + f, u = 0 on the boundary, u(0) = u0.

Space: P1 / Q1 as darcy (``kappa`` averaged per cell, ``f`` integrated as
``M f``, Dirichlet nodes = boundary nodes, where u = 0 at every saved time; the
initial state is taken as given even where it is nonzero on the boundary).
Time: backward Euler with ``dt = t_end / n_steps``:

    (M + dt K) u^{n+1} = M u^n + dt M f.

The output ``u: [N, T]`` holds the states at ``times`` = every ``save_every``-th
step (``T = n_steps // save_every``; t = 0 excluded, it is the input ``u0``).
The residual stacks the backward Euler residuals of consecutive saved states
with the step ``dt * save_every`` (Dirichlet rows as in
:mod:`gnnops.problems._linear`): exact (~1e-14 for the reference) when
``save_every = 1`` (default), an O(dt) consistency check otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError
from gnnops.problems._fem import FemMesh, fem_mesh
from gnnops.problems._linear import LinearSystem, as_array, check_field, factorize, to_torch_sparse
from gnnops.problems._stationary import batch_inputs, split_batch
from gnnops.problems.base import InputSample, Problem, register
from gnnops.problems.random_fields import evaluate_field, sample_field

__all__ = ["Heat"]


@register
class Heat(Problem):
    """Backward-Euler heat equation (see the module docstring).

    Args:
        t_end: final time.
        n_steps: backward Euler steps (``dt = t_end / n_steps``).
        save_every: save every this many steps (must divide ``n_steps``).
        box, n_modes: the sampler's box and modes per axis.
    """

    name = "heat"
    kind = "mesh"
    input_fields = ("u0", "kappa", "f")
    output_fields = ("u",)
    time_dependent = True
    optional_inputs = ("f",)
    t_end: float = 0.05
    n_steps: int = 20
    save_every: int = 1

    def __init__(self, *, t_end: float | None = None, n_steps: int | None = None,
                 save_every: int | None = None, box: Any = None,
                 n_modes: int | None = None) -> None:
        self.t_end = float(self.t_end if t_end is None else t_end)
        self.n_steps = int(self.n_steps if n_steps is None else n_steps)
        self.save_every = int(self.save_every if save_every is None else save_every)
        if self.t_end <= 0 or self.n_steps < 1 or self.save_every < 1:
            raise ProblemError(f"expected t_end > 0, n_steps >= 1, save_every >= 1; got "
                               f"{self.t_end}, {self.n_steps}, {self.save_every}")
        if self.n_steps % self.save_every:
            raise ProblemError(f"save_every={self.save_every} must divide "
                               f"n_steps={self.n_steps}")
        self.box, self.n_modes = box, n_modes

    @property
    def dt(self) -> float:
        return self.t_end / self.n_steps

    @property
    def times(self) -> np.ndarray:
        """``[T]`` saved times (t = 0 excluded)."""
        n_saved = self.n_steps // self.save_every
        return self.dt * self.save_every * np.arange(1, n_saved + 1)

    def sample_inputs(self, rng: np.random.Generator, *, dim: int = 2, box: Any = None,
                      n_modes: int | None = None, alpha: float = 3.0, tau: float = 3.0,
                      amplitude: float = 10.0, sigma: float = 0.5,
                      f: float = 0.0) -> InputSample:
        """Smooth ``u0 = amplitude * GRF_sin`` (zero on the box boundary; sine series,
        ``alpha`` = 3 for smoothness), ``kappa = exp(sigma * GRF_cos)``, constant ``f``."""
        box = box if box is not None else self.box
        n_modes = n_modes or self.n_modes or (16 if dim <= 2 else 8)
        u0 = sample_field(rng, dim=dim, n_modes=n_modes, alpha=alpha, tau=tau, basis="sin",
                          box=box)
        kappa = sample_field(rng, dim=dim, n_modes=n_modes, alpha=2.0, tau=tau, basis="cos",
                             box=box)
        return InputSample(self.name, {"u0": u0, "kappa": kappa, "amplitude": float(amplitude),
                                       "sigma": float(sigma), "f": float(f)})

    def evaluate_inputs(self, sample: InputSample, mesh_or_graph: Any) -> dict[str, np.ndarray]:
        """``{"u0": [N], "kappa": [N], "f": [N]}`` at the nodes."""
        fm = fem_mesh(mesh_or_graph)
        p = sample.params
        return {"u0": p["amplitude"] * evaluate_field(p["u0"], fm.points),
                "kappa": np.exp(p["sigma"] * evaluate_field(p["kappa"], fm.points)),
                "f": np.full(fm.n_nodes, p["f"])}

    def _inputs(self, fm: FemMesh, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        unknown = set(inputs) - set(self.input_fields)
        if unknown:
            raise ProblemError(f"unknown heat inputs {sorted(unknown)}; expected "
                               f"{list(self.input_fields)}")
        n = fm.n_nodes
        return {"u0": check_field("u0", inputs.get("u0"), n),
                "kappa": check_field("kappa", inputs.get("kappa"), n, positive=True),
                "f": check_field("f", inputs.get("f", 0.0), n)}

    def _matrices(self, fm: FemMesh, clean: dict[str, np.ndarray],
                  step: float) -> tuple[LinearSystem, sp.csr_matrix]:
        """Step system ``(M + step K) u = b`` (b filled per step) and M."""
        m = fm.mass()
        k = fm.structure("stiffness").matrix(fm.cell_mean(clean["kappa"]))
        system = LinearSystem((m + step * k).tocsr(), np.zeros(fm.n_nodes),
                              fm.boundary.copy(), np.zeros(fm.n_nodes))
        return system, m

    def solve(self, mesh_or_graph: Any, **inputs: Any) -> dict[str, np.ndarray]:
        """Backward Euler trajectory ``{"u": [N, T]}`` at :attr:`times`."""
        fm = fem_mesh(mesh_or_graph)
        clean = self._inputs(fm, inputs)
        system, m = self._matrices(fm, clean, self.dt)
        a_ff, _ = system.reduced()
        lu = factorize(a_ff)
        free = system.free
        mf = self.dt * (m @ clean["f"])
        u = clean["u0"].copy()
        out = np.empty((fm.n_nodes, len(self.times)))
        for step in range(1, self.n_steps + 1):
            rhs = m @ u + mf
            u = np.zeros(fm.n_nodes)
            u[free] = lu.solve(rhs[free])
            if step % self.save_every == 0:
                out[:, step // self.save_every - 1] = u
        return {"u": out}

    def _residual_parts(self, fm: FemMesh, outputs: Any, inputs: dict[str, Any]):
        clean = self._inputs(fm, inputs)
        step = self.dt * self.save_every
        system, m = self._matrices(fm, clean, step)
        ahat, _ = system.dirichlet_operator()
        mhat = sp.diags(system.free.astype(np.float64)) @ m
        c = np.where(system.free, step * (m @ clean["f"]), 0.0)
        return clean, ahat.tocsr(), mhat.tocsr(), c

    def _trajectory(self, fm: FemMesh, outputs: Any) -> np.ndarray:
        u = as_array(outputs["u"] if isinstance(outputs, dict) else outputs)
        expected = (fm.n_nodes, len(self.times))
        if u.shape != expected:
            raise ProblemError(f"expected output 'u' of shape {list(expected)} "
                               f"(nodes x saved times), got {list(u.shape)}")
        return u

    def _residual_matrix(self, mesh_or_graph: Any, outputs: Any,
                         inputs: dict[str, Any]) -> tuple[np.ndarray, float]:
        fm = fem_mesh(mesh_or_graph)
        u = self._trajectory(fm, outputs)
        clean, ahat, mhat, c = self._residual_parts(fm, outputs, inputs)
        prev = np.column_stack([clean["u0"], u[:, :-1]])
        rhs = mhat @ prev + c[:, None]
        den = float(np.linalg.norm(rhs))
        return ahat @ u - rhs, (den if den > 0 else 1.0)

    def residual_per_node(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                          **inputs: Any) -> np.ndarray:
        """Norm over the saved steps of each node's backward Euler residual, ``[N]``."""
        r, _ = self._residual_matrix(mesh_or_graph, outputs, inputs)
        return np.linalg.norm(r, axis=1)

    def residual(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                 **inputs: Any) -> float:
        """``||Â U - M̂ U_prev - c||_F / ||M̂ U_prev + c||_F`` over all saved steps."""
        r, den = self._residual_matrix(mesh_or_graph, outputs, inputs)
        return float(np.linalg.norm(r)) / den

    def residual_torch(self, data: Any, outputs: Any, **inputs: Any) -> Any:
        """Differentiable :meth:`residual` of ``outputs: [N, T]``; mean over graphs."""
        import torch

        inputs = batch_inputs(self, data, inputs)
        parts = split_batch(data)
        n_total = sum(sl.stop - sl.start for _, sl in parts)
        if tuple(outputs.shape) != (n_total, len(self.times)):
            raise ProblemError(f"expected outputs of shape [{n_total}, {len(self.times)}], "
                               f"got {list(outputs.shape)}")
        dtype = outputs.dtype
        losses = []
        for fm, sl in parts:
            local = {k: (as_array(v)[sl] if as_array(v).ndim else as_array(v))
                     for k, v in inputs.items()}
            clean, ahat, mhat, c = self._residual_parts(fm, None, local)
            u = outputs[sl]
            u0 = torch.from_numpy(clean["u0"]).to(dtype).unsqueeze(1)
            prev = torch.cat([u0, u[:, :-1]], dim=1)
            rhs = torch.sparse.mm(to_torch_sparse(mhat, dtype), prev)
            rhs = rhs + torch.from_numpy(c).to(dtype).unsqueeze(1)
            r = torch.sparse.mm(to_torch_sparse(ahat, dtype), u) - rhs
            den = torch.linalg.norm(rhs).clamp_min(torch.finfo(dtype).tiny)
            losses.append(torch.linalg.norm(r) / den)
        return torch.stack(losses).mean()
