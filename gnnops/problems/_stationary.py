"""Shared implementation of the stationary finite-element problems (darcy, elasticity).

A subclass validates its inputs (``_inputs``) and builds its
:class:`~gnnops.problems._linear.LinearSystem` (``_system``); this base class
provides ``solve``, ``residual``, ``residual_per_node``, ``residual_torch`` and
``solve_iterative`` on top of them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnnops.errors import ProblemError
from gnnops.problems._fem import FemMesh, fem_mesh, fem_mesh_from_arrays
from gnnops.problems._linear import LinearSystem, as_array, direct_solve, pcg, to_torch_sparse
from gnnops.problems.base import Problem
from gnnops.problems.estimators import RTOL, ErrorEstimate, FluxMap, correct, estimate_error

__all__ = ["StationaryFemProblem", "split_batch", "batch_inputs"]


def split_batch(data: Any) -> list[tuple[FemMesh, slice]]:
    """Per-graph :class:`FemMesh` and node slice of a PyG ``Data`` / ``Batch``.

    Uses ``data.ptr`` (absent on a single graph) and the batch-offset ``cell_index``.
    """
    if getattr(data, "pos", None) is None or getattr(data, "cell_index", None) is None:
        raise ProblemError("expected a Data with 'pos' [N, d] and 'cell_index' [k, C]; "
                           "got one without them")
    pos = data.pos.detach().cpu().numpy()
    cells = data.cell_index.detach().cpu().numpy().T
    ptr = getattr(data, "ptr", None)
    ptr = np.array([0, len(pos)]) if ptr is None else ptr.detach().cpu().numpy()
    ctype = data.cell_type
    types = list(ctype) if isinstance(ctype, (list, tuple)) else [ctype] * (len(ptr) - 1)
    owner = np.searchsorted(ptr, cells[:, 0], side="right") - 1
    bounds = np.searchsorted(owner, np.arange(len(ptr)))  # cells are grouped by graph
    out = []
    for i in range(len(ptr) - 1):
        local = cells[bounds[i]:bounds[i + 1]] - ptr[i]
        fm = fem_mesh_from_arrays(pos[ptr[i]:ptr[i + 1]], local, str(types[i]))
        out.append((fm, slice(int(ptr[i]), int(ptr[i + 1]))))
    return out


def batch_inputs(problem: Problem, data: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs for a torch residual: the keywords, else the columns of ``data.x``
    when it has exactly one column per input field (in ``input_fields`` order)."""
    missing = [f for f in problem.input_fields if f not in inputs]
    if not missing:
        return inputs
    x = getattr(data, "x", None)
    if x is not None and x.dim() == 2 and x.shape[1] == len(problem.input_fields):
        cols = {f: x[:, i] for i, f in enumerate(problem.input_fields)}
        return {**cols, **inputs}
    if all(f in problem.optional_inputs for f in missing):
        return inputs
    raise ProblemError(f"{problem.name} residual needs inputs {list(problem.input_fields)}; "
                       f"missing {missing} (pass them as keywords)")


def _slice_input(value: Any, sl: slice, n_total: int) -> Any:
    arr = as_array(value)
    if arr.ndim >= 1 and arr.shape[0] == n_total:
        return arr[sl]
    return arr


