"""MeshGraphNet (Pfaff et al., ICLR 2021): encode - process - decode.

Encoders: MLPs (two hidden layers, LayerNorm) for nodes and edges. Processor: ``depth``
blocks; each block updates every edge from ``[e_ij, x_j, x_i]`` (source j, target i),
sums the new edge latents into their targets and updates every node
from ``[x_i, agg_i]``; residual connections on nodes and edges. Decoder: MLP without
LayerNorm.

Performance: the first layer of the edge MLP acts on ``[e, x_src, x_dst]``, so
``W [e, x_s, x_d] = W_e e + W_s x_s + W_d x_d``; ``W_s x`` and ``W_d x`` are computed once
per NODE and then gathered to the edges (``split_first_layer=True``, the default). This
is the same function with the same parameters as the plain version
(``split_first_layer=False``), at ~E*L*H + 2*N*L*H instead of 3*E*L*H multiply-adds.
Further (all measured in ``benchmarks/models.py``): the first-layer bias is added per node,
``W_e e`` is accumulated by the GEMM itself (``addmm``), the node MLP's first layer is
split too (no ``cat``), ReLUs run in place, and the edges are sorted by target once per
forward so that aggregation is a segmented (CSR) sum (:mod:`gnnops.models.scatter`).
Without autograd (inference) the processor runs edges in chunks of ``inference_chunk``
(64x more on a GPU: :func:`gnnops.models.base.device_chunk`) and updates the edge latents
in place, so its peak memory is ~ the edge and node latents plus one chunk of temporaries.
``compile_processor()`` is an opt-in ``torch.compile``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.models.base import GraphModel, check_positive, device_chunk, map_rows
from gnnops.models.fused import addmm_into
from gnnops.models.mlp import MLP, edge_geometry, scatter_sum
from gnnops.models.scatter import SortedEdges, gather, range_sum, segment_sum

__all__ = ["MeshGraphNet", "ProcessorBlock", "edge_inputs"]


class ProcessorBlock(nn.Module):
    """One message-passing block with residuals on nodes and edges.

    Args:
        latent: latent width L of nodes and edges.
        hidden_layers: hidden layers of both MLPs.
        split_first_layer: use the per-node split of the first edge-MLP layer.
    """

    def __init__(self, latent: int, *, hidden_layers: int = 2, split_first_layer: bool = True):
        super().__init__()
        self.latent = latent
        self.split_first_layer = split_first_layer
        self.edge_mlp = MLP(3 * latent, latent, latent, hidden_layers=hidden_layers)
        self.node_mlp = MLP(2 * latent, latent, latent, hidden_layers=hidden_layers)

    def edge_message(self, x: Tensor, e: Tensor, src: Tensor, dst: Tensor,
                     edges: SortedEdges | None = None) -> Tensor:
        """Edge-MLP output ``MLP([e_ij, x_j, x_i])`` [E, L] (``edges``: ``src`` / ``dst``
        sorted by target, their gathers' backward then a CSR product, :func:`gather`)."""
        if not self.split_first_layer:
            return self.edge_mlp(torch.cat([e, x[src], x[dst]], dim=1))
        first: nn.Linear = self.edge_mlp[0]  # type: ignore[assignment]
        lat = self.latent
        w = first.weight  # [H, 3L]
        # per-node products [N, H] W_s x + b and W_d x (the bias added on nodes, not edges),
        # two contiguous tensors: their gathers read whole rows, their gradients are no slices
        p_s = F.linear(x, w[:, lat:2 * lat], first.bias)
        p_d = F.linear(x, w[:, 2 * lat:])
        if edges is None:
            g = p_s.index_select(0, src).add_(p_d.index_select(0, dst))
        else:
            g = gather(p_s, edges, "src").add_(gather(p_d, edges, "dst"))
        # W_e e added by the GEMM itself (beta = 1) into g, in place: no pass over [E, H] for
        # the sum and no copy of g (out-of-place addmm copies it first; 2.75 -> 2.62 s per
        # 15x128 train step on 12k nodes, interleaved medians); autograd keeps e and W only
        h = addmm_into(g, e, w[:, :lat].t())
        return self.edge_mlp.tail(torch.relu_(h), start=2)

    def node_update(self, x: Tensor, agg: Tensor) -> Tensor:
        """Node-MLP output ``MLP([x_i, agg_i])`` [N, L], first layer split (no concat)."""
        first: nn.Linear = self.node_mlp[0]  # type: ignore[assignment]
        lat = self.latent
        h = addmm_into(F.linear(x, first.weight[:, :lat], first.bias), agg,
                        first.weight[:, lat:].t())
        return self.node_mlp.tail(torch.relu_(h), start=2)

    def forward(
        self, x: Tensor, e: Tensor, src: Tensor, dst: Tensor, coef: Tensor | None = None,
        *, edges: SortedEdges | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Update nodes and edges.

        Args:
            x: [N, L] node latents.
            e: [E, L] edge latents.
            src: [E] sources j.
            dst: [E] targets i.
            coef: optional [E] aggregation coefficients (``None`` = plain sum, as in MGN;
                weighted-mean coefficients make the aggregation resolution-robust).
            edges: the same edges sorted by target (``src``/``dst``/``e``/``coef`` then in
                that order): aggregation by a segmented sum instead of ``index_add_``.

        Returns:
            ``(x', e')`` with the same shapes.
        """
        m = self.edge_message(x, e, src, dst, edges)
        msg = m if coef is None else m * coef.unsqueeze(1)
        if edges is not None:
            agg = segment_sum(msg, edges)
        else:
            agg = scatter_sum(msg, dst, x.shape[0])
        if not self.split_first_layer:
            return x + self.node_mlp(torch.cat([x, agg], dim=1)), e + m
        return x + self.node_update(x, agg), e + m

    def forward_inplace(self, x: Tensor, e: Tensor, src: Tensor, dst: Tensor, *,
                        chunk: int, coef: Tensor | None = None) -> None:
        """Inference-only :meth:`forward` (split layer, edges sorted by target): ``x`` and
        ``e`` are updated IN PLACE, edges and nodes ``chunk`` rows at a time, so besides
        the latents only ``W_s x`` [N, H], ``agg`` [N, L] and one chunk of temporaries
        exist (``W_d x`` is computed per chunk for its contiguous target range). ``coef``
        [E]: aggregation coefficients as in :meth:`forward` (None: plain sum).
        """
        first: nn.Linear = self.edge_mlp[0]  # type: ignore[assignment]
        lat, w = self.latent, first.weight
        w_s, w_d, w_e = w[:, lat:2 * lat], w[:, 2 * lat:], w[:, :lat].t()
        p_s = F.linear(x, w_s, first.bias)  # [N, H]
        agg = x.new_zeros(x.shape[0], lat)
        for s in range(0, e.shape[0], chunk):
            s_c, d_c, e_c = src[s:s + chunk], dst[s:s + chunk], e[s:s + chunk]
            lo, hi = int(d_c[0]), int(d_c[-1]) + 1
            g = p_s.index_select(0, s_c).add_(F.linear(x[lo:hi], w_d).index_select(0, d_c - lo))
            m = self.edge_mlp.tail(torch.relu_(addmm_into(g, e_c, w_e)), start=2)
            msg = m if coef is None else m * coef[s:s + chunk].unsqueeze(1)
            agg[lo:hi] += range_sum(msg.to(agg.dtype), d_c, lo, hi)
            e_c.add_(m)
        del p_s
        for s in range(0, x.shape[0], chunk):
            x_c = x[s:s + chunk]
            x_c.add_(self.node_update(x_c, agg[s:s + chunk]))


def edge_inputs(data: Data, edge_dim: int, pos_dim: int) -> Tensor:
    """Raw edge features: ``edge_attr`` if ``edge_dim > 0``, else geometry, else ones.

    Returns:
        [E, edge_dim] or [E, pos_dim + 1] (relative position and norm) or [E, 1].
    """
    src, dst = data.edge_index[0], data.edge_index[1]
    if edge_dim > 0:
        return data.edge_attr.to(data.x.dtype)
    if pos_dim > 0:
        return edge_geometry(data.pos.to(data.x.dtype), src, dst)
    return data.x.new_ones((src.shape[0], 1))


def edge_input_width(edge_dim: int, pos_dim: int) -> int:
    """Width of :func:`edge_inputs`."""
    return edge_dim if edge_dim > 0 else (pos_dim + 1 if pos_dim > 0 else 1)


class MeshGraphNet(GraphModel):
    """MeshGraphNet with sum aggregation.

    Args:
        in_channels: node input width F_in.
        out_channels: output width F_out.
        edge_dim: ``edge_attr`` width (0: use ``[pos_i - pos_j, |.|]`` computed from ``pos``,
            or a constant if ``pos_dim`` is also 0).
        pos_dim: coordinate dimension d (only used when ``edge_dim`` is 0).
        latent: latent width (MGN: 128).
        depth: number of processor blocks (MGN: 15).
        hidden_layers: hidden layers per MLP (MGN: 2).
        split_first_layer: per-node split of the first edge-MLP layer (same math, faster).
    """

    name = "meshgraphnet"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        edge_dim: int = 0,
        pos_dim: int = 2,
        *,
        latent: int = 128,
        depth: int = 15,
        hidden_layers: int = 2,
        split_first_layer: bool = True,
    ) -> None:
        super().__init__(
            in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
            pos_dim=pos_dim, latent=latent, depth=depth, hidden_layers=hidden_layers,
            split_first_layer=split_first_layer,
        )
        check_positive(latent=latent, depth=depth, hidden_layers=hidden_layers)
        self.split_first_layer = split_first_layer
        self.sorted_aggregation = True  # runtime switch (benchmarks), not a constructor arg
        # edges per chunk of the in-place inference path (0: off); runtime, not saved
        self.inference_chunk = 8192
        kw = dict(hidden_layers=hidden_layers)
        self.node_encoder = MLP(in_channels, latent, latent, **kw)
        self.edge_encoder = MLP(edge_input_width(edge_dim, pos_dim), latent, latent, **kw)
        self.blocks = nn.ModuleList(
            ProcessorBlock(latent, hidden_layers=hidden_layers,
                           split_first_layer=split_first_layer)
            for _ in range(depth)
        )
        self.decoder = MLP(latent, out_channels, latent, layer_norm=False, **kw)

    def compile_processor(self, *, dynamic: bool = True) -> MeshGraphNet:
        """Opt-in ``torch.compile`` of the processor blocks (in place; returns ``self``).

        The blocks share one compiled graph (parameters are graph inputs), and
        ``dynamic=True`` keeps it valid across graph sizes. Compiling costs ~40 s on a
        2-core CPU, so it pays off only for long runs; the state dict is unchanged.
        Needs a C++ compiler on CPU (inductor).
        """
        for block in self.blocks:
            block.compile(dynamic=dynamic)
        return self

    def forward(self, data: Data) -> Tensor:
        """Predict per-node outputs.

        Args:
            data: ``Data``/``Batch`` with ``x`` [N, F_in], ``edge_index`` [2, E],
                ``edge_attr`` [E, edge_dim] (if ``edge_dim > 0``), ``pos`` [N, d].

        Returns:
            [N, out_channels].
        """
        self.check_data(data)
        src, dst = data.edge_index[0], data.edge_index[1]
        x = self.node_encoder(data.x)
        raw = edge_inputs(data, self.edge_dim, self.pos_dim)
        edges = None
        if self.split_first_layer and self.sorted_aggregation:  # CSR order: sequential sums
            edges = SortedEdges(src, dst, x.shape[0])
            src, dst, raw = edges.src, edges.dst, edges.permute(raw)  # [E, k], not [E, L]
        e = self._encode_edges(raw)
        del raw
        chunk = device_chunk(self.inference_chunk, e.device)
        if (chunk and edges is not None and not torch.is_grad_enabled()
                and e.shape[0] > chunk):
            for block in self.blocks:  # bounded memory: ~ e + x + one chunk of temporaries
                block.forward_inplace(x, e, src, dst, chunk=chunk)
            del e
            return self.decoder(x)
        for block in self.blocks:
            x, e = block(x, e, src, dst, edges=edges)
        return self.decoder(x)

    def _encode_edges(self, raw: Tensor) -> Tensor:
        """Edge encoder [E, k] -> [E, L]; without autograd, ``inference_chunk`` rows at a time."""
        chunk = device_chunk(self.inference_chunk, raw.device)
        if not chunk or torch.is_grad_enabled() or raw.shape[0] <= chunk:
            return self.edge_encoder(raw)
        return map_rows(lambda rows: self.edge_encoder(raw[rows]), raw.shape[0], chunk,
                        self.edge_encoder[-1].normalized_shape[0], raw)
