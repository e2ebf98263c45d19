"""Matmul FLOPs of the benchmarks: MeshGraphNet's analytic count and torch's
``FlopCounterMode`` taught the ops it does not know (oneDNN's fused Linear of
:mod:`gnnops.models.fused`, the in-place ``addmm_`` of MeshGraphNet's first layers)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def mgn_flops(n: int, e: int, f_in: int, f_e: int, out: int, lat: int, depth: int,
              split: bool) -> float:
    """Forward matmul FLOPs of MeshGraphNet (2 rows in out per Linear, 2 hidden layers)."""
    def mlp(rows: int, i: int, o: int) -> float:
        return 2.0 * rows * (i * lat + lat * lat + lat * o)
    total = mlp(n, f_in, lat) + mlp(e, f_e, lat) + mlp(n, lat, out)
    edge = (2.0 * e * lat * lat + 2.0 * n * (2 * lat) * lat + 2.0 * e * 2 * lat * lat
            if split else mlp(e, 3 * lat, lat))
    return total + depth * (edge + mlp(n, 2 * lat, lat))


_LINEAR_POINTWISE_COUNTED = False


def _count_linear_pointwise() -> None:
    """Teach FlopCounterMode oneDNN's fused Linear (``gnnops.models.fused``): 2 M K N."""
    global _LINEAR_POINTWISE_COUNTED
    from gnnops.models.fused import fused_available
    fused_available()  # its one-off check runs outside any counter
    if _LINEAR_POINTWISE_COUNTED or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return
    from torch.utils.flop_counter import register_flop_formula

    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
        return 2 * math.prod(x_shape) * w_shape[0]

    @register_flop_formula(torch.ops.aten.addmm_)  # MeshGraphNet's in-place first layer
    def _flops_(s_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]

    _LINEAR_POINTWISE_COUNTED = True


def counted_flops(fn: Callable[[], object]) -> float:
    """Matmul FLOPs torch counts for one call of ``fn`` (oneDNN's fused Linear included)."""
    _count_linear_pointwise()
    with FlopCounterMode(display=False) as fc:
        fn()
    return float(fc.get_total_flops())
