"""Matmul FLOPs of the benchmarks: MeshGraphNet's analytic count and torch's
``FlopCounterMode`` taught the ops it does not know (oneDNN's fused Linear of
:mod:`gnnops.models.fused`, the in-place ``addmm_`` of MeshGraphNet's first layers)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula


def mgn_flops(n: int, e: int, f_in: int, f_e: int, out: int, lat: int, depth: int,
              split: bool) -> float:
    """Forward matmul FLOPs of MeshGraphNet (2 rows in out per Linear, 2 hidden layers)."""
    def mlp(rows: int, i: int, o: int) -> float:
        return 2.0 * rows * (i * lat + lat * lat + lat * o)
    total = mlp(n, f_in, lat) + mlp(e, f_e, lat) + mlp(n, lat, out)
    edge = (2.0 * e * lat * lat + 2.0 * n * (2 * lat) * lat + 2.0 * e * 2 * lat * lat
            if split else mlp(e, 3 * lat, lat))
    return total + depth * (edge + mlp(n, 2 * lat, lat))


# FlopCounterMode has no formula for these two: 2 M K N each, registered once on import
if hasattr(torch.ops.mkldnn, "_linear_pointwise"):  # oneDNN's fused Linear (+ ReLU)
    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _linear_pointwise_flops(x_shape, w_shape, *args, out_shape=None,  # noqa: ANN001
                                **kwargs) -> int:
        return 2 * math.prod(x_shape) * w_shape[0]


@register_flop_formula(torch.ops.aten.addmm_)  # MeshGraphNet's in-place first layers
def _addmm_inplace_flops(s_shape, a_shape, b_shape, *args, out_shape=None,  # noqa: ANN001
                         **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def counted_flops(fn: Callable[[], object]) -> float:
    """Matmul FLOPs torch counts for one call of ``fn`` (oneDNN's fused Linear included)."""
    from gnnops.models.fused import fused_available

    fused_available()  # its one-off check against the unfused ops runs outside the counter
    with FlopCounterMode(display=False) as fc:
        fn()
    return float(fc.get_total_flops())
