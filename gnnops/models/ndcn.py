"""Neural Dynamics on Complex Networks (NDCN; Zang & Wang, KDD 2020): a graph neural ODE.

    h(t0) = E(x0)                 E = Linear(F_in, hidden) - tanh - Linear(hidden, hidden)
    dh/dt = ReLU(W (Phi h) + b)   Phi = I - D^-1/2 A D^-1/2,  W: Linear(hidden, hidden)
    y(t)  = Q h(t)                Q = Linear(hidden, F_out)

integrated with ``torchdiffeq.odeint`` at arbitrary (irregular) times. The defaults are
those of the NDCN code: ``method="dopri5"`` (adaptive Dormand--Prince 5(4)),
``rtol=0.01``, ``atol=0.001``, ``hidden=20``, ``W`` with a bias (``nn.Linear``). Gradients
go through the solver's operations (``adjoint=False``, as NDCN trains); ``adjoint=True``
uses ``odeint_adjoint`` (memory O(1) in the number of steps).

Graph convention (the gnnops schema): ``A[i, j]`` is the weight of the edge ``j -> i``
(``edge_index[0]`` = source ``j``, ``edge_index[1]`` = target ``i``), read from
``data.edge_weight``, else a one-column ``data.edge_attr``, else ones; ``D`` is the
weighted in-degree (``D_ii = sum_j A_ij``). An isolated node (``D_ii = 0``) gets
``D_ii^-1/2 = 0``, i.e. its row of ``Phi`` is the identity row. ``Phi`` is a
``torch.sparse`` COO matrix built vectorized from ``edge_index`` (no torch-sparse), so a
PyG batch -- a block-diagonal graph -- integrates all its graphs at once.

Time-dependent contract: ``data.x: [N, F_in]`` is the state at ``times[0]``;
``trajectory(data, times) -> [T, N, F_out]``; ``forward(data, times=None) -> [N, T * F_out]``
(column ``k * F_out + c`` = channel ``c`` at ``times[k]``; for ``F_out = 1`` this is the
``[N, T]`` trajectory layout of the network problems). ``times`` defaults to
``data.times`` (1-D; pass ``times=`` for a PyG batch, which concatenates it).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.base import GraphModel, check_positive

__all__ = ["NDCN", "GraphODEFunc", "normalized_laplacian", "edge_weights", "odeint_stacked"]

METHODS = ("dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2", "euler", "midpoint",
           "rk4", "explicit_adams", "implicit_adams")
_FIXED = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")


def edge_weights(data: Data) -> Tensor | None:
    """``data.edge_weight`` [E], else a one-column ``data.edge_attr`` as [E], else None."""
    w = getattr(data, "edge_weight", None)
    if w is None:
        ea = getattr(data, "edge_attr", None)
        if ea is not None and ea.dim() == 2 and ea.shape[1] == 1:
            w = ea[:, 0]
    return w


def normalized_laplacian(edge_index: Tensor, num_nodes: int, *, edge_weight: Tensor | None = None,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """``Phi = I - D^-1/2 A D^-1/2`` as a coalesced sparse COO tensor ``[N, N]``.

    Args:
        edge_index: [2, E] long, row 0 source ``j``, row 1 target ``i`` (``A[i, j]``).
        num_nodes: N.
        edge_weight: [E] non-negative weights (default ones); duplicates add up.
        dtype: floating dtype of the result.

    Returns:
        Sparse ``[N, N]`` with ``N + E`` stored entries before coalescing.

    Raises:
        ModelError: bad ``edge_index`` shape or index range, bad or negative weights.
    """
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ModelError(f"expected edge_index of shape [2, E] (got {list(edge_index.shape)})")
    e = edge_index.shape[1]
    device = edge_index.device
    if e and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ModelError(f"expected edge_index entries in [0, {num_nodes}) (got "
                         f"[{int(edge_index.min())}, {int(edge_index.max())}])")
    if edge_weight is None:
        w = torch.ones(e, dtype=dtype, device=device)
    else:
        w = edge_weight.reshape(-1).to(dtype)
        if w.numel() != e:
            raise ModelError(f"expected {e} edge weights (got shape {list(edge_weight.shape)})")
        if e and not bool(torch.isfinite(w).all() and (w >= 0).all()):
            raise ModelError("expected finite non-negative edge weights (got negative or NaN/inf)")
    src, dst = edge_index[0], edge_index[1]
    deg = torch.zeros(num_nodes, dtype=dtype, device=device).index_add_(0, dst, w)
    dinv = torch.where(deg > 0, deg.clamp_min(torch.finfo(dtype).tiny).rsqrt(),
                       torch.zeros_like(deg))
    diag = torch.arange(num_nodes, device=device)
    idx = torch.cat([torch.stack([dst, src]), torch.stack([diag, diag])], dim=1)
    val = torch.cat([-dinv[dst] * w * dinv[src], torch.ones(num_nodes, dtype=dtype,
                                                            device=device)])
    return torch.sparse_coo_tensor(idx, val, (num_nodes, num_nodes),
                                   check_invariants=False).coalesce()


class _SpMM(torch.autograd.Function):
    """``a @ h`` for a constant sparse CSR ``a`` with its transpose ``at`` precomputed
    (the backward ``at @ grad`` then avoids re-transposing ``a`` at every call)."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, a: Tensor, at: Tensor) -> Tensor:  # noqa: D102
        ctx.at = at
        return a @ h

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # noqa: D102
        return ctx.at @ grad, None, None


