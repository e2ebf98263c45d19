"""Sorted (CSR) aggregation: sum edge rows into their target nodes, and its transpose.

With the edges sorted by target, the sum of edge rows into their targets is the product
of a sparse ``[N, E]`` CSR matrix of ones (row i: the edges into i) with the ``[E, F]``
edge rows. On a CPU it runs as that product (``torch.sparse.mm``,
MKL's sparse kernels: each node row summed by one thread, in edge order, so the result does
not depend on the thread count); elsewhere (CUDA, integers) as a segmented sum
(``torch.segment_reduce`` over the CSR row lengths). The backward of the sum is a gather
(``index_select`` of the output gradient by target). bf16 / fp16 rows (autocast) are
summed in float32 and returned in their dtype. :func:`gather` is the transpose: the rows of
a node tensor at the edges' sources or targets, whose backward (a sum of edge
gradients into nodes, ``index_add_`` in autograd's own backward) runs as the same CSR
product.

Measured on the 2-core dev machine (2 threads, 12,100 nodes, 71,722 edges, 128 channels,
float32, freed memory reused (:mod:`gnnops._malloc`), medians of 9): sum into targets
15.0 ms (``segment_reduce``) / 7.4 ms (``index_add_``) -> 1.4 ms (CSR product); the
backward of a gather by source 5.2 ms (``index_add_``) -> 1.2 ms; in bf16 the sum 19.4 ms
(``segment_reduce``) -> 3.3 ms (CSR product in float32, casts included).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["SortedEdges", "sort_edges", "segment_sum", "range_sum", "gather"]

# dtypes of torch's CPU sparse (CSR) x dense product; bf16 / fp16 go through it in float32
_CSR_DTYPES = (torch.float32, torch.float64)
_VIA_FLOAT32 = (torch.bfloat16, torch.float16)


def _csr_ok(t: Tensor) -> bool:
    """``t`` can go through the CPU CSR product (not under ``torch.compile``, which traces
    the segmented sum / ``index_select`` instead)."""
    return (t.device.type == "cpu" and t.dtype in _CSR_DTYPES + _VIA_FLOAT32
            and t.shape[0] > 0 and not torch.compiler.is_compiling())


def _csr_mm(csr_of: Callable[[torch.dtype], Tensor], dense: Tensor) -> Tensor:
    """``csr @ dense`` for ``dense`` [R, ...] (flattened to 2-D and back), in float32 for
    bf16 / fp16 inputs (summed in float32, returned in the input's dtype)."""
    flat = dense.reshape(dense.shape[0], -1)
    comp = flat if flat.dtype in _CSR_DTYPES else flat.float()
    csr = csr_of(comp.dtype)
    with torch.autocast("cpu", enabled=False):  # autocast would cast the product to bf16
        out = torch.sparse.mm(csr, comp).to(dense.dtype)
    return out.reshape((csr.shape[0],) + tuple(dense.shape[1:]))


def _ones_csr(rowptr: Tensor, cols: Tensor, n_cols: int, dtype: torch.dtype) -> Tensor:
    """``[len(rowptr) - 1, n_cols]`` CSR matrix of ones (indices already valid)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": used as a product only
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rowptr, cols, torch.ones(cols.numel(), dtype=dtype),
                                       size=(rowptr.numel() - 1, n_cols),
                                       check_invariants=False)


def _rowptr(counts: Tensor) -> Tensor:
    """CSR row pointers [R + 1] of row lengths ``counts`` [R]."""
    out = counts.new_zeros(counts.numel() + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=out[1:])
    return out


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
        self._csr: dict[tuple, Tensor] = {}

    def by_target(self, dtype: torch.dtype) -> Tensor:
        """``[N, E]`` CSR matrix of ones: row i picks the (sorted) edges into node i."""
        key = ("dst", dtype)
        if key not in self._csr:
            e = self.dst.numel()
            self._csr[key] = _ones_csr(_rowptr(self.lengths), torch.arange(e), e, dtype)
        return self._csr[key]

    def by_source(self, dtype: torch.dtype, num_src: int) -> Tensor:
        """``[num_src, E]`` CSR matrix of ones: row j picks the (sorted) edges out of j."""
        key = ("src", dtype, num_src)
        if key not in self._csr:
            order = torch.argsort(self.src, stable=True)
            counts = torch.bincount(self.src, minlength=num_src)
            self._csr[key] = _ones_csr(_rowptr(counts), order, self.src.numel(), dtype)
        return self._csr[key]

    def permute(self, edge_values: Tensor) -> Tensor:
        """Rows of a per-edge tensor [E, ...] in sorted order."""
        return edge_values if self.perm is None else edge_values.index_select(0, self.perm)


def sort_edges(src: Tensor, dst: Tensor, num_nodes: int) -> SortedEdges:
    """:class:`SortedEdges` of ``(src, dst)``."""
    return SortedEdges(src, dst, num_nodes)


class _CsrSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, src: Tensor, edges: SortedEdges) -> Tensor:  # type: ignore[override]
        ctx.edges = edges
        return _csr_mm(edges.by_target, src)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad.index_select(0, ctx.edges.dst), None


class _CsrGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor,  # type: ignore[override]
                csr_of: Callable[[torch.dtype], Tensor]) -> Tensor:
        ctx.csr_of = csr_of
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return _csr_mm(ctx.csr_of, grad), None, None


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

    Empty nodes get zeros. Differentiable in ``src`` (the backward is a gather). A CSR
    product on a CPU (bf16 / fp16 summed in float32), a segmented sum otherwise (module
    docstring).
    """
    if not src.is_floating_point():  # segment_reduce: floating types only
        out = src.new_zeros((edges.num_nodes,) + tuple(src.shape[1:]))
        return out.index_add_(0, edges.dst, src)
    if _csr_ok(src):
        return _CsrSum.apply(src, edges)
    return _SegmentSum.apply(src, edges.dst, edges.lengths)


def range_sum(rows: Tensor, targets: Tensor, lo: int, hi: int) -> Tensor:
    """Sum ``rows`` [C, F] into ``hi - lo`` target rows [hi - lo, F] (no autograd).

    ``targets`` [C] are sorted, in ``[lo, hi)``: a chunk of target-sorted edges. A CSR
    product on a CPU (as :func:`segment_sum`), ``index_add_`` otherwise; empty targets get
    zeros.
    """
    n = hi - lo
    if not (_csr_ok(rows) and rows.dim() == 2):
        return rows.new_zeros((n,) + tuple(rows.shape[1:])).index_add_(0, targets - lo, rows)
    rowptr = _rowptr(torch.bincount(targets - lo, minlength=n))
    cols = torch.arange(rows.shape[0], device=rows.device)
    return _csr_mm(lambda dtype: _ones_csr(rowptr, cols, rows.shape[0], dtype), rows)


def gather(x: Tensor, edges: SortedEdges, end: str) -> Tensor:
    """Rows of ``x`` [M, F] at the edges' sources (``end="src"``) or targets (``"dst"``):
    ``x.index_select(0, edges.src | edges.dst)`` [E, F], in ``edges``' sorted order.

    The same values as ``index_select``; on a CPU the backward (the sum of the edge gradients
    into ``x``'s rows) is a CSR product (bf16 / fp16 summed in float32) instead of
    ``index_add_``.
    """
    if end not in ("src", "dst"):
        raise ValueError(f"expected end 'src' or 'dst', got {end!r}")
    index = edges.src if end == "src" else edges.dst
    if not (_csr_ok(x) and x.requires_grad and torch.is_grad_enabled()):
        return x.index_select(0, index)
    if end == "dst" and x.shape[0] != edges.num_nodes:
        raise ValueError(f"expected {edges.num_nodes} target rows, got {x.shape[0]}")
    rows = x.shape[0]
    csr_of = (edges.by_target if end == "dst"
              else lambda dtype: edges.by_source(dtype, rows))
    return _CsrGather.apply(x, index, csr_of)
