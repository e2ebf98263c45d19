"""Graph neural operator / graph kernel network (Li et al. 2020, "GKN").

    v_0 = P [x, pos]                                    (lifting, Linear(F_in + d -> width))
    v_{t+1}(i) = s( W v_t(i) + sum_{j in B_r(i)} c_ij kappa(e_ij) v_t(j) )
    u = Q v_T                                            (projection MLP)

The sum is a quadrature of an integral over the ball B_r(x_i) of fixed PHYSICAL
radius ``radius`` (self loop included), with weights w_j = ``node_volume_j``:

- ``normalization="mean"`` (default, GKN's mean aggregation made quadrature-aware):
  c_ij = w_j / sum_{j' in B_r(i)} w_j' approximates (1/|B_r(x_i) n D|) int_{B_r n D}
  kappa v dy. Resolution independent and O(1) in scale.
- ``normalization="integral"``: c_ij = w_j approximates int_{B_r(x_i) n D} kappa v dy.

Both converge to the same continuous operator as the mesh is refined, so a trained
model can be evaluated on finer meshes (tested on nested meshes of the unit square).
The kernel ``kappa`` is an MLP of the edge features ``[pos_i, x_i[c], pos_j, x_j[c],
(pos_i - pos_j)/r, |pos_i - pos_j|/r]`` (``c`` = ``kernel_channels``, default all) whose
output is a ``width x width`` matrix (``kernel="full"``, NNConv as in GKN), a rank-``rank``
factorisation Phi Psi^T (``"lowrank"``), or a diagonal (``"diagonal"``).

Cost: a ball of radius r holds ~ N * |B_r| / |D| nodes, so the graph has ~ N^2 pi r^2 edges
in 2D (r = 0.25: ~0.2 N^2), and the full kernel stores width^2 numbers per edge. Use
``max_num_neighbors`` (a deterministic, pair-hashed uniform subsample of each ball, the
weights renormalised over the kept nodes) or the low-rank / diagonal kernel on large
meshes. ``edge_dim`` is accepted for the common contract and unused (the mesh edges are
not the ball graph).

``prepare(data)`` adds ``gno_edge_index`` [2, E_r] (PyG batching offsets it) and
``gno_edge_weight`` [E_r] (the c_ij above) to a shallow copy of ``data``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.graphs.radius import radius_graph
from gnnops.models.base import GraphModel, check_positive, node_weights
from gnnops.models.mlp import MLP, scatter_sum

__all__ = ["GNO", "subsample_neighbors"]

KERNELS = ("full", "lowrank", "diagonal")
NORMALIZATIONS = ("mean", "integral")


def _pair_hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random uint64 per (a, b) pair (splitmix64 finaliser)."""
    z = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def subsample_neighbors(edge_index: Tensor, local: Tensor, k: int) -> Tensor:
    """Keep a deterministic uniform subsample of at most ``k`` sources per target.

    Args:
        edge_index: [2, E] (row 0 source, row 1 target).
        local: [N] node index inside its own graph (so a batch subsamples exactly as
            its graphs do one by one).
        k: sources kept per target.

    Returns:
        bool mask [E] of the kept edges.
    """
    src, dst = edge_index[0].cpu().numpy(), edge_index[1].cpu().numpy()
    loc = local.cpu().numpy()
    prio = _pair_hash(loc[src], loc[dst])
    order = np.lexsort((prio, dst))
    d_sorted = dst[order]
    rank = np.arange(len(d_sorted)) - np.searchsorted(d_sorted, d_sorted, side="left")
    keep = np.zeros(len(dst), dtype=bool)
    keep[order[rank < k]] = True
    return torch.from_numpy(keep).to(edge_index.device)