def odeint_stacked(func: Any, y0: Tensor, t: Tensor, *, rtol: float, atol: float,
                   method: str, options: dict[str, Any] | None = None) -> Tensor:
    """``torchdiffeq.odeint`` for adaptive solvers, with the outputs stacked, not written in place.

    ``odeint`` writes each saved state into a preallocated ``[T, ...]`` tensor; the backward
    of every such slice assignment copies the whole ``[T, ...]`` gradient, O(T^2) work that
    dominated NDCN training at T = 80 (5x the rest). This drives the same solver object
    (same steps, same numbers) through ``torchdiffeq``'s internal ``_advance`` and stacks the
    states. Fixed-grid solvers, or a ``torchdiffeq`` without those internals, take the public
    ``odeint``.

    Returns:
        ``[T, *y0.shape]``.
    """
    from torchdiffeq import odeint

    try:
        from torchdiffeq._impl.odeint import SOLVERS, _check_inputs
        from torchdiffeq._impl.solvers import AdaptiveStepsizeODESolver
    except ImportError:  # pragma: no cover - other torchdiffeq layouts
        return odeint(func, y0, t, rtol=rtol, atol=atol, method=method, options=options)
    shapes, f, y0_, t_, rtol_, atol_, method_, opts, _, reversed_ = _check_inputs(
        func, y0, t, rtol, atol, method, options, None, SOLVERS)
    solver = SOLVERS[method_](func=f, y0=y0_, rtol=rtol_, atol=atol_, **opts)
    if shapes is not None or reversed_ or not isinstance(solver, AdaptiveStepsizeODESolver):
        return odeint(func, y0, t, rtol=rtol, atol=atol, method=method, options=options)
    tt = t_.to(solver.dtype)
    solver._before_integrate(tt)
    return torch.stack([y0_] + [solver._advance(tt[i]) for i in range(1, len(tt))])


class GraphODEFunc(nn.Module):
    """``f(t, h) = ReLU(W (Phi h) + b)`` for ``h: [N, hidden]``; ``Phi`` is set per solve
    by :meth:`set_phi`.

    Attributes:
        nfe: function evaluations (forward solves; reset it by hand).
    """

    def __init__(self, hidden: int, *, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, hidden, bias=bias)
        self._phi: tuple[Tensor, Tensor] | None = None
        self.nfe = 0

    def set_phi(self, phi: Tensor | None) -> None:
        """Use the sparse ``phi: [N, N]`` (COO) from now on (None: release it)."""
        if phi is None:
            self._phi = None
            return
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            self._phi = (phi.to_sparse_csr(), phi.t().coalesce().to_sparse_csr())

    def forward(self, t: Tensor, h: Tensor) -> Tensor:  # noqa: ARG002 (autonomous)
        if self._phi is None:
            raise ModelError("GraphODEFunc called before set_phi(phi)")
        self.nfe += 1
        return torch.relu(self.linear(_SpMM.apply(h, *self._phi)))


