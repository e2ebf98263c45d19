"""Multiscale MeshGraphNet (a graph U-Net over a physical-unit node hierarchy).

Down pass: MeshGraphNet blocks on the mesh, pool to level 1 (volume-weighted mean of
messages from each fine node to its ``k_up`` nearest coarse nodes), blocks on level 1, ...,
blocks on the coarsest level; up pass: unpool (interpolation-weighted messages from the
coarse neighbours), merge with the skip connection of that level, blocks, down to the
mesh; MLP decoder. Level sizes are set in physical units (see
:mod:`gnnops.models.hierarchy`), so information crosses the domain in a few steps and a
finer mesh of the same domain only adds fine-level nodes.

Aggregation (``aggregation="mean"``, default): within-level messages are averaged with
weights = the level's node volumes (mesh: ``node_volume``; coarse: the pooled fine
volumes), which approximates an integral mean over the neighbourhood and keeps the
magnitudes independent of how many nodes a neighbourhood holds (resolution-robust).
``"sum"`` is MeshGraphNet's plain sum.

Inference (no autograd): every level's processor blocks run in place over chunks of
``inference_chunk`` target-sorted edges (:meth:`ProcessorBlock.forward_inplace`) and the
MLPs over chunks of rows -- a layer-wise partition of the targets whose halo is one hop per
block, exactly the same numbers as one pass -- so memory is the levels' latents plus one
chunk of temporaries (``bounded_memory_forward``: predictors do not split the mesh, whose
hierarchy couples every part).

``prepare(data)`` builds the hierarchy per graph (batches are handled graph by graph)
and stores it as ``ms{l}_*`` attributes on a shallow copy of ``data``; all ids are mesh
node ids, so ``Batch.from_data_list`` of prepared samples is correct.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.base import GraphModel, check_positive, device_chunk, node_weights
from gnnops.models.hierarchy import build_hierarchy, hierarchy_keys
from gnnops.models.meshgraphnet import ProcessorBlock, edge_input_width, edge_inputs
from gnnops.models.mlp import MLP, scatter_sum, weighted_mean_weights
from gnnops.models.scatter import SortedEdges

__all__ = ["MultiScale"]

AGGREGATIONS = ("mean", "sum")


def _blocks(n: int, latent: int, hidden_layers: int) -> nn.ModuleList:
    return nn.ModuleList(ProcessorBlock(latent, hidden_layers=hidden_layers) for _ in range(n))


class MultiScale(GraphModel):
    """Hierarchical MeshGraphNet.

    Args:
        in_channels: node input width F_in.
        out_channels: output width.
        edge_dim: mesh ``edge_attr`` width (0: relative position and norm from ``pos``).
        pos_dim: coordinate dimension d (>= 1).
        latent: latent width.
        levels: number of coarse levels.
        base_cell: level-1 voxel size as a fraction of the bounding box's longest side;
            level l uses ``base_cell * 2**(l-1)``.
        radius_factor: within-level edge radius in cells of that level.
        k_up: coarse neighbours of every fine node (pooling / unpooling).
        blocks_per_level: processor blocks per level and pass.
        hidden_layers: hidden layers per MLP.
        aggregation: ``"mean"`` (volume-weighted) or ``"sum"``.
    """

    name = "multiscale"
    bounded_memory_forward = True  # without autograd: processor blocks over chunks in place

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        edge_dim: int = 0,
        pos_dim: int = 2,
        *,
        latent: int = 64,
        levels: int = 3,
        base_cell: float = 1.0 / 16.0,
        radius_factor: float = 2.0,
        k_up: int = 3,
        blocks_per_level: int = 2,
        hidden_layers: int = 2,
        aggregation: str = "mean",
    ) -> None:
        super().__init__(
            in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
            pos_dim=pos_dim, latent=latent, levels=levels, base_cell=base_cell,
            radius_factor=radius_factor, k_up=k_up, blocks_per_level=blocks_per_level,
            hidden_layers=hidden_layers, aggregation=aggregation,
        )
        check_positive(pos_dim=pos_dim, latent=latent, levels=levels, k_up=k_up,
                       blocks_per_level=blocks_per_level, hidden_layers=hidden_layers)
        for key, v in (("base_cell", base_cell), ("radius_factor", radius_factor)):
            if not (isinstance(v, int | float) and v > 0):
                raise ModelError(f"expected a positive {key} (got {v!r})")
        if aggregation not in AGGREGATIONS:
            raise ModelError(f"unknown aggregation {aggregation!r}; expected one of: "
                             f"{', '.join(AGGREGATIONS)}")
        self.levels, self.base_cell, self.radius_factor = levels, float(base_cell), radius_factor
        self.k_up, self.aggregation = k_up, aggregation
        lat, kw = latent, dict(hidden_layers=hidden_layers)
        geo = pos_dim + 1
        self.node_encoder = MLP(in_channels, lat, lat, **kw)
        self.edge_encoders = nn.ModuleList(
            [MLP(edge_input_width(edge_dim, pos_dim), lat, lat, **kw)]
            + [MLP(geo, lat, lat, **kw) for _ in range(levels)]
        )
        self.down = nn.ModuleList(_blocks(blocks_per_level, lat, hidden_layers)
                                  for _ in range(levels + 1))  # last = coarsest
        self.up = nn.ModuleList(_blocks(blocks_per_level, lat, hidden_layers)
                                for _ in range(levels))
        self.pool = nn.ModuleList(MLP(lat + geo, lat, lat, **kw) for _ in range(levels))
        self.unpool = nn.ModuleList(MLP(lat + geo, lat, lat, **kw) for _ in range(levels))
        self.merge = nn.ModuleList(MLP(2 * lat, lat, lat, **kw) for _ in range(levels))
        self.decoder = MLP(lat, out_channels, lat, layer_norm=False, **kw)
        self.inference_chunk = 8192  # rows per chunk without autograd (0: no chunking)

    # ------------------------------------------------------------------ graph
    def prepare(self, data: Data) -> Data:
        """Attach the hierarchy (``ms{l}_*`` attributes) to a shallow copy of ``data``."""
        self.check_data(data, need_pos=True)
        out = copy.copy(data)
        pos = data.pos.detach().cpu().double().numpy()
        batch = getattr(data, "batch", None)
        n = pos.shape[0]
        if batch is None:
            bounds = [0, n]
        else:
            b = batch.cpu()
            if b.numel() and bool((b[1:] < b[:-1]).any()):
                raise ModelError("expected data.batch sorted (contiguous graphs) "
                                 "(got an unsorted batch vector)")
            bounds = [0] + torch.bincount(b).cumsum(0).tolist()
        parts: dict[str, list[Tensor]] = {k: [] for k in hierarchy_keys(self.levels)}
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi == lo:
                continue
            h = build_hierarchy(pos[lo:hi], levels=self.levels, base_cell=self.base_cell,
                                radius_factor=self.radius_factor, k_up=self.k_up)
            for k, v in h.items():
                t = torch.from_numpy(v)
                parts[k].append(t + lo if "index" in k else t)
        dev = data.pos.device
        for k, v in parts.items():
            cat_dim = -1 if "index" in k else 0
            setattr(out, k, torch.cat(v, dim=cat_dim).to(dev))
        return out

    # ---------------------------------------------------------------- forward
    def _coef(self, vol: Tensor, src: Tensor, dst: Tensor) -> Tensor | None:
        if self.aggregation == "sum":
            return None
        return weighted_mean_weights(vol, src, dst, vol.shape[0])

    def _chunk(self, rows: int, device: torch.device) -> int:
        """Rows per chunk of the inference path on ``device`` (0: one pass, as in training)."""
        c = device_chunk(self.inference_chunk, device)
        return c if c and not torch.is_grad_enabled() and rows > c else 0

    def _mlp(self, mlp: nn.Module, h: Tensor) -> Tensor:
        """``mlp(h)`` -- without autograd ``inference_chunk`` rows at a time."""
        c = self._chunk(h.shape[0], h.device)
        if not c:
            return mlp(h)
        return torch.cat([mlp(h[s:s + c]) for s in range(0, h.shape[0], c)])

    def _process(self, blocks: nn.ModuleList, x: Tensor, graph: tuple) -> tuple[Tensor, Tensor]:
        """Processor blocks on one level's graph; returns ``(x, e)``. Without autograd the
        blocks run in place over chunks of targets (edges sorted by target), so a level
        needs its latents plus one chunk of temporaries (a layer-wise partition whose
        halo is each block's one hop)."""
        s, t, e, coef, srt = graph
        c = self._chunk(e.shape[0], e.device)
        for blk in blocks:
            if c:
                blk.forward_inplace(x, e, s, t, chunk=c, coef=coef)
            else:
                x, e = blk(x, e, s, t, coef, edges=srt)
        return x, e

    def _pool(self, data: Data, lvl: int, x: Tensor, vol: Tensor, lut_prev: Tensor) -> tuple:
        """Level ``lvl`` -> ``lvl + 1`` (volume-weighted mean of pooled messages).

        Returns:
            ``(x_coarse, vol_coarse, lut, graph, unpool_info)``.
        """
        n0, dev, k = data.num_nodes, x.device, lvl + 1
        nodes = getattr(data, f"ms{k}_node_index")
        lut = torch.full((n0,), -1, dtype=torch.long, device=dev)
        lut[nodes] = torch.arange(nodes.shape[0], device=dev)
        cross = getattr(data, f"ms{k}_cross_index")
        cw = getattr(data, f"ms{k}_cross_weight").to(x.dtype)
        ca = getattr(data, f"ms{k}_cross_attr").to(x.dtype)
        f_loc, c_loc = lut_prev[cross[0]], lut[cross[1]]
        nc = nodes.shape[0]
        wv = vol[f_loc] * cw
        vol_c = scatter_sum(wv, c_loc, nc)
        pc = (wv / vol_c.clamp_min(torch.finfo(wv.dtype).tiny)[c_loc]).unsqueeze(1)
        m = self._mlp(self.pool[lvl], torch.cat([x[f_loc], ca], dim=1))
        xc = scatter_sum(m * pc, c_loc, nc)
        ei = lut[getattr(data, f"ms{k}_edge_index")]
        ek = self._mlp(self.edge_encoders[k], getattr(data, f"ms{k}_edge_attr").to(x.dtype))
        graph = _sorted(ei[0], ei[1], ek, self._coef(vol_c, ei[0], ei[1]), nc)
        return xc, vol_c, lut, graph, (f_loc, c_loc, cw, ca, x.shape[0])

    def forward(self, data: Data) -> Tensor:
        """Predict per-node outputs.

        Args:
            data: ``Data``/``Batch`` with ``x`` [N, F_in], ``pos`` [N, d], ``edge_index``,
                ``edge_attr`` (if ``edge_dim > 0``), optionally ``node_volume`` [N] and
                the ``prepare`` attributes (built if missing).

        Returns:
            [N, out_channels].
        """
        if getattr(data, f"ms{self.levels}_node_index", None) is None:
            data = self.prepare(data)
        self.check_data(data, need_pos=True)
        n0 = data.num_nodes
        x = self._mlp(self.node_encoder, data.x)
        src, dst = data.edge_index[0], data.edge_index[1]
        vol = node_weights(data)
        e = self._mlp(self.edge_encoders[0], edge_inputs(data, self.edge_dim, self.pos_dim))
        graphs = [_sorted(src, dst, e, self._coef(vol, src, dst), n0)]
        lut_prev = torch.arange(n0, device=data.x.device)
        skips, unpool_info = [], []
        for lvl in range(self.levels + 1):
            x, e = self._process(self.down[lvl], x, graphs[lvl])
            graphs[lvl] = graphs[lvl][:2] + (e,) + graphs[lvl][3:]
            if lvl == self.levels:
                break
            skips.append(x)
            x, vol, lut_prev, graph, info = self._pool(data, lvl, x, vol, lut_prev)
            graphs.append(graph)
            unpool_info.append(info)
        for lvl in range(self.levels - 1, -1, -1):
            f_loc, c_loc, cw, ca, nf = unpool_info[lvl]
            m = self._mlp(self.unpool[lvl], torch.cat([x[c_loc], -ca], dim=1))
            up = scatter_sum(m * cw.unsqueeze(1), f_loc, nf)
            skip = skips[lvl]
            x = skip + self._mlp(self.merge[lvl], torch.cat([skip, up], dim=1))
            x, _ = self._process(self.up[lvl], x, graphs[lvl])
        return self._mlp(self.decoder, x)


def _sorted(src: Tensor, dst: Tensor, e: Tensor, coef: Tensor | None, n: int) -> tuple:
    """``(src, dst, e, coef, SortedEdges)`` with the edges sorted by target (CSR order)."""
    srt = SortedEdges(src, dst, n)
    return (srt.src, srt.dst, srt.permute(e), None if coef is None else srt.permute(coef), srt)
