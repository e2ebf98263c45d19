"""Linear + ReLU in one pass over the output (oneDNN), with the same backward as autograd's.

``relu(F.linear(x, W, b))`` writes the ``[R, H]`` product (after copying the bias into it,
as ``addmm`` does) and then reads and writes it again for the ReLU. oneDNN's fused kernel
(``torch.ops.mkldnn._linear_pointwise`` with the ``"relu"`` post-op, the kernel inductor
uses on CPUs) adds the bias and applies the ReLU while the GEMM's output tile is in cache.
The backward is autograd's own for the two ops: the ReLU mask from the output, then the
two products and the bias sum; the input gradient ``gh W`` is oneDNN's Linear of ``gh``
with the weight ``W^T`` (:data:`ONEDNN_INPUT_GRAD`), and so is ``grad b^T`` in the backward
of :func:`addmm_into` (the first edge layer's ``out += e W_e^T``). On the 2-core AMD EPYC
VM (2 threads, ``[71722, 128]`` by ``[128, 128]``, medians of 15) that product takes 15.0 ms
in oneDNN against 19.9 - 24.6 ms in ``torch.mm`` (MKL), and the MeshGraphNet 15 x 128 train
step 3.88 s against 4.23 s (14 interleaved rounds, median ratio 0.94); on the Intel VM the
two kernels took about the same time per call (13.0 ms ``mm``, 14.0 ms oneDNN with bias and
ReLU, ``benchmarks/results/step_breakdown_2026-12-01.txt``). The weight gradient stays
``gh^T x`` in ``torch.mm`` (oneDNN: 27 - 31 ms against 17 - 18 ms there).

Used on a CPU in float32 outside autocast and ``torch.compile`` with at least
:data:`MIN_ROWS` rows, where the op exists (torch built with oneDNN; checked once against
``relu(F.linear)``); everywhere else ``relu(F.linear)``. Measured on the 2-core dev
machine (2 threads, ``[71722, 128]`` by ``[128, 128]``, medians of 9): 18.7 ms unfused,
11.8 ms fused.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["linear", "linear_relu", "addmm_into", "fused_available", "MIN_ROWS"]

MIN_ROWS = 1024  # below this the op's fixed cost outweighs one pass over the output
# the input gradient ``gh W`` [R, in] by oneDNN's Linear as well (a switch for benchmarks)
ONEDNN_INPUT_GRAD = True

_available: bool | None = None


def _fused(x: Tensor, weight: Tensor, bias: Tensor | None, act: str = "relu") -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, act, [], "")


def fused_available() -> bool:
    """oneDNN's fused Linear + ReLU exists here and equals ``relu(F.linear)`` (checked once)."""
    global _available
    if _available is None:
        try:
            g = torch.Generator().manual_seed(0)
            x = torch.randn(64, 8, generator=g)
            w, b = torch.randn(16, 8, generator=g), torch.randn(16, generator=g)
            _available = bool(torch.backends.mkldnn.is_available()) and torch.allclose(
                _fused(x, w, b), torch.relu(F.linear(x, w, b)), rtol=1e-5, atol=1e-5
            ) and torch.allclose(_fused(x, w, b, "none"), F.linear(x, w, b), rtol=1e-5,
                                 atol=1e-5)
        except (RuntimeError, AttributeError, NotImplementedError):
            _available = False
    return _available


class _Linear(torch.autograd.Function):
    """``x W^T + b`` (``relu`` of it when ``act == "relu"``) with the bias (and the ReLU)
    applied by the GEMM kernel."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None,  # type: ignore[override]
                act: str) -> Tensor:
        y = _fused(x, weight, bias, act)
        ctx.save_for_backward(x, weight, y if act == "relu" else None)
        ctx.has_bias = bias is not None
        ctx.onednn_gx = ONEDNN_INPUT_GRAD  # the switch as at forward time, like addmm_into
        return y

    @staticmethod
    def backward(ctx, grad: Tensor  # type: ignore[override]
                 ) -> tuple[Tensor | None, Tensor | None, Tensor | None, None]:
        x, weight, y = ctx.saved_tensors
        gh = grad if y is None else torch.ops.aten.threshold_backward(grad, y, 0.0)
        gx = None
        if ctx.needs_input_grad[0]:  # gh W as oneDNN's Linear of gh with the weight W^T
            gx = (_fused(gh, weight.t().contiguous(), None, "none")
                  if ctx.onednn_gx and gh.is_contiguous() else gh @ weight)
        gw = gh.t() @ x if ctx.needs_input_grad[1] else None
        gb = gh.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


class _AddmmInto(torch.autograd.Function):
    """``out += a @ b`` in place, the input gradient ``grad b^T`` by oneDNN's Linear."""

    @staticmethod
    def forward(ctx, out: Tensor, a: Tensor, b: Tensor) -> Tensor:  # type: ignore[override]
        ctx.mark_dirty(out)
        ctx.save_for_backward(a, b)
        return out.addmm_(a, b)

    @staticmethod
    def backward(ctx, grad: Tensor  # type: ignore[override]
                 ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[1]:
            ga = (_fused(grad, b.contiguous(), None, "none") if grad.is_contiguous()
                  else grad @ b.t())
        if ctx.needs_input_grad[2]:
            gb = a.t() @ grad
        return grad, ga, gb


def _cpu_float32(x: Tensor, weight: Tensor) -> bool:
    # not under torch.compile: inductor fuses Linear + ReLU itself, and lowers this op only
    # for frozen (constant) weights
    return (x.device.type == "cpu" and x.dim() == 2 and x.shape[0] >= MIN_ROWS
            and x.dtype == weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling()
            and fused_available())


def _usable(x: Tensor, weight: Tensor) -> bool:
    # a strided weight (e.g. a column slice) sends oneDNN to a slow path: 2.7 s instead of
    # 4.3 ms for [12100, 128] x [128, 128] on the AMD VM, so those take F.linear
    return weight.is_contiguous() and _cpu_float32(x, weight)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``F.linear(x, weight, bias)`` for ``x`` [R, in] -> [R, out] (bias in the GEMM where
    it can)."""
    if _usable(x, weight):
        return _Linear.apply(x, weight, bias, "none")
    return F.linear(x, weight, bias)


def addmm_into(out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``out + a @ b`` for ``out`` [R, n], ``a`` [R, k], ``b`` [k, n], accumulated into
    ``out`` in place (an out-of-place ``addmm`` copies ``out`` first) when the dtypes agree,
    with the backward's ``grad b^T`` by oneDNN where :func:`linear` would use it;
    ``torch.addmm`` otherwise (autocast casts its operands, an in-place op would not)."""
    if not out.dtype == a.dtype == b.dtype:
        return torch.addmm(out, a, b)
    if (ONEDNN_INPUT_GRAD and torch.is_grad_enabled() and a.requires_grad
            and _cpu_float32(a, b)):  # the backward passes oneDNN b made contiguous
        return _AddmmInto.apply(out, a, b)
    return out.addmm_(a, b)


def linear_relu(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``relu(F.linear(x, weight, bias))`` for ``x`` [R, in] -> [R, out] (fused where it can)."""
    if _usable(x, weight):
        return _Linear.apply(x, weight, bias, "relu")
    return torch.relu_(F.linear(x, weight, bias))
