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

Both converge to the same continuous operator as the mesh is refined (a node-volume
quadrature over the WHOLE ball; tested in tests/models/test_gno.py), so a trained model can
be evaluated on finer meshes. The kernel ``kappa`` is an MLP of the edge features
``[pos_i, x_i[c], pos_j, x_j[c], (pos_i - pos_j)/r, |pos_i - pos_j|/r]`` (``c`` =
``kernel_channels``, default all) whose output is a ``width x width`` matrix
(``kernel="full"``, NNConv as in GKN), a rank-``rank`` factorisation Phi Psi^T
(``"lowrank"``), or a diagonal (``"diagonal"``) (:mod:`gnnops.models.gno_kernel`).

Training vs inference:

- ``prepare(data)`` in training mode adds ``gno_edge_index`` [2, E_r] (PyG batching offsets
  it) and ``gno_edge_weight`` [E_r] (the c_ij) to a shallow copy of ``data``; with
  ``train_neighbors=k`` each ball is a deterministic, pair-hashed uniform subsample of at
  most k nodes whose weights are renormalised over the kept nodes (a Monte-Carlo
  quadrature of the same integral: cheaper epochs on fine training meshes);
- in eval mode (inference) ``prepare`` adds nothing and ``forward`` integrates over the
  FULL ball, block by block: the targets are split into spatially compact blocks whose
  balls hold about ``inference_chunk_bytes`` of temporaries, each block's ball is found
  by a KD-tree query, and the layers run one after the other over the blocks (a
  layer-wise partition whose halo is the ball), so memory is bounded on any mesh. The
  work is still the ball's: ~ N^2 pi r^2 edges per layer on the unit square in 2D.

``max_num_neighbors`` is the old name of ``train_neighbors`` (accepted, so artifacts saved
before the change load; it no longer caps the ball at inference). ``edge_dim`` is
accepted for the common contract and unused (the mesh edges are not the ball graph).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.graphs.radius import block_ball, radius_graph, target_blocks
from gnnops.models.base import GraphModel, check_positive, node_weights
from gnnops.models.gno_kernel import (
    KernelNet,
    ball_integral,
    floats_per_edge,
    graph_ranges,
    subsample_neighbors,
)
from gnnops.models.mlp import MLP, edge_geometry, scatter_sum
from gnnops.models.scatter import SortedEdges, segment_sum

__all__ = ["GNO", "KernelNet", "subsample_neighbors"]

KERNELS = ("full", "lowrank", "diagonal")
NORMALIZATIONS = ("mean", "integral")


class _Block(NamedTuple):
    """Edges into a set of targets: ``targets`` [c] (None: every node, ``loc`` = node id),
    ``src``/``loc`` [E], quadrature coefficients ``coef`` [E], and either the edge geometry
    ``geo`` [E, d+1] (prepared graphs) or the edge lengths ``dist`` [E] (whole balls built
    at inference; the relative position then enters through per-node terms); ``edges``:
    the CSR view for the segmented sums."""

    targets: Tensor | None
    src: Tensor
    loc: Tensor
    coef: Tensor
    geo: Tensor | None
    dist: Tensor | None
    edges: SortedEdges


def _train_neighbors(train_neighbors: int | None, max_num_neighbors: int | None) -> int | None:
    """``train_neighbors``, or its old name ``max_num_neighbors`` (artifacts saved before)."""
    if max_num_neighbors is None:
        return train_neighbors
    if train_neighbors is not None and train_neighbors != max_num_neighbors:
        raise ModelError(f"expected train_neighbors or its old name max_num_neighbors, "
                         f"not both (got {train_neighbors!r} and {max_num_neighbors!r})")
    return max_num_neighbors