class StationaryFemProblem(Problem):
    """Base of the stationary mesh problems; see the module docstring."""

    optional_inputs: tuple[str, ...] = ()

    def _inputs(self, fm: FemMesh, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _system(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> LinearSystem:
        raise NotImplementedError

    def _components(self, fm: FemMesh) -> int:
        return 1

    def system(self, mesh_or_graph: Any, **inputs: Any) -> LinearSystem:
        """The validated, assembled linear system for these inputs (cached per mesh)."""
        fm = fem_mesh(mesh_or_graph)
        clean = self._inputs(fm, inputs)
        h = hashlib.blake2b(digest_size=16)
        for k in sorted(clean):
            h.update(k.encode())
            h.update(np.ascontiguousarray(clean[k]).tobytes())
        h.update(repr(self._options_key()).encode())
        lru: OrderedDict = fm.cached("systems:" + self.name, OrderedDict)
        key = h.hexdigest()
        if key not in lru:
            lru[key] = self._system(fm, clean)
            while len(lru) > 8:
                lru.popitem(last=False)
        lru.move_to_end(key)
        return lru[key]

    def _options_key(self) -> Any:
        return ()

    def _unit_inputs(self, fm: FemMesh) -> dict[str, Any] | None:
        """Inputs whose operator has coefficient 1 (the mesh's AMG aggregation is built on
        it once); ``None``: aggregate each system's own matrix."""
        return None

    def _flux(self, fm: FemMesh, inputs: dict[str, np.ndarray]) -> FluxMap:
        """The flux map of the error estimator (see :mod:`gnnops.problems.estimators`)."""
        raise NotImplementedError

    def _unit_matrix(self, fm: FemMesh) -> sp.csr_matrix | None:
        """The unit-coefficient operator, cached per mesh and options on its own (not in the
        systems' LRU, where new inputs could evict it and a new estimate would pay its
        hashing and assembly again)."""
        unit = self._unit_inputs(fm)
        if unit is None:
            return None
        key = f"unit:{self.name}:{self._options_key()!r}"
        return fm.cached(key, lambda: self._system(fm, self._inputs(fm, unit)).A)

    def _shape_out(self, fm: FemMesh, u: np.ndarray) -> np.ndarray:
        c = self._components(fm)
        return u if c == 1 else u.reshape(fm.n_nodes, c)

    def _flat_output(self, fm: FemMesh, outputs: Any) -> np.ndarray:
        name = self.output_fields[0]
        u = outputs[name] if isinstance(outputs, dict) else outputs
        u = as_array(u)
        c = self._components(fm)
        expected = (fm.n_nodes,) if c == 1 else (fm.n_nodes, c)
        if c == 1 and u.ndim == 2 and u.shape[1] == 1:
            u = u[:, 0]
        if u.shape != expected:
            raise ProblemError(f"expected output {name!r} of shape {list(expected)}, "
                               f"got {list(u.shape)}")
        return u.reshape(-1)

    def solve(self, mesh_or_graph: Any, *, method: str = "auto",
              **inputs: Any) -> dict[str, np.ndarray]:
        """Reference solution (``method``: auto | direct | amg), per node."""
        fm = fem_mesh(mesh_or_graph)
        u = direct_solve(self.system(fm, **inputs), method=method, dim=fm.dim)
        return {self.output_fields[0]: self._shape_out(fm, u)}

    def residual_per_node(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                          **inputs: Any) -> np.ndarray:
        """``|Â u - b̂|`` per node, ``[N]`` (vector fields: norm over components)."""
        fm = fem_mesh(mesh_or_graph)
        return self.system(fm, **inputs).residual_per_node(self._flat_output(fm, outputs))

    def residual(self, mesh_or_graph: Any, outputs: dict[str, np.ndarray],
                 **inputs: Any) -> float:
        """``||Â u - b̂|| / ||b_free||`` (free-dof residual + Dirichlet mismatch)."""
        fm = fem_mesh(mesh_or_graph)
        return self.system(fm, **inputs).residual(self._flat_output(fm, outputs))

    def error_estimate(self, mesh_or_graph: Any, outputs: Any, *, rtol: float = RTOL,
                       **inputs: Any) -> ErrorEstimate:
        """Estimated relative L2 error of ``outputs`` against the PDE's solution: an
        algebraic part (vs this mesh's discrete solution, AMG-CG on the residual equation)
        and a discretization part (flux recovery); see :mod:`gnnops.problems.estimators`.

        Args:
            outputs: a dict with the output field, or its array (``[N]`` / ``[N, d]``).
            rtol: relative accuracy of the algebraic part's AMG-CG.
        """
        fm = fem_mesh(mesh_or_graph)
        clean = self._inputs(fm, inputs)
        system = self.system(fm, **inputs)
        return estimate_error(fm, system, self._flat_output(fm, outputs),
                              self._flux(fm, clean), unit=self._unit_matrix(fm), rtol=rtol)

    def correct(self, mesh_or_graph: Any, outputs: Any, *, cycles: int = 1,
                **inputs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``outputs`` improved by ``cycles`` AMG-CG iterations (one smoothed-aggregation
        V-cycle each) of this mesh's own system; Dirichlet values set to the data.

        Returns:
            (outputs, info) with info keys ``cycles``, ``residuals``, ``seconds``.
        """
        if not (isinstance(cycles, int) and cycles >= 0):
            raise ProblemError(f"expected cycles as an integer >= 0, got {cycles!r}")
        fm = fem_mesh(mesh_or_graph)
        system = self.system(fm, **inputs)
        u, info = correct(fm, system, self._flat_output(fm, outputs), cycles,
                          unit=self._unit_matrix(fm))
        return {self.output_fields[0]: self._shape_out(fm, u)}, info

    def residual_torch(self, data: Any, outputs: Any, **inputs: Any) -> Any:
        """Differentiable relative residual of ``outputs: [N, F_out]``; mean over graphs.

        Inputs are keyword arrays / tensors over all nodes of ``data`` (or the
        columns of ``data.x``, see :func:`batch_inputs`).
        """
        import torch

        inputs = batch_inputs(self, data, inputs)
        parts = split_batch(data)
        n_total = sum(sl.stop - sl.start for _, sl in parts)
        ops, rhs, dens, sizes = [], [], [], []
        for fm, sl in parts:
            local = {k: _slice_input(v, sl, n_total) for k, v in inputs.items()}
            system = self.system(fm, **local)
            ahat, bhat = system.dirichlet_operator()
            ops.append(ahat)
            rhs.append(bhat)
            dens.append(system.denominator())
            sizes.append(len(bhat))
        u = outputs.reshape(-1)
        if u.numel() != sum(sizes):
            raise ProblemError(f"expected outputs with {sum(sizes)} values "
                               f"({n_total} nodes), got shape {list(outputs.shape)}")
        a = to_torch_sparse(sp.block_diag(ops, format="csr"), u.dtype)
        b = torch.from_numpy(np.concatenate(rhs)).to(u.dtype)
        r = torch.sparse.mm(a, u.unsqueeze(1)).squeeze(1) - b
        owner = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        sq = torch.zeros(len(sizes), dtype=u.dtype).index_add_(0, owner, r * r)
        return (sq.sqrt() / torch.tensor(dens, dtype=u.dtype)).mean()

    def solve_iterative(self, mesh_or_graph: Any, *, x0: Any = None, tol: float = 1e-8,
                        method: str = "cg", preconditioner: str = "amg",
                        maxiter: int | None = None,
                        **inputs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Preconditioned CG from an initial guess (e.g. a neural prediction).

        Args:
            x0: initial guess: a dict with the output field, or its array
                (``[N]`` / ``[N, d]``); Dirichlet values are replaced by the data.
            tol: stop when the relative residual (as :meth:`residual`) <= tol.
            method: ``"cg"`` (the only one).
            preconditioner: ``"amg"`` (pyamg smoothed aggregation), ``"ilu"`` or ``"none"``.

        Returns:
            (outputs, info) with info keys ``iterations``, ``seconds``,
            ``setup_seconds``, ``residual``, ``converged``.
        """
        if method != "cg":
            raise ProblemError(f"unknown iterative method {method!r}; expected one of: cg")
        fm = fem_mesh(mesh_or_graph)
        system = self.system(fm, **inputs)
        a_ff, rhs = system.reduced()
        start = None if x0 is None else self._flat_output(fm, x0)[system.free]
        x, info = pcg(a_ff, rhs, x0=start, tol=tol, preconditioner=preconditioner,
                      maxiter=maxiter)
        u = system.expand(x)
        info["residual"] = system.residual(u)
        return {self.output_fields[0]: self._shape_out(fm, u)}, info
