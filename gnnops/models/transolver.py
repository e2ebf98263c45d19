"""Physics-attention operator on mesh points (Transolver, Wu et al. 2024), quadrature-weighted.

Each block projects every node onto ``slices`` learned "physical states" per head:

    s_jm   = softmax_m( W_s h_j / tau )                       slice weights, sum_m s_jm = 1
    z_m    = sum_j w_j s_jm (W_v h_j) / sum_j w_j s_jm         slice tokens (per graph)
    z'     = MultiHeadSelfAttention(z)                        among the M tokens
    h_j   += W_o sum_m s_jm z'_m                              back onto the nodes
    h_j   += MLP(LayerNorm(h_j))

``w_j`` is ``node_volume`` (lumped mass; 1 on networks), so a slice token is a quadrature of
an integral over the domain: it converges as the mesh is refined and the model is
resolution independent (Transolver's plain sum over points is not). Attention is global
over tokens, so the cost is linear in the number of nodes, and inference on large meshes
streams nodes in chunks (``chunk`` rows at a time, two passes per block), so memory beyond
the ``[N, width]`` latent is one chunk.

Across ranks (:mod:`gnnops.inference.distributed_predict`) every node-wise step is local
and the only global quantities are sums over nodes -- the slice tokens' numerators and
denominators and the quadrature weights' total -- so a mesh split into parts (no halo) gives
the one-process result when those sums are all-reduced: the runtime attribute
``dist_reduce`` (a callable summing a list of tensors in place over the ranks; ``None``:
one process) does that, one all-reduce per block.

Inputs: ``data.x`` [N, F_in], ``data.pos`` [N, d] (lifted with random Fourier features of
``fourier`` frequencies, fixed at construction from ``seed``), ``data.node_volume`` [N]
optional, ``data.batch`` [N] optional (graphs of a batch attend separately).
Output: [N, out_channels].
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.base import GraphModel, check_positive, map_rows, node_weights
from gnnops.models.mlp import MLP

__all__ = ["Transolver", "PhysicsAttentionBlock"]


class PhysicsAttentionBlock(nn.Module):
    """One Transolver block on ``[N, width]`` latents (see the module docstring)."""

    def __init__(self, width: int, heads: int, slices: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        if width % heads:
            raise ModelError(f"expected width divisible by heads (got width={width}, "
                             f"heads={heads})")
        self.heads, self.slices, self.dim = heads, slices, width // heads
        self.norm1 = nn.LayerNorm(width)
        self.to_logits = nn.Linear(width, heads * slices)
        self.to_value = nn.Linear(width, width)
        self.log_tau = nn.Parameter(torch.zeros(heads))  # temperature per head
        self.attn = nn.MultiheadAttention(self.dim, 1, batch_first=True)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(),
                                 nn.Linear(mlp_ratio * width, width))

    def _slices(self, h: Tensor) -> Tensor:
        """Slice weights ``[n, H, M]`` of normalized latents ``h`` [n, width]."""
        logits = self.to_logits(h).view(-1, self.heads, self.slices)
        tau = torch.exp(self.log_tau).clamp(0.05, 20.0).view(1, -1, 1)
        return torch.softmax(logits / tau, dim=-1)

    def forward(self, x: Tensor, w: Tensor, batch: Tensor, num_graphs: int,
                chunk: int, reduce: Any = None) -> Tensor:
        """``x`` [N, width], quadrature weights ``w`` [N], graph ids ``batch`` [N] -> [N, width].

        ``reduce``: sums a list of tensors in place over ranks (this rank's nodes are a part
        of one graph), see the module docstring."""
        n, hd, m, d = x.shape[0], self.heads, self.slices, self.dim
        num = x.new_zeros(num_graphs, hd, m, d)
        den = x.new_zeros(num_graphs, hd, m)
        one_pass = n <= chunk  # training and small meshes: keep the slice weights for pass 2
        for s in range(0, n, chunk):  # pass 1: slice tokens (volume-weighted means)
            h = self.norm1(x[s:s + chunk])
            sl = self._slices(h)  # [n, H, M]
            sw = sl * w[s:s + chunk].view(-1, 1, 1)
            v = self.to_value(h).view(-1, hd, d)
            b = batch[s:s + chunk]
            # per graph (PyG batches are contiguous): sum_j sw_jhm v_jhd without an
            # [n, H, M, D] intermediate
            ids, counts = torch.unique_consecutive(b, return_counts=True)
            for g, sw_g, v_g in zip(ids.tolist(), sw.split(counts.tolist()),
                                    v.split(counts.tolist()), strict=True):
                num[g] = num[g] + torch.einsum("nhm,nhd->hmd", sw_g, v_g)
                den[g] = den[g] + sw_g.sum(0)
        if reduce is not None:
            reduce([num, den])
        z = num / den.clamp_min(1e-12).unsqueeze(-1)  # [B, H, M, D]
        zt = z.reshape(num_graphs * hd, m, d)
        z = (zt + self.attn(zt, zt, zt, need_weights=False)[0]).view(num_graphs, hd, m, d)
        # without autograd, a streamed pass 2 overwrites x chunk by chunk: chunk s reads only
        # its own rows (the tokens z are already global), so no second [N, width] exists
        inplace = not one_pass and not torch.is_grad_enabled()
        outs = []
        for s in range(0, n, chunk):  # pass 2: back onto the nodes, then the MLP
            xc = x[s:s + chunk]
            if not one_pass:
                sl = self._slices(self.norm1(xc))  # [n, H, M], recomputed per chunk
            ids, counts = torch.unique_consecutive(batch[s:s + chunk], return_counts=True)
            back = torch.cat([torch.einsum("nhm,hmd->nhd", sl_g, z[g]) for g, sl_g in
                              zip(ids.tolist(), sl.split(counts.tolist()), strict=True)])
            back = back.reshape(-1, hd * d)
            new = xc + self.out(back)
            new = new + self.mlp(self.norm2(new))
            if inplace:
                xc.copy_(new)
            else:
                outs.append(new)
        if inplace:
            return x
        return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


class Transolver(GraphModel):
    """Physics-attention neural operator on mesh nodes, quadrature-weighted.

    Args:
        in_channels: input fields per node ``F_in``.
        out_channels: output fields per node.
        edge_dim: accepted for the common contract; unused (attention is over slices).
        pos_dim: coordinate dimension ``d`` (>= 1; the model needs ``pos``).
        width: latent width.
        depth: number of physics-attention blocks.
        heads: attention heads (``width`` divisible by ``heads``).
        slices: physical-state slices per head.
        fourier: random Fourier features of ``pos`` (0 = raw coordinates only).
        fourier_scale: standard deviation of the Fourier frequencies (domain units^-1).
        chunk: nodes per chunk in the two streaming passes of each block.
        seed: seed of the Fourier frequencies.
    """

    name = "transolver"
    # slice tokens are volume-weighted quadratures: the same operator on every mesh, so
    # prediction raises no spacing flag for it (gnnops.inference.trust)
    resolution_independent = True
    reads_edges = False  # prediction builds mesh graphs without edges for it

    def __init__(self, *, in_channels: int, out_channels: int, edge_dim: int = 0,
                 pos_dim: int = 2, width: int = 64, depth: int = 4, heads: int = 4,
                 slices: int = 32, fourier: int = 16, fourier_scale: float = 2.0,
                 chunk: int = 65536, seed: int = 0) -> None:
        check_positive(width=width, depth=depth, heads=heads, slices=slices, chunk=chunk,
                       pos_dim=pos_dim)
        if width > 4096 or depth > 64 or slices > 1024 or not 0 <= fourier <= 1024:
            raise ModelError(f"transolver size out of range (width={width} <= 4096, "
                             f"depth={depth} <= 64, slices={slices} <= 1024, "
                             f"fourier={fourier} <= 1024)")
        super().__init__(in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
                         pos_dim=pos_dim, width=width, depth=depth, heads=heads, slices=slices,
                         fourier=fourier, fourier_scale=float(fourier_scale), chunk=chunk,
                         seed=seed)
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("freqs", torch.randn(pos_dim, fourier, generator=gen)
                             * float(fourier_scale) * 2 * math.pi)
        lift_in = in_channels + pos_dim + 2 * fourier
        self.lift = MLP(lift_in, width, 2 * width, hidden_layers=1, layer_norm=False)
        self.blocks = nn.ModuleList(PhysicsAttentionBlock(width, heads, slices)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = MLP(width, out_channels, width, hidden_layers=1, layer_norm=False)
        self.chunk = chunk
        self.dist_reduce: Any = None  # runtime (distributed prediction), not saved

    def forward(self, data: Data) -> Tensor:
        """``data`` (x [N, F_in], pos [N, d], optional node_volume, batch) -> [N, F_out]."""
        self.check_data(data, need_pos=True)
        x, pos = data.x, data.pos.to(data.x.dtype)
        n = x.shape[0]
        # inference on a large graph: lift, blocks and head stream chunks, so besides the
        # [N, width] latent only one chunk's temporaries exist
        stream = not torch.is_grad_enabled() and n > self.chunk
        h = (map_rows(lambda rows: self._lift(x[rows], pos[rows]), n, self.chunk,
                      self.lift[-1].out_features, x) if stream else self._lift(x, pos))
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        num_graphs = int(batch.max()) + 1 if batch.numel() else 1
        w = node_weights(data)
        total = torch.stack([w.sum(), w.new_tensor(float(x.shape[0]))])
        reduce = self.dist_reduce
        if reduce is not None:
            if num_graphs != 1:
                raise ModelError(f"distributed transolver expects one graph per rank, got "
                                 f"{num_graphs}")
            reduce([total])
        w = w / total[0].clamp_min(1e-30) * total[1]  # O(1) scale; the means are unchanged
        chunk = self.chunk if not torch.is_grad_enabled() else max(self.chunk, x.shape[0])
        for block in self.blocks:
            h = block(h, w, batch, num_graphs, chunk, reduce)
        if not stream:
            return self.head(self.norm(h))
        return map_rows(lambda rows: self.head(self.norm(h[rows])), n, self.chunk,
                        self.head[-1].out_features, x)

    def _lift(self, x: Tensor, pos: Tensor) -> Tensor:
        """``[x, pos, sin(pos F), cos(pos F)]`` lifted: [n, F_in], [n, d] -> [n, width]."""
        feats = [x, pos]
        if self.freqs.shape[1]:
            ang = pos @ self.freqs.to(x.dtype)
            feats += [torch.sin(ang), torch.cos(ang)]
        return self.lift(torch.cat(feats, dim=1))
