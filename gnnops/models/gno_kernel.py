"""The GNO's kernel network and its ball integral, with the kernel's last layer factored out.

The kernel is ``kappa_e = W z_e + b`` where ``z_e`` [H] is the kernel MLP's last hidden
layer on edge ``e = (j -> i)``. The integral ``sum_j c_ij kappa_e v_j`` is linear in
``kappa_e``, so for the full and low-rank kernels ``W`` is applied once per TARGET to
edge sums instead of once per EDGE (the same function and parameters, summed in another
order):

- ``"full"`` (``kappa_e`` a [w, w] matrix): ``sum_j c_ij kappa_e v_j =
  W : (sum_j c_ij z_e (x) v_j) + B (sum_j c_ij v_j)`` -- per edge an outer product of
  H x w numbers instead of the H x w^2 multiply-adds of ``W z_e``;
- ``"lowrank"`` (``kappa_e = Phi_e Psi_e^T / rank``): ``Psi_e^T v_j = z_e . P_j + q_j``
  with ``P_j = W_psi^T v_j`` [rank, H] computed per NODE, and ``sum_j c_ij Phi_e s_e =
  W_phi : (sum_j c_ij s_e (x) z_e) + B_phi (sum_j c_ij s_e)`` -- ~4 rank H numbers per edge
  instead of 2 w rank H multiply-adds;
- ``"diagonal"``: ``kappa_e`` [w] computed per edge (factoring would not save work).

Also here: the training-time ball subsample (:func:`subsample_neighbors`) and the node
ranges of a PyG batch (:func:`graph_ranges`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.mlp import scatter_sum

__all__ = ["KernelNet", "ball_integral", "node_terms", "floats_per_edge", "subsample_neighbors",
           "graph_ranges"]


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
        for layer in list(self.rest)[:-1]:
            h = layer(h)
        return h

    def forward(self, f: Tensor, g: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        """Args: f [N, node_in], g [E, geo_in], src/dst [E]. Returns kappa [E, out]."""
        fi, fj = self.node_parts(f)
        return self.last(self.hidden(fi, fj, g, src, dst))


def node_terms(kernel: str, last: nn.Linear, v: Tensor, rank: int) -> tuple[Tensor, Tensor] | None:
    """Per-node factors of the low-rank kernel: ``P`` [N, rank, H] and ``q`` [N, rank]."""
    if kernel != "lowrank":
        return None
    w = v.shape[1]
    hid = last.weight.shape[1]
    w_psi = last.weight[w * rank:].view(w, rank, hid)
    b_psi = last.bias[w * rank:].view(w, rank)
    return torch.einsum("arh,na->nrh", w_psi, v), v @ b_psi


def floats_per_edge(kernel: str, width: int, hidden: int, rank: int) -> int:
    """Approximate live floats per edge of one :func:`ball_integral` block (memory planning)."""
    extra = {"full": hidden * width + width, "lowrank": 2 * rank * hidden + 2 * rank,
             "diagonal": 3 * width}[kernel]
    return 2 * hidden + extra + width + 12


def ball_integral(kernel: str, last: nn.Linear, z: Tensor, v: Tensor, src: Tensor, loc: Tensor,
                  coef: Tensor, n_t: int, *, rank: int,
                  terms: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """``sum_{e -> t} coef_e kappa_e v_src(e)`` for ``n_t`` targets.

    Args:
        kernel: ``"full"``, ``"lowrank"`` or ``"diagonal"``.
        last: the kernel MLP's output layer (``kappa_e = last(z_e)``).
        z: [E, H] last hidden layer per edge.
        v: [N, w] values at every node.
        src: [E] source node of each edge.
        loc: [E] target of each edge, as an index in ``0..n_t-1``.
        coef: [E] quadrature coefficients.
        n_t: number of targets.
        rank: rank of the low-rank kernel.
        terms: :func:`node_terms` of ``v`` (low-rank only; computed if absent).

    Returns:
        [n_t, w].
    """
    w = v.shape[1]
    e = z.shape[0]
    hid = z.shape[1]
    v_src = v.index_select(0, src)
    c = coef.unsqueeze(1)
    if kernel == "diagonal":
        return scatter_sum(last(z) * v_src * c, loc, n_t)
    wgt, bias = last.weight, last.bias
    if kernel == "full":  # kappa index a * w + u: out_a = sum_u kappa_au v_u
        zc = z * c
        s = scatter_sum((zc.unsqueeze(2) * v_src.unsqueeze(1)).view(e, hid * w), loc, n_t)
        vs = scatter_sum(v_src * c, loc, n_t)
        out = torch.einsum("auh,thu->ta", wgt.view(w, w, hid), s.view(n_t, hid, w))
        return out + vs @ bias.view(w, w).t()
    p, q = terms if terms is not None else node_terms(kernel, last, v, rank)  # type: ignore[misc]
    coeff = ((p.index_select(0, src) * z.unsqueeze(1)).sum(2) + q.index_select(0, src)) / rank
    cc = coeff * c  # [E, rank]
    s = scatter_sum((cc.unsqueeze(2) * z.unsqueeze(1)).view(e, rank * hid), loc, n_t)
    t = scatter_sum(cc, loc, n_t)
    w_phi = wgt[:w * rank].view(w, rank, hid)
    b_phi = bias[:w * rank].view(w, rank)
    return torch.einsum("arh,trh->ta", w_phi, s.view(n_t, rank, hid)) + t @ b_phi.t()


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
