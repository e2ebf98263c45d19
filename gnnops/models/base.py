"""Common base of gnnops models: stored constructor arguments, input checks, ``prepare``.

A model is rebuilt from its artifact as ``build(name, **model.config())`` followed by
``load_state_dict``; ``config()`` therefore returns only plain JSON-able values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ModelError

__all__ = ["GraphModel", "check_positive", "device_chunk", "GPU_CHUNK_FACTOR", "map_rows"]

# Rows per chunk of an in-place inference path are sized for a CPU's caches (e.g. 8192
# edges x 128 latents = 4 MiB of fp32 per temporary). On a GPU such a chunk is a few
# microseconds of work and the loop becomes launch-bound (H200, 538k edges, 15 x 128:
# inference 3.2x slower than the unchunked PyG layers, benchmarks/results/gpu_peers.txt),
# so there the chunk is this many times larger (256 MiB per temporary): memory stays
# bounded, and a mesh of fewer edges than one chunk runs in one pass.
GPU_CHUNK_FACTOR = 64


def check_positive(**values: Any) -> None:
    """Raise ``ModelError`` unless every given value is an int >= 1 (bool excluded)."""
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ModelError(f"expected {key} to be an integer >= 1 (got {v!r})")


def device_chunk(chunk: int, device: torch.device) -> int:
    """Rows per inference chunk on ``device``: ``chunk`` on a CPU, ``GPU_CHUNK_FACTOR``
    times it elsewhere (CUDA); 0 (no chunking) stays 0."""
    return chunk if device.type == "cpu" else chunk * GPU_CHUNK_FACTOR


def map_rows(fn: Callable[[slice], Tensor], n: int, chunk: int, width: int,
             like: Tensor) -> Tensor:
    """``[n, width]`` rows ``fn(rows)`` computed ``chunk`` rows at a time into one output
    (dtype and device of ``like``): inference of a row-wise map without its full-size
    temporaries."""
    out = like.new_empty(n, width)
    for s in range(0, n, chunk):
        out[s:s + chunk] = fn(slice(s, s + chunk))
    return out


class GraphModel(nn.Module):
    """Base class: keeps ``init_kwargs`` and validates the ``Data`` a model receives.

    Subclasses call ``super().__init__(**kwargs)`` with every constructor argument.

    Attributes:
        name: registry name of the model.
        init_kwargs: the constructor arguments (JSON-able).
    """

    name: str = ""

    def __init__(self, *, in_channels: int, out_channels: int, edge_dim: int, pos_dim: int,
                 **kwargs: Any) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels)
        for key, v in (("edge_dim", edge_dim), ("pos_dim", pos_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ModelError(f"expected {key} to be an integer >= 0 (got {v!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.edge_dim = edge_dim
        self.pos_dim = pos_dim
        self.init_kwargs: dict[str, Any] = dict(
            in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
            pos_dim=pos_dim, **kwargs,
        )

    def config(self) -> dict[str, Any]:
        """Constructor arguments: ``build(model.name, **model.config())`` rebuilds the model."""
        return copy.deepcopy(self.init_kwargs)

    def prepare(self, data: Data) -> Data:
        """Attach the extra graphs the model needs (none by default); returns ``data``."""
        return data

    # ------------------------------------------------------------------ checks
    def check_data(self, data: Data, *, need_pos: bool = False) -> None:
        """Raise ``ModelError`` if ``data`` does not match the constructor's widths."""
        x = getattr(data, "x", None)
        if x is None or x.dim() != 2 or x.shape[1] != self.in_channels:
            got = None if x is None else list(x.shape)
            raise ModelError(f"expected data.x of shape [N, {self.in_channels}] (got {got})")
        if self.edge_dim > 0:
            ea = getattr(data, "edge_attr", None)
            ne = data.edge_index.shape[1]
            if ea is None or ea.dim() != 2 or ea.shape != (ne, self.edge_dim):
                got = None if ea is None else list(ea.shape)
                raise ModelError(
                    f"expected data.edge_attr of shape [{ne}, {self.edge_dim}] (got {got})"
                )
        if need_pos or self.pos_dim > 0:
            pos = getattr(data, "pos", None)
            want = self.pos_dim if self.pos_dim > 0 else "d"
            if pos is None or pos.dim() != 2 or (self.pos_dim > 0 and pos.shape[1] != self.pos_dim):
                got = None if pos is None else list(pos.shape)
                raise ModelError(f"expected data.pos of shape [N, {want}] (got {got})")


def node_weights(data: Data) -> Tensor:
    """``data.node_volume`` [N] if present, else ones [N] (networks)."""
    w = getattr(data, "node_volume", None)
    if w is None:
        return torch.ones(data.num_nodes, dtype=data.x.dtype, device=data.x.device)
    return w.to(data.x.dtype)