class KernelNet(nn.Module):
    """kappa(e_ij): MLP on ``[f_i, f_j, g_ij]`` with the first layer split per node.

    Args:
        node_in: width of the per-node part f (pos and selected channels).
        geo_in: width of the per-edge part g (relative position and norm).
        hidden: hidden width.
        out: output width (width^2, 2*width*rank or width).
        hidden_layers: hidden layers (>= 1).
    """

    def __init__(self, node_in: int, geo_in: int, hidden: int, out: int, hidden_layers: int):
        super().__init__()
        self.lin_i = nn.Linear(node_in, hidden)
        self.lin_j = nn.Linear(node_in, hidden, bias=False)
        self.lin_g = nn.Linear(geo_in, hidden, bias=False)
        layers: list[nn.Module] = [nn.ReLU()]
        for _ in range(hidden_layers - 1):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        layers.append(nn.Linear(hidden, out))
        self.rest = nn.Sequential(*layers)

    def forward(self, f: Tensor, g: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        """Args: f [N, node_in], g [E, geo_in], src/dst [E]. Returns [E, out]."""
        h = self.lin_g(g) + self.lin_i(f).index_select(0, dst) + self.lin_j(f).index_select(0, src)
        return self.rest(h)


class GNO(GraphModel):
    """Graph kernel network with quadrature-weighted ball integrals.

    Args:
        in_channels: node input width F_in.
        out_channels: output width.
        edge_dim: accepted for the common contract; unused.
        pos_dim: coordinate dimension d (>= 1).
        width: latent width (GKN: 64).
        depth: number of kernel-integral layers T (GKN: 6).
        radius: physical ball radius r (GKN: 0.25 on the unit square).
        max_num_neighbors: keep at most this many nodes of each ball (None: all).
        kernel: ``"full"``, ``"lowrank"`` or ``"diagonal"``.
        rank: rank of the ``"lowrank"`` kernel.
        kernel_hidden: hidden width of the kernel MLP.
        kernel_layers: hidden layers of the kernel MLP.
        kernel_channels: input channels fed to the kernel (None: all).
        normalization: ``"mean"`` or ``"integral"`` (see module docstring).
        share_weights: one kernel layer applied ``depth`` times (as GKN) or one per layer.
        lift_pos: concatenate ``pos`` to ``x`` before lifting.
    """

    name = "gno"
    # ball integrals of a physical radius with quadrature weights: the same operator on every
    # mesh, so inference raises no spacing flag for it (gnnops.inference.reliability_flags)
    resolution_independent = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        edge_dim: int = 0,
        pos_dim: int = 2,
        *,
        width: int = 64,
        depth: int = 6,
        radius: float = 0.25,
        max_num_neighbors: int | None = None,
        kernel: str = "full",
        rank: int = 4,
        kernel_hidden: int = 128,
        kernel_layers: int = 2,
        kernel_channels: list[int] | None = None,
        normalization: str = "mean",
        share_weights: bool = True,
        lift_pos: bool = True,
    ) -> None:
        super().__init__(
            in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
            pos_dim=pos_dim, width=width, depth=depth, radius=radius,
            max_num_neighbors=max_num_neighbors, kernel=kernel, rank=rank,
            kernel_hidden=kernel_hidden, kernel_layers=kernel_layers,
            kernel_channels=None if kernel_channels is None else list(kernel_channels),
            normalization=normalization, share_weights=share_weights, lift_pos=lift_pos,
        )
        check_positive(pos_dim=pos_dim, width=width, depth=depth, rank=rank,
                       kernel_hidden=kernel_hidden, kernel_layers=kernel_layers)
        if kernel not in KERNELS:
            raise ModelError(f"unknown kernel {kernel!r}; expected one of: {', '.join(KERNELS)}")
        if normalization not in NORMALIZATIONS:
            raise ModelError(f"unknown normalization {normalization!r}; expected one of: "
                             f"{', '.join(NORMALIZATIONS)}")
        if not (isinstance(radius, int | float) and radius > 0):
            raise ModelError(f"expected a positive radius (got {radius!r})")
        if max_num_neighbors is not None:
            check_positive(max_num_neighbors=max_num_neighbors)
        chans = list(range(in_channels)) if kernel_channels is None else list(kernel_channels)
        if any(not 0 <= c < in_channels for c in chans):
            raise ModelError(f"expected kernel_channels in [0, {in_channels}) (got {chans})")
        self.register_buffer("kernel_channels", torch.tensor(chans, dtype=torch.long),
                             persistent=False)
        self.width, self.depth, self.rank = width, depth, rank
        self.kernel, self.radius, self.normalization = kernel, float(radius), normalization
        self.max_num_neighbors = max_num_neighbors
        self.lift_pos = lift_pos
        self.lift = nn.Linear(in_channels + (pos_dim if lift_pos else 0), width)
        k_out = {"full": width * width, "lowrank": 2 * width * rank, "diagonal": width}[kernel]
        n_kernels = 1 if share_weights else depth
        self.kernels = nn.ModuleList(
            KernelNet(pos_dim + len(chans), pos_dim + 1, kernel_hidden, k_out, kernel_layers)
            for _ in range(n_kernels)
        )
        self.linears = nn.ModuleList(nn.Linear(width, width) for _ in range(n_kernels))
        self.project = MLP(width, out_channels, 2 * width, hidden_layers=1, layer_norm=False)

    # ------------------------------------------------------------------ graph
    def prepare(self, data: Data) -> Data:
        """Ball graph and quadrature coefficients (pure function of pos / node_volume).

        Returns:
            A shallow copy of ``data`` with ``gno_edge_index`` [2, E_r] (self loops
            included) and ``gno_edge_weight`` [E_r].
        """
        self.check_data(data, need_pos=True)
        out = copy.copy(data)
        batch = getattr(data, "batch", None)
        ei = radius_graph(data.pos, self.radius, batch=batch, loop=True)
        w = node_weights(data)
        n = data.num_nodes
        full = scatter_sum(w[ei[0]], ei[1], n)
        if self.max_num_neighbors is not None:
            if batch is None:
                local = torch.arange(n)
            else:
                ptr = torch.zeros(int(batch.max()) + 2, dtype=torch.long)
                ptr[1:] = torch.bincount(batch.cpu()).cumsum(0)
                local = torch.arange(n) - ptr[batch.cpu()]
            ei = ei[:, subsample_neighbors(ei, local, self.max_num_neighbors)]
        kept = scatter_sum(w[ei[0]], ei[1], n).clamp_min(torch.finfo(w.dtype).tiny)
        coef = w[ei[0]] / kept[ei[1]]
        if self.normalization == "integral":
            coef = coef * full[ei[1]]
        out.gno_edge_index = ei
        out.gno_edge_weight = coef
        return out

    # ---------------------------------------------------------------- forward
    def _apply_kernel(self, k: Tensor, v_src: Tensor) -> Tensor:
        """kappa_ij v_j for every edge: k [E, k_out], v_src [E, width] -> [E, width]."""
        w = self.width
        if self.kernel == "full":
            return torch.bmm(k.view(-1, w, w), v_src.unsqueeze(2)).squeeze(2)
        if self.kernel == "diagonal":
            return k * v_src
        phi, psi = k.view(-1, 2, w, self.rank).unbind(1)  # [E, w, rank] each
        coeff = torch.einsum("ewr,ew->er", psi, v_src) / self.rank
        return torch.einsum("ewr,er->ew", phi, coeff)

    def forward(self, data: Data) -> Tensor:
        """Predict per-node outputs.

        Args:
            data: ``Data``/``Batch`` with ``x`` [N, F_in], ``pos`` [N, d], optionally
                ``node_volume`` [N] and the ``prepare`` attributes (built if missing).

        Returns:
            [N, out_channels].
        """
        if getattr(data, "gno_edge_index", None) is None:
            data = self.prepare(data)
        self.check_data(data, need_pos=True)
        x, pos = data.x, data.pos.to(data.x.dtype)
        src, dst = data.gno_edge_index[0], data.gno_edge_index[1]
        coef = data.gno_edge_weight.to(x.dtype).unsqueeze(1)
        n = x.shape[0]
        v = self.lift(torch.cat([x, pos], dim=1) if self.lift_pos else x)
        f = torch.cat([pos, x.index_select(1, self.kernel_channels)], dim=1)
        rel = (pos[dst] - pos[src]) / self.radius
        g = torch.cat([rel, rel.norm(dim=1, keepdim=True)], dim=1)
        kvals = [kn(f, g, src, dst) for kn in self.kernels]  # computed once per forward
        for t in range(self.depth):
            i = t % len(self.kernels)
            msg = self._apply_kernel(kvals[i], v.index_select(0, src)) * coef
            v = self.linears[i](v) + scatter_sum(msg, dst, n)
            if t < self.depth - 1:
                v = torch.relu(v)
        return self.project(v)