def _checked_options(in_channels: int, *, kernel: str, normalization: str, radius: Any,
                     train_neighbors: int | None,
                     kernel_channels: list[int] | None) -> list[int]:
    """ModelError for an unknown kernel / normalization, a radius <= 0, a bad neighbour cap
    or kernel channel; returns the kernel's input channels."""
    if kernel not in KERNELS:
        raise ModelError(f"unknown kernel {kernel!r}; expected one of: {', '.join(KERNELS)}")
    if normalization not in NORMALIZATIONS:
        raise ModelError(f"unknown normalization {normalization!r}; expected one of: "
                         f"{', '.join(NORMALIZATIONS)}")
    if not (isinstance(radius, int | float) and radius > 0):
        raise ModelError(f"expected a positive radius (got {radius!r})")
    if train_neighbors is not None:
        check_positive(train_neighbors=train_neighbors)
    chans = list(range(in_channels)) if kernel_channels is None else list(kernel_channels)
    if any(not 0 <= c < in_channels for c in chans):
        raise ModelError(f"expected kernel_channels in [0, {in_channels}) (got {chans})")
    return chans


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
        train_neighbors: in training, integrate over a renormalised uniform subsample of
            at most this many nodes of each ball (None: the whole ball); inference always
            uses the whole ball.
        kernel: ``"full"``, ``"lowrank"`` or ``"diagonal"``.
        rank: rank of the ``"lowrank"`` kernel.
        kernel_hidden: hidden width of the kernel MLP.
        kernel_layers: hidden layers of the kernel MLP.
        kernel_channels: input channels fed to the kernel (None: all).
        normalization: ``"mean"`` or ``"integral"`` (see module docstring).
        share_weights: one kernel layer applied ``depth`` times (as GKN) or one per layer.
        lift_pos: concatenate ``pos`` to ``x`` before lifting.
        max_num_neighbors: the old name of ``train_neighbors`` (artifacts saved before it).

    Attributes:
        inference_chunk_bytes: temporaries per block of the inference forward (bytes).
        bounded_memory_forward: ``True``: the forward already runs in bounded memory on a
            graph of any size (layer-wise blocks), so predictors do not partition it.
    """

    name = "gno"
    bounded_memory_forward = True
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
        train_neighbors: int | None = None,
        kernel: str = "full",
        rank: int = 4,
        kernel_hidden: int = 128,
        kernel_layers: int = 2,
        kernel_channels: list[int] | None = None,
        normalization: str = "mean",
        share_weights: bool = True,
        lift_pos: bool = True,
        max_num_neighbors: int | None = None,
    ) -> None:
        train_neighbors = _train_neighbors(train_neighbors, max_num_neighbors)
        super().__init__(
            in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
            pos_dim=pos_dim, width=width, depth=depth, radius=radius,
            train_neighbors=train_neighbors, kernel=kernel, rank=rank,
            kernel_hidden=kernel_hidden, kernel_layers=kernel_layers,
            kernel_channels=None if kernel_channels is None else list(kernel_channels),
            normalization=normalization, share_weights=share_weights, lift_pos=lift_pos,
        )
        check_positive(pos_dim=pos_dim, width=width, depth=depth, rank=rank,
                       kernel_hidden=kernel_hidden, kernel_layers=kernel_layers)
        chans = _checked_options(in_channels, kernel=kernel, normalization=normalization,
                                 radius=radius, train_neighbors=train_neighbors,
                                 kernel_channels=kernel_channels)
        self.register_buffer("kernel_channels", torch.tensor(chans, dtype=torch.long),
                             persistent=False)
        self.width, self.depth, self.rank = width, depth, rank
        self.kernel, self.radius, self.normalization = kernel, float(radius), normalization
        self.train_neighbors = train_neighbors
        self.lift_pos = lift_pos
        self.inference_chunk_bytes = 64 * 2**20
        self.lift = nn.Linear(in_channels + (pos_dim if lift_pos else 0), width)
        k_out = {"full": width * width, "lowrank": 2 * width * rank, "diagonal": width}[kernel]
        n_kernels = 1 if share_weights else depth
        self.kernels = nn.ModuleList(
            KernelNet(pos_dim + len(chans), pos_dim + 1, kernel_hidden, k_out, kernel_layers)
            for _ in range(n_kernels)
        )
        self.linears = nn.ModuleList(nn.Linear(width, width) for _ in range(n_kernels))
        self.project = MLP(width, out_channels, 2 * width, hidden_layers=1, layer_norm=False)

    @property
    def max_num_neighbors(self) -> int | None:
        """The old name of :attr:`train_neighbors`."""
        return self.train_neighbors

    # ------------------------------------------------------------------ graph
    def prepare(self, data: Data) -> Data:
        """Training: the ball graph and its quadrature coefficients; inference: nothing.

        Returns:
            A shallow copy of ``data``; in training mode with ``gno_edge_index`` [2, E_r]
            (self loops included) and ``gno_edge_weight`` [E_r]. In eval mode the balls
            are built block by block inside :meth:`forward` (whole balls, bounded memory).
        """
        self.check_data(data, need_pos=True)
        out = copy.copy(data)
        if not self.training:
            return out
        batch = getattr(data, "batch", None)
        ei = radius_graph(data.pos, self.radius, batch=batch, loop=True)
        w = node_weights(data)
        n = data.num_nodes
        full = scatter_sum(w[ei[0]], ei[1], n)
        if self.train_neighbors is not None:
            if batch is None:
                local = torch.arange(n)
            else:
                ptr = torch.zeros(int(batch.max()) + 2, dtype=torch.long)
                ptr[1:] = torch.bincount(batch.cpu()).cumsum(0)
                local = torch.arange(n) - ptr[batch.cpu()]
            ei = ei[:, subsample_neighbors(ei, local, self.train_neighbors)]
        kept = scatter_sum(w[ei[0]], ei[1], n).clamp_min(torch.finfo(w.dtype).tiny)
        coef = w[ei[0]] / kept[ei[1]]
        if self.normalization == "integral":
            coef = coef * full[ei[1]]
        out.gno_edge_index = ei
        out.gno_edge_weight = coef
        return out

    def _edges_per_block(self) -> int:
        hid = self.kernels[0].lin_i.out_features
        per = floats_per_edge(self.kernel, self.width, hid, self.rank)
        return max(1, self.inference_chunk_bytes // (4 * per))

    def _plan(self, data: Data, targets: Tensor | None = None
              ) -> tuple[list[tuple[cKDTree, int, np.ndarray]], int]:
        """Blocks of targets ``(tree of its graph, node offset, local target ids)``, edges."""
        pos = data.pos.detach().cpu().double().numpy()
        want = None if targets is None else np.sort(targets.cpu().numpy())
        plan, total = [], 0
        for lo, hi in graph_ranges(data):
            ids = None if want is None else want[(want >= lo) & (want < hi)] - lo
            if ids is not None and len(ids) == 0:
                continue
            tree = cKDTree(pos[lo:hi])
            blocks, edges = target_blocks(tree, self.radius, max_edges=self._edges_per_block(),
                                          ids=ids)
            plan += [(tree, lo, b) for b in blocks]
            total += edges
        return plan, total

    def _ball(self, pos: Tensor, w: Tensor, tree: cKDTree, lo: int,
              targets: np.ndarray) -> _Block:
        """The whole balls of one block of targets, with their quadrature coefficients."""
        src, loc, dist = block_ball(tree, targets, self.radius, loop=True, distances=True)
        dev = pos.device
        tgt = torch.from_numpy(targets + lo).to(dev)
        src_t, loc_t = torch.from_numpy(src + lo).to(dev), torch.from_numpy(loc).to(dev)
        edges = SortedEdges(src_t, loc_t, len(targets))  # sorted by target already
        wj = w.index_select(0, src_t)
        coef = wj
        if self.normalization == "mean":
            den = segment_sum(wj.unsqueeze(1), edges).squeeze(1)
            coef = wj / den.clamp_min(torch.finfo(wj.dtype).tiny).index_select(0, loc_t)
        d = torch.from_numpy(dist).to(device=dev, dtype=pos.dtype)
        return _Block(tgt, src_t, loc_t, coef, None, d, edges)

    def _blocks(self, data: Data, pos: Tensor, targets: Tensor | None = None
                ) -> tuple[list[_Block] | list[tuple[cKDTree, int, np.ndarray]], bool]:
        """``(blocks, built)``: the prepared ball graph as one block, or the whole balls
        of blocks of targets -- built now when they fit in one block (``built``), else as a
        plan whose blocks :meth:`_ball` builds again in every layer."""
        ei = getattr(data, "gno_edge_index", None)
        if ei is not None and targets is None:
            coef = data.gno_edge_weight.to(pos.dtype)
            geo = edge_geometry(pos, ei[0], ei[1], self.radius)
            edges = SortedEdges(ei[0], ei[1], pos.shape[0])
            return [_Block(None, ei[0], ei[1], coef, geo, None, edges)], True
        w = node_weights(data).to(pos.dtype)
        plan, _ = self._plan(data, targets)
        if len(plan) == 1:
            return [self._ball(pos, w, *plan[0])], True
        return plan, False

    def _each(self, blocks: list, built: bool, data: Data, pos: Tensor):  # noqa: ANN202
        if built:
            yield from blocks
            return
        w = node_weights(data).to(pos.dtype)
        for tree, lo, tg in blocks:
            yield self._ball(pos, w, tree, lo, tg)

    def _node_parts(self, x: Tensor, pos: Tensor, kernels: Any, *, prepared: bool) -> list:
        """Per kernel the per-node first-layer terms: ``(node_parts, None)`` for a prepared
        graph (edge geometry per edge), ``(None, node_parts_geo)`` for whole balls built at
        inference (relative positions folded into the node terms)."""
        f = torch.cat([pos, x.index_select(1, self.kernel_channels)], dim=1)
        parts: list = [None] * len(self.kernels)
        for i in kernels:
            kn = self.kernels[i]
            parts[i] = ((kn.node_parts(f), None) if prepared
                        else (None, kn.node_parts_geo(f, pos, self.radius)))
        return parts

    def _integral(self, i: int, blk: _Block, b: int, v: Tensor, parts: list,
                  cache: dict | None) -> Tensor:
        """``sum_j c_ij kappa_ij v_j`` for the targets of one block (kernel ``i``)."""
        kn = self.kernels[i]
        k = None if cache is None else cache.get((i, b))
        if k is None:
            dst = blk.loc if blk.targets is None else blk.targets.index_select(0, blk.loc)
            if blk.geo is not None:
                z = kn.hidden(*parts[i][0], blk.geo, blk.src, dst)
            else:
                z = kn.hidden_dist(*parts[i][1], blk.dist, self.radius, blk.src, dst)
            k = kn.last(z)
            if cache is not None:
                cache[(i, b)] = k
        n_t = v.shape[0] if blk.targets is None else blk.targets.shape[0]
        return ball_integral(self.kernel, k, v, blk.src, blk.loc, blk.coef, n_t, rank=self.rank,
                             edges=blk.edges)

    def forward(self, data: Data) -> Tensor:
        """Predict per-node outputs.

        Args:
            data: ``Data``/``Batch`` with ``x`` [N, F_in], ``pos`` [N, d], optionally
                ``node_volume`` [N] and the ``prepare`` attributes (training mode: built
                if missing; eval mode: whole balls, block by block).

        Returns:
            [N, out_channels].
        """
        self.check_data(data, need_pos=True)
        if self.training and getattr(data, "gno_edge_index", None) is None:
            data = self.prepare(data)
        x, pos = data.x, data.pos.to(data.x.dtype)
        v = self.lift(torch.cat([x, pos], dim=1) if self.lift_pos else x)
        blocks, built = self._blocks(data, pos)
        parts = self._node_parts(x, pos, range(len(self.kernels)),
                                 prepared=getattr(data, "gno_edge_index", None) is not None)
        cache: dict | None = {} if built else None  # kernel values, once per forward
        for t in range(self.depth):
            i = t % len(self.kernels)
            out = self.linears[i](v)
            for b, blk in enumerate(self._each(blocks, built, data, pos)):
                integ = self._integral(i, blk, b, v, parts, cache)
                if blk.targets is None:
                    out = out + integ
                elif torch.is_grad_enabled():
                    out = out.index_add(0, blk.targets, integ)
                else:
                    out.index_add_(0, blk.targets, integ)
            v = torch.relu(out) if t < self.depth - 1 else out
        return self.project(v)

    def kernel_integral(self, data: Data, v: Tensor, *, layer: int = 0,
                        targets: Tensor | None = None) -> Tensor:
        """The kernel integral of layer ``layer`` applied to ``v``, over whole balls.

        ``sum_{j in B_r(x_i)} c_ij kappa(e_ij) v_j`` -- the inference quadrature of
        :meth:`forward`, without the rest of the layer.

        Args:
            data: ``x`` [N, F_in] (the kernel's inputs), ``pos`` [N, d], ``node_volume``.
            v: [N, width] values to integrate.
            layer: which layer's kernel (0 when the kernel is shared).
            targets: node ids where to evaluate (default all).

        Returns:
            [N, width], or [len(targets), width] in ascending node order.
        """
        self.check_data(data, need_pos=True)
        x, pos = data.x, data.pos.to(data.x.dtype)
        i = layer % len(self.kernels)
        parts = self._node_parts(x, pos, [i], prepared=False)
        prepared = copy.copy(data)
        prepared.gno_edge_index = None
        blocks, built = self._blocks(prepared, pos, targets)
        want = torch.arange(v.shape[0]) if targets is None else torch.sort(targets)[0]
        out = v.new_zeros(v.shape[0], v.shape[1])
        for b, blk in enumerate(self._each(blocks, built, prepared, pos)):
            out = out.index_add(0, blk.targets, self._integral(i, blk, b, v, parts, None))
        return out.index_select(0, want.to(v.device))