class NDCN(GraphModel):
    """NDCN continuous-time graph neural ODE (see the module docstring).

    Args:
        in_channels: F_in, width of the initial state ``data.x``.
        out_channels: F_out, width of the decoded state.
        edge_dim: width of ``data.edge_attr`` checked by ``check_data`` (0: not checked);
            the edge weights are read as in the module docstring.
        pos_dim: width of ``data.pos`` checked by ``check_data`` (0: not needed); unused.
        hidden: latent width (NDCN: 20).
        method: ``torchdiffeq`` solver (NDCN: ``"dopri5"``).
        rtol: relative tolerance of adaptive solvers (NDCN: 0.01).
        atol: absolute tolerance of adaptive solvers (NDCN: 0.001).
        step_size: uniform step of fixed-grid solvers (states at ``times`` interpolated);
            ``None`` (default): one step per gap between consecutive ``times``, as the NDCN
            code's ``euler`` runs.
        bias: bias in ``W`` (NDCN: True).
        adjoint: integrate gradients with the adjoint method.
    """

    name = "ndcn"

    def __init__(self, in_channels: int = 1, out_channels: int = 1, edge_dim: int = 0,
                 pos_dim: int = 0, *, hidden: int = 20, method: str = "dopri5",
                 rtol: float = 0.01, atol: float = 0.001, step_size: float | None = None,
                 bias: bool = True, adjoint: bool = False) -> None:
        super().__init__(in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
                         pos_dim=pos_dim, hidden=hidden, method=method, rtol=rtol, atol=atol,
                         step_size=step_size, bias=bias, adjoint=adjoint)
        check_positive(hidden=hidden)
        if method not in METHODS:
            raise ModelError(f"unknown ODE method {method!r}; expected one of: "
                             f"{', '.join(METHODS)}")
        if not (float(rtol) > 0 and float(atol) > 0):
            raise ModelError(f"expected rtol > 0 and atol > 0 (got {rtol!r}, {atol!r})")
        if step_size is not None and not float(step_size) > 0:
            raise ModelError(f"expected step_size > 0 or None (got {step_size!r})")
        self.hidden, self.method, self.adjoint = hidden, method, bool(adjoint)
        self.rtol, self.atol, self.step_size = float(rtol), float(atol), step_size
        self.encoder = nn.Sequential(nn.Linear(in_channels, hidden), nn.Tanh(),
                                     nn.Linear(hidden, hidden))
        self.odefunc = GraphODEFunc(hidden, bias=bias)
        self.decoder = nn.Linear(hidden, out_channels)

    # ----------------------------------------------------------------------------------
    def phi(self, data: Data) -> Tensor:
        """``Phi`` of ``data`` (sparse ``[N, N]``, dtype of the parameters)."""
        return normalized_laplacian(data.edge_index, int(data.num_nodes),
                                    edge_weight=edge_weights(data),
                                    dtype=self.decoder.weight.dtype)

    def _times(self, data: Data, times: Any) -> Tensor:
        if times is None:
            times = getattr(data, "times", None)
            if times is None:
                raise ModelError("expected times= or data.times, a 1-D tensor [T] (got none)")
        t = torch.as_tensor(times, dtype=self.decoder.weight.dtype,
                            device=self.decoder.weight.device)
        if t.dim() != 1 or t.numel() < 1 or not bool(torch.isfinite(t).all()):
            raise ModelError(f"expected times a finite 1-D tensor [T] (got shape {list(t.shape)})")
        if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
            raise ModelError("expected times strictly increasing (a PyG batch concatenates "
                             f"data.times: pass times= explicitly) (got {t[:4].tolist()}...)")
        return t

    def hidden_trajectory(self, data: Data, times: Any = None) -> Tensor:
        """Latent states ``h: [T, N, hidden]`` at ``times`` (``h[0] = E(data.x)``)."""
        self.check_data(data)
        t = self._times(data, times)
        h0 = self.encoder(data.x.to(t.dtype))
        if t.numel() == 1:
            return h0[None]
        from torchdiffeq import odeint_adjoint

        self.odefunc.set_phi(self.phi(data))
        opts = None
        if self.method in _FIXED and self.step_size is not None:
            opts = {"step_size": float(self.step_size)}
        if self.adjoint:  # the backward pass integrates odefunc again: keep Phi set
            return odeint_adjoint(self.odefunc, h0, t, rtol=self.rtol, atol=self.atol,
                                  method=self.method, options=opts)
        try:
            return odeint_stacked(self.odefunc, h0, t, rtol=self.rtol, atol=self.atol,
                                  method=self.method, options=opts)
        finally:
            self.odefunc.set_phi(None)

    def trajectory(self, data: Data, times: Any = None) -> Tensor:
        """Decoded states ``[T, N, F_out]`` at ``times`` (``times[0]`` = time of ``data.x``)."""
        return self.decoder(self.hidden_trajectory(data, times))

    def forward(self, data: Data, times: Any = None) -> Tensor:
        """``[N, T * F_out]``: the trajectory with time major in the columns."""
        y = self.trajectory(data, times)
        return y.permute(1, 0, 2).reshape(y.shape[1], -1)
