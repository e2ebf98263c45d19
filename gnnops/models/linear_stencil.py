"""Linear stencil network: a one-step model that is exactly linear in the state.

For linear, state-homogeneous dynamics (heat / diffusion, linear advection, any
``du/dt = A(static) u + B(static) f``) the one-step increment is ``(S - I) u + c`` with an
operator ``S`` and a source ``c`` that depend only on the static inputs (geometry,
coefficients, ``dt``) and the forcing. A MeshGraphNet feeds ``u`` through LayerNorm'd MLPs
and cannot stay linear over the ~30x amplitude range of a decaying trajectory; this model
is linear in ``u`` by construction:

1. **Static encoder** (any nonlinearity is fine here): node MLP on the static input
   columns, edge MLP on the edge features, ``depth`` MeshGraphNet processor blocks
   (:class:`~gnnops.models.meshgraphnet.ProcessorBlock`) -> node latents ``h`` [N, L];
   edge latents ``e_ij`` [E, L] are read together with ``h_i + h_j`` ("pair" latents).
2. **Explicit branch** ``E(u)`` with ``C`` channels and ``K = hops`` stencil steps::

       v_0 = u a                                   a: [state_dim, C], the same on every node
       dv_k,i = sum_j w_k(e_ij, h_i + h_j) s_ij (v_k-1,j - v_k-1,i),   v_k = v_k-1 + dv_k
       E(u)_i = source_i + r(h_i) u_i + sum_k <g_k(h_i), dv_k,i>

   ``w_k`` are learned per-edge stencil weights, ``g_k`` per-node gates, ``r`` an optional
   per-node reaction term (``reaction``), ``source`` a state-independent term: free
   (``b(h)``), linear in given forcing columns (``source_columns``: ``sum_c sigma_c(h) x_c``,
   exactly 0 for zero forcing) or none. Every stencil term is a sum of differences, so a
   constant state gets no increment from it. ``s_ij = (l / |x_j - x_i|)^p``
   (``length_power = p``, default 0: ``s = 1``), ``l`` the mean edge length seen by the
   first forward (a buffer, saved with the weights). With ``implicit=False`` the increment
   is ``E(u)``.
3. **Implicit step** (``implicit=True``): a learned backward-Euler-like scheme::

       (diag(m + l) + L_c) u_next = m (u + E(u)),   increment = u_next - u

   with ``(L_c x)_i = sum_j c_ij (x_i - x_j)``, ``c_ij = W_ij softplus(gamma(e_ij, h_i +
   h_j)) >= 0``, ``m_i = M_i softplus(mu(h_i)) > 0`` and a leak ``l_i >= 0`` (Dirichlet-like
   sinks, initialised ~0). On triangle / tetrahedron meshes ``W`` and ``M`` are the P1
   Laplacian weights and lumped masses of the geometry
   (:mod:`gnnops.models.mesh_operators`), made dimensionless with ``l``; elsewhere
   ``W = s``, ``M = 1``, or on networks with ``weight_base`` the raw edge weight
   ``W = w_ij s_ij`` (``data.edge_weight``; so ``c`` scales exactly with the weight, also
   beyond the training range: :mod:`gnnops.models.stencil_terms`). The matrix is a
   nonsingular M-matrix, so the step is unconditionally stable and obeys a discrete maximum
   principle on any mesh, and ``m^-1 W`` scales as ``1 / h^2`` under refinement as a
   diffusion operator does: a model trained on one mesh steps consistently on a finer one,
   where an explicit ``K``-hop polynomial of a ``1 / h^2`` operator is unstable (measured
   on the heat config: the explicit variant blows up on a 4x finer mesh, max |eigenvalue|
   of its step 1051). Solved by sparse LU (:mod:`gnnops.models.sparse_solve`).

4. **Local reaction** (``local_reaction=True``, off by default): a nonlinear per-node
   term ``R(u_i, h_i) = u_i g(u_i, h_i)`` (``g`` an MLP, a per-capita rate) added to
   ``E(u)``: a reaction flow over ``dt``, e.g. Fisher-KPP's logistic growth, 0 at ``u = 0``
   (:mod:`gnnops.models.stencil_terms`). With it the model is no longer linear in the
   state.

Without a local reaction every operation on the state is a product with a static
coefficient, a sum or the linear solve, so ``f(a u1 + b u2) - f(0) = a (f(u1) - f(0)) +
b (f(u2) - f(0))`` up to rounding.
With ``scale_free=True`` the encoders see scale-free geometry only (unit edge direction,
edge length relative to the mean incident length at either end): on a finer mesh what the
MLPs see stays in the training distribution.

**Normalization.** Input columns ``0 .. state_dim - 1`` are the state (the rollout inputs
are ``[state, *static, dt]``, :mod:`gnnops.surrogate.stepping`). The model must see the
state and forcing columns *scaled but not shifted* (a shift ``(u - m) / s`` adds a
state-independent term that would be treated as state): ``homogeneous_columns`` (state and
``source_columns``) makes :meth:`~gnnops.surrogate.stepping.RolloutSurrogate.wrap`
normalize them by their root mean square without a shift, and ``state_units_output``
(implicit mode, which returns ``u_next - u`` in the units it was given ``u``) makes it use
the state's scale for the increment, so the Surrogate in physical units stays exactly
linear too.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.base import GraphModel, check_positive
from gnnops.models.mesh_operators import p1_operators, simplex_mesh
from gnnops.models.meshgraphnet import ProcessorBlock, edge_input_width, edge_inputs
from gnnops.models.mlp import MLP, scatter_sum
from gnnops.models.scatter import SortedEdges, segment_sum
from gnnops.models.sparse_solve import mmatrix_solve
from gnnops.models.static_cache import StaticCache, memo
from gnnops.models.stencil_terms import LocalReaction, edge_weight_base

__all__ = ["LinearStencil"]


def _check_int(key: str, v: Any, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ModelError(f"expected {key} to be an integer >= {low} (got {v!r})")


class LinearStencil(GraphModel):
    """One-step model linear in the state (module docstring).

    Args:
        in_channels: node input width (state columns first, then static inputs/features).
        out_channels: output width F_out (the increment).
        edge_dim: ``edge_attr`` width (0: geometry from ``pos``, or a constant).
        pos_dim: coordinate dimension d.
        state_dim: number of leading input columns that are the state.
        latent: latent width L of the static encoder.
        depth: processor blocks of the static encoder (0: encoders only).
        hidden_layers: hidden layers per MLP.
        channels: channels C of the explicit branch.
        hops: stencil applications K of the explicit branch (0: none).
        length_power: exponent p of the edge-length scale ``s_ij`` (0: off; needs ``pos``).
        implicit: learned implicit step (needs ``out_channels == state_dim``).
        scale_free: encoders see scale-free geometry only (needs ``pos``).
        reaction: per-node term ``r(h) u`` (default: on unless ``implicit``; the implicit
            step has its leak instead).
        source_columns: ``None``: state-independent source ``b(h)`` from the static latents;
            a list of input column indices (forcing fields, e.g. ``f``): the source is
            ``sum_c sigma_c(h) x_c``, linear in those columns, which the static encoder
            then does not see (so a zero forcing gives exactly no source); ``[]``: none.
        weight_base: implicit base conductance = ``data.edge_weight`` where the graph has
            one (networks; needs ``implicit``).
        local_reaction: add the nonlinear per-node reaction ``R(u_i, h_i)`` to ``E(u)``.
    """

    name = "linear_stencil"
    #: input columns the model is linear and homogeneous in (no mean shift wanted)
    homogeneous_columns: list[int]
    #: the output is in the scale of the state columns (increment scale = state scale)
    state_units_output: bool

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int = 0,
                 pos_dim: int = 2, *, state_dim: int = 1, latent: int = 64, depth: int = 2,
                 hidden_layers: int = 2, channels: int = 8, hops: int = 4,
                 length_power: float = 0.0, implicit: bool = False,
                 scale_free: bool = False, reaction: bool | None = None,
                 source_columns: list[int] | None = None, weight_base: bool = False,
                 local_reaction: bool = False) -> None:
        super().__init__(in_channels=in_channels, out_channels=out_channels,
                         edge_dim=edge_dim, pos_dim=pos_dim, state_dim=state_dim,
                         latent=latent, depth=depth, hidden_layers=hidden_layers,
                         channels=channels, hops=hops, length_power=length_power,
                         implicit=implicit, scale_free=scale_free, reaction=reaction,
                         source_columns=None if source_columns is None else list(source_columns),
                         weight_base=weight_base, local_reaction=local_reaction)
        check_positive(state_dim=state_dim, latent=latent, hidden_layers=hidden_layers,
                       channels=channels)
        _check_int("depth", depth, 0)
        _check_int("hops", hops, 0)
        self._check_options(in_channels, out_channels, pos_dim, state_dim, length_power,
                            implicit, scale_free, reaction, source_columns)
        for key, v in (("weight_base", weight_base), ("local_reaction", local_reaction)):
            if not isinstance(v, bool):
                raise ModelError(f"expected {key} to be a bool (got {v!r})")
        if weight_base and not implicit:
            raise ModelError("weight_base=True sets the implicit step's conductances: it "
                             "needs implicit=True")
        self.weight_base, self.local_reaction = weight_base, local_reaction
        self.state_dim, self.channels, self.hops = state_dim, channels, hops
        self.length_power, self.implicit, self.scale_free = float(length_power), implicit, \
            scale_free
        self.reaction = (not implicit) if reaction is None else reaction
        self.source_columns = None if source_columns is None else sorted(source_columns)
        self.homogeneous_columns = list(range(state_dim)) + (self.source_columns or [])
        self.state_units_output = implicit
        self.static_columns = [c for c in range(in_channels)
                               if c not in self.homogeneous_columns]
        self.register_buffer("length_unit", torch.tensor(float("nan")))
        self._static_cache = StaticCache()  # rollouts: the static encoding once
        self._build(latent, depth, hidden_layers, pos_dim, edge_dim)

    def _build(self, latent: int, depth: int, hidden_layers: int, pos_dim: int,
               edge_dim: int) -> None:
        kw = dict(hidden_layers=hidden_layers)
        head = dict(layer_norm=False, **kw)
        c, k, f_out = self.channels, self.hops, self.out_channels
        e_in = pos_dim + 2 if self.scale_free else edge_input_width(edge_dim, pos_dim)
        self.node_encoder = MLP(len(self.static_columns), latent, latent, **kw)
        self.edge_encoder = MLP(e_in, latent, latent, **kw)
        self.blocks = nn.ModuleList(ProcessorBlock(latent, hidden_layers=hidden_layers)
                                    for _ in range(depth))
        self.lift = nn.Parameter(1.0 + 0.1 * torch.randn(self.state_dim, c))
        self.stencil = MLP(2 * latent, max(k, 1) * c, latent, **head)
        self.gates = MLP(latent, max(k, 1) * c * f_out, latent, **head)
        n_src = f_out if self.source_columns is None else len(self.source_columns) * f_out
        self.source = MLP(latent, max(n_src, 1), latent, **head)
        heads = [self.stencil, self.gates, self.source]
        if self.reaction:
            self.react = MLP(latent, f_out * self.state_dim, latent, **head)
            heads.append(self.react)
        if self.local_reaction:
            self.local = LocalReaction(self.state_dim, latent, f_out, hidden_layers)
        if self.implicit:  # mass m, conductances c, leak l
            self.mass = MLP(latent, 1, latent, **head)
            self.conductance = MLP(2 * latent, 1, latent, **head)
            self.leak = MLP(latent, 1, latent, **head)
        with torch.no_grad():  # start near "E(u) = 0"; interior leak ~ 0
            for mlp in heads:
                mlp[-1].weight.mul_(0.1)
            if self.implicit:
                self.leak[-1].bias.fill_(-12.0)

    @staticmethod
    def _check_options(in_channels: int, out_channels: int, pos_dim: int, state_dim: int,
                       length_power: Any, implicit: Any, scale_free: Any, reaction: Any,
                       source_columns: Any) -> None:
        if state_dim >= in_channels:
            raise ModelError(f"expected state_dim < in_channels (static inputs after the "
                             f"state); got state_dim={state_dim}, in_channels={in_channels}")
        if isinstance(length_power, bool) or not isinstance(length_power, (int, float)) \
                or not math.isfinite(length_power) or length_power < 0:
            raise ModelError(f"expected length_power to be a float >= 0 (got {length_power!r})")
        for key, v in (("implicit", implicit), ("scale_free", scale_free)):
            if not isinstance(v, bool):
                raise ModelError(f"expected {key} to be a bool (got {v!r})")
        if reaction is not None and not isinstance(reaction, bool):
            raise ModelError(f"expected reaction to be a bool or null (got {reaction!r})")
        if source_columns is not None:
            ok = isinstance(source_columns, (list, tuple)) and all(
                isinstance(c, int) and not isinstance(c, bool) and state_dim <= c < in_channels
                for c in source_columns) and len(set(source_columns)) == len(source_columns)
            if not ok:
                raise ModelError(f"expected source_columns to be null or a list of distinct "
                                 f"input column indices in [{state_dim}, {in_channels}) "
                                 f"(got {source_columns!r})")
            if len(source_columns) >= in_channels - state_dim:
                raise ModelError("source_columns leaves no static input column for the "
                                 "encoder")
        if (length_power > 0 or scale_free) and pos_dim == 0:
            raise ModelError("length_power > 0 and scale_free need node positions "
                             "(pos_dim >= 1)")
        if implicit and state_dim != out_channels:
            raise ModelError(f"implicit=True predicts the next state: expected out_channels "
                             f"== state_dim (got {out_channels} and {state_dim})")

    # ------------------------------------------------------------------ static part
    def _geometry(self, data: Data) -> dict[str, Tensor]:
        """Edge lengths [E] and mean incident length per node [N] (sets ``length_unit``)."""
        src, dst = data.edge_index[0], data.edge_index[1]
        dtype = data.x.dtype
        rel = data.pos.to(dtype)[dst] - data.pos.to(dtype)[src]
        length = rel.norm(dim=1).clamp_min(torch.finfo(dtype).tiny)
        n = data.num_nodes
        deg = scatter_sum(torch.ones_like(length), dst, n)
        mean_at = scatter_sum(length, dst, n) / deg.clamp_min(1.0)
        mean_at = torch.where(deg > 0, mean_at, length.mean())
        if torch.isnan(self.length_unit):
            with torch.no_grad():
                self.length_unit.fill_(float(length.mean()))
        return {"rel": rel, "length": length, "mean_at": mean_at}

    def encode(self, data: Data) -> dict[str, Any]:
        """Static encoding (everything but the state).

        Returns:
            ``{"h": [N, L] node latents, "pair": [E, 2L] edge latents and the sum of the
            latents of both ends, "edges": SortedEdges,
            "scale": [E] s_ij, "geo": edge geometry or None}``; per-edge tensors in the
            target-sorted order of ``edges``.
        """
        src, dst = data.edge_index[0], data.edge_index[1]
        use_geo = self.scale_free or self.length_power > 0 or (
            self.implicit and getattr(data, "pos", None) is not None)
        geo = self._geometry(data) if use_geo else None
        if self.scale_free:
            length, mean_at = geo["length"], geo["mean_at"]
            feats = torch.cat([geo["rel"] / length[:, None], (length / mean_at[dst])[:, None],
                               (length / mean_at[src])[:, None]], dim=1)
        else:
            feats = edge_inputs(data, self.edge_dim, self.pos_dim)
        if self.length_power > 0:
            scale = (self.length_unit.to(data.x.dtype) / geo["length"]) ** self.length_power
        else:
            scale = data.x.new_ones(src.shape[0])
        edges = SortedEdges(src, dst, data.num_nodes)
        h = self.node_encoder(data.x[:, self.static_columns])
        e = self.edge_encoder(edges.permute(feats))
        for block in self.blocks:
            h, e = block(h, e, edges.src, edges.dst, edges=edges)
        pair = torch.cat([e, h.index_select(0, edges.src) + h.index_select(0, edges.dst)], 1)
        return {"h": h, "pair": pair, "edges": edges, "scale": edges.permute(scale),
                "geo": geo}

    # ------------------------------------------------------------------ forward
    def forward(self, data: Data) -> Tensor:
        """Increment [N, out_channels], linear in ``data.x[:, :state_dim]`` (but for
        ``local_reaction``).

        Args:
            data: ``Data``/``Batch`` with ``x`` [N, in_channels] (state columns first),
                ``edge_index`` [2, E], ``pos`` [N, d] or ``edge_attr`` [E, edge_dim];
                ``cell_index`` + ``cell_type`` (simplices) for the mesh operators.
        """
        self.check_data(data)
        enc = self._static_cache.get(data, self.static_columns, lambda: self.encode(data),
                                     self.parameters())
        u = data.x[:, :self.state_dim]
        out = self.explicit_part(u, enc, data.x)
        if not self.implicit:
            return out
        return self.implicit_step(data, u, out, enc) - u

    def explicit_part(self, u: Tensor, enc: dict[str, Any], x: Tensor) -> Tensor:
        """``E(u)`` [N, F_out] (module docstring): source, reaction and stencil terms."""
        h, edges = enc["h"], enc["edges"]
        n, c, f_out = h.shape[0], self.channels, self.out_channels
        if self.source_columns is None:
            out = memo(enc, "source", lambda: self.source(h))
        elif self.source_columns:
            sig = memo(enc, "source", lambda: self.source(h)).view(n, len(self.source_columns),
                                                                   f_out)
            out = torch.einsum("ns,nso->no", x[:, self.source_columns], sig)
        else:
            out = u.new_zeros(n, f_out)
        if self.reaction:
            react = memo(enc, "react", lambda: self.react(h))
            out = out + torch.einsum("ns,nos->no", u, react.view(n, f_out, self.state_dim))
        if self.local_reaction:
            out = out + self.local(u, h)
        if self.hops == 0:
            return out
        v = u @ self.lift.to(u.dtype)  # [N, C], the same lift on every node
        gates = memo(enc, "gates", lambda: self.gates(h)).view(n, self.hops, c, f_out)
        w = memo(enc, "stencil", lambda: self.stencil(enc["pair"]) * enc["scale"][:, None]
                 ).view(-1, self.hops, c)
        for k in range(self.hops):  # each term is a sum of differences: zero on constants
            diff = v.index_select(0, edges.src) - v.index_select(0, edges.dst)
            dv = segment_sum(w[:, k] * diff, edges)
            out = out + torch.einsum("nc,nco->no", dv, gates[:, k])
            v = v + dv
        return out

    def prepare(self, data: Data) -> Data:
        """Attach the mesh's P1 operators once per graph (``p1_weight`` [E], ``p1_mass`` [N];
        implicit models on simplicial meshes), so a rollout does not recompute them every
        step; ``forward`` computes them itself when they are missing."""
        if self.implicit and simplex_mesh(data):
            w, m = p1_operators(data.pos, data.cell_index, data.edge_index)
            data.p1_weight, data.p1_mass = w, m
        return data

    def _bases(self, data: Data, enc: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Base conductances ``W`` [E] (sorted order) and masses ``M`` [N] (module docstring:
        P1 weights, edge weights with ``weight_base``, else ``s``)."""
        edges, dtype = enc["edges"], data.x.dtype
        if simplex_mesh(data):
            d = data.pos.shape[1]
            w, m = getattr(data, "p1_weight", None), getattr(data, "p1_mass", None)
            if w is None or m is None or w.shape[0] != data.edge_index.shape[1]:
                w, m = p1_operators(data.pos, data.cell_index, data.edge_index)
            unit = self.length_unit.double()
            return edges.permute((w * unit ** (2 - d)).to(dtype)), (m / unit ** d).to(dtype)
        w = edge_weight_base(data, edges, dtype) if self.weight_base else None
        base = enc["scale"] if w is None else w * enc["scale"]
        return base, data.x.new_ones(data.num_nodes)

    def implicit_step(self, data: Data, u: Tensor, explicit: Tensor,
                      enc: dict[str, Any]) -> Tensor:
        """Next state ``(diag(m + l) + L_c)^-1 m (u + E(u))`` [N, F_out]."""
        m, c, leak = memo(enc, "implicit", lambda: self._implicit_coefficients(data, enc))
        rhs = m[:, None] * (u + explicit)
        return mmatrix_solve(m + leak, c, rhs, enc["edges"].src, enc["edges"].dst)

    def _implicit_coefficients(self, data: Data, enc: dict[str, Any]
                               ) -> tuple[Tensor, Tensor, Tensor]:
        """Masses ``m`` [N], conductances ``c`` [E] (sorted order) and leak ``l`` [N]."""
        h, edges = enc["h"], enc["edges"]
        w0, m0 = self._bases(data, enc)
        m = m0 * F.softplus(self.mass(h)[:, 0]) + 1e-12
        c = w0 * F.softplus(self.conductance(enc["pair"])[:, 0])
        sink = segment_sum(w0[:, None], edges)[:, 0] + m0  # conductance scale of each node
        leak = sink * torch.exp(self.leak(h)[:, 0].clamp(-30.0, 30.0))
        return m, c, leak
