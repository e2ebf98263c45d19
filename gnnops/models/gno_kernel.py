"""The GNO's kernel network, its ball integral, the training subsample and batch ranges.

``KernelNet`` evaluates kappa(e_ij) with its first layer split per node (``lin_i f_i +
lin_j f_j + lin_g g_ij``: the node parts are computed once per forward and gathered).
:func:`ball_integral` sums ``c_ij kappa_ij v_j`` into the targets of one block of edges.
(Applying the kernel's last layer after the sum instead -- it is linear -- trades the
per-edge GEMM for per-edge gathers and outer products of rank x H numbers; measured on
this CPU it was 1.5x SLOWER for the default low-rank kernel, so the kernel is applied edge
by edge, as before.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.mlp import scatter_sum
from gnnops.models.scatter import SortedEdges, segment_sum

__all__ = ["KernelNet", "ball_integral", "apply_kernel", "floats_per_edge",
           "subsample_neighbors", "graph_ranges"]


class KernelNet(nn.Module):
    """kappa(e_ij): MLP on ``[f_i, f_j, g_ij]`` with the first layer split per node.

    Args:
        node_in: width of the per-node part f (pos and selected channels).
        geo_in: width of the per-edge part g (relative position and norm).
        hidden: hidden width H.
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

    @property
    def last(self) -> nn.Linear:
        """The output layer ``kappa = W z + b``."""
        return self.rest[-1]  # type: ignore[return-value]

    def node_parts(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Per-node first-layer terms ``(lin_i f, lin_j f)``, each [N, H]."""
        return self.lin_i(f), self.lin_j(f)

    def hidden(self, fi: Tensor, fj: Tensor, g: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        """Last hidden layer ``z`` [E, H] of the edges (``dst``/``src`` index ``fi``/``fj``)."""
        h = self.lin_g(g) + fi.index_select(0, dst) + fj.index_select(0, src)
        return self._rest_hidden(h)

    def node_parts_geo(self, f: Tensor, pos: Tensor, r: float) -> tuple[Tensor, Tensor]:
        """Per-node terms with the relative-position part of ``lin_g`` folded in.

        ``g = [(pos_i - pos_j) / r, |pos_i - pos_j| / r]`` enters the first layer linearly,
        so ``W_rel (pos_i - pos_j) / r`` splits into a target and a source term; only the
        distance stays per edge (:meth:`hidden_dist`). Returns ``(a_i, b_j)``, each [N, H].
        """
        d = pos.shape[1]
        p = pos @ self.lin_g.weight[:, :d].t() / r
        return self.lin_i(f) + p, self.lin_j(f) - p

    def hidden_dist(self, ai: Tensor, bj: Tensor, dist: Tensor, r: float, src: Tensor,
                    dst: Tensor) -> Tensor:
        """:meth:`hidden` from :meth:`node_parts_geo` terms and the edge lengths ``dist`` [E]."""
        w_n = self.lin_g.weight[:, -1]
        h = ai.index_select(0, dst).add_(bj.index_select(0, src))
        return self._rest_hidden(h.addr_(dist / r, w_n))

    def _rest_hidden(self, h: Tensor) -> Tensor:
        for layer in list(self.rest)[:-1]:
            h = layer(h)
        return h

    def forward(self, f: Tensor, g: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        """Args: f [N, node_in], g [E, geo_in], src/dst [E]. Returns kappa [E, out]."""
        fi, fj = self.node_parts(f)
        return self.last(self.hidden(fi, fj, g, src, dst))


def floats_per_edge(kernel: str, width: int, hidden: int, rank: int) -> int:
    """Approximate live floats per edge of one :func:`ball_integral` block (memory planning)."""
    k_out = {"full": width * width, "lowrank": 2 * width * rank, "diagonal": width}[kernel]
    return 2 * hidden + k_out + 3 * width + rank + 12


def apply_kernel(kernel: str, k: Tensor, v_src: Tensor, rank: int) -> Tensor:
    """``kappa_e v_src(e)`` per edge: k [E, k_out], v_src [E, w] -> [E, w]."""
    w = v_src.shape[1]
    if kernel == "full":
        return torch.bmm(k.view(-1, w, w), v_src.unsqueeze(2)).squeeze(2)
    if kernel == "diagonal":
        return k * v_src
    phi, psi = k.view(-1, 2, w, rank).unbind(1)  # [E, w, rank] each
    coeff = torch.bmm(v_src.unsqueeze(1), psi) / rank  # [E, 1, rank]
    return torch.bmm(phi, coeff.transpose(1, 2)).squeeze(2)


def ball_integral(kernel: str, k: Tensor, v: Tensor, src: Tensor, loc: Tensor, coef: Tensor,
                  n_t: int, *, rank: int, edges: SortedEdges | None = None) -> Tensor:
    """``sum_{e -> t} coef_e kappa_e v_src(e)`` for ``n_t`` targets.

    Args:
        kernel: ``"full"``, ``"lowrank"`` or ``"diagonal"``.
        k: [E, k_out] kernel values per edge.
        v: [N, w] values at every node.
        src: [E] source node of each edge.
        loc: [E] target of each edge, as an index in ``0..n_t-1``.
        coef: [E] quadrature coefficients.
        n_t: number of targets.
        rank: rank of the low-rank kernel.
        edges: ``SortedEdges(src, loc, n_t)``: sum by a segmented (CSR) reduction
            (sequential writes) instead of ``index_add_``.

    Returns:
        [n_t, w].
    """
    msg = apply_kernel(kernel, k, v.index_select(0, src), rank) * coef.unsqueeze(1)
    if edges is not None:
        return segment_sum(edges.permute(msg), edges)
    return scatter_sum(msg, loc, n_t)


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


def graph_ranges(data: Data) -> list[tuple[int, int]]:
    """Node ranges of the graphs of a (PyG, contiguous) batch; one range without one."""
    n = int(data.num_nodes)
    batch = getattr(data, "batch", None)
    if batch is None or batch.numel() == 0:
        return [(0, n)]
    b = batch.cpu()
    if bool((b[1:] < b[:-1]).any()):
        raise ModelError("expected data.batch sorted (contiguous graphs) "
                         "(got an unsorted batch vector)")
    ptr = [0] + torch.bincount(b).cumsum(0).tolist()
    return [(lo, hi) for lo, hi in zip(ptr[:-1], ptr[1:], strict=True) if hi > lo]
