"""Out-of-distribution and sanity flags of a prediction.

Each flag is one string ``"<code>: <explanation>"``; codes:

- ``spacing_out_of_range``: mean edge length outside the training range (by more than
  ``SPACING_TOL``, relative); only for models that are not resolution-independent (a
  model whose ``resolution_independent`` attribute is true, e.g. the GNO with its physical
  radius and quadrature weights, approximates the same operator on every mesh);
- ``input_out_of_range``: an input column's values leave the training range (by more
  than ``INPUT_TOL`` of the range's width);
- ``too_many_nodes`` / ``too_few_nodes``: more than ``NODES_FACTOR`` x the largest (or
  fewer than 1 / ``NODES_FACTOR`` x the smallest) training graph;
- ``non_finite_input`` / ``non_finite_output``: NaN or inf values;
- ``duplicate_points``: mesh points used by the cells sit where another used point is (a
  mesh exported without merging its nodes: the graph is cut there), with the count.

The training ranges come from the recipe's ``train_stats`` (``nodes_min``,
``nodes_max``, ``spacing_min``, ``spacing_max``, ``input_min``, ``input_max``); a
statistic that is absent is not checked. With a verified error estimate these
training-range codes become notes and the estimate decides (:mod:`gnnops.inference.trust`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from gnnops.surrogate.recipe import TrainStats

__all__ = ["SPACING_TOL", "INPUT_TOL", "NODES_FACTOR", "mean_spacing", "compute_flags"]

SPACING_TOL = 0.1
INPUT_TOL = 0.01
NODES_FACTOR = 4.0


def mean_spacing(data: Data) -> float | None:
    """Mean edge length of a mesh graph (``None`` without ``pos`` or edges)."""
    pos = getattr(data, "pos", None)
    ei = getattr(data, "edge_index", None)
    if pos is None or ei is None or ei.shape[1] == 0:
        return None
    ea = getattr(data, "edge_attr", None)
    if ea is not None and ea.dim() == 2 and ea.shape[1] == pos.shape[1] + 1:
        return float(ea[:, -1].double().mean())
    return float((pos[ei[1]] - pos[ei[0]]).double().norm(dim=1).mean())


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def compute_flags(
    data: Data,
    outputs: torch.Tensor | np.ndarray | None,
    train_stats: TrainStats | Mapping[str, Any] | None,
    *,
    kind: str = "mesh",
    input_names: Sequence[str] = (),
    input_dims: Sequence[int] = (),
    resolution_independent: bool = False,
) -> list[str]:
    """Flags of one prediction.

    Args:
        data: raw graph; ``x`` [N, F_in] raw inputs.
        outputs: predicted [N, F_out] (or ``None`` before the model ran).
        train_stats: the recipe's training statistics (``recipe.train_stats``, or a mapping
            of the same names).
        kind: ``"mesh"`` (spacing checked) or ``"network"``.
        input_names: names of the raw inputs (for messages).
        input_dims: widths of the raw inputs.
        resolution_independent: the model is resolution-independent (no spacing check).

    Returns:
        The flag strings, empty when the prediction is in distribution.
    """
    st = (dataclasses.asdict(train_stats) if isinstance(train_stats, TrainStats)
          else dict(train_stats or {}))
    flags = _size_flags(int(data.num_nodes), st)
    if kind == "mesh" and not resolution_independent:
        flags += _spacing_flag(data, st)
    flags += _input_flags(data, st, input_names, input_dims)
    if kind == "mesh":
        flags += _duplicate_flag(data)
    if outputs is not None:
        out = torch.as_tensor(outputs)
        if not bool(torch.isfinite(out).all()):
            bad = int((~torch.isfinite(out)).any(dim=-1).sum()) if out.dim() > 1 else -1
            flags.append(f"non_finite_output: {bad} nodes have NaN or inf predictions")
    return flags


def _size_flags(n: int, st: Mapping[str, Any]) -> list[str]:
    """``too_many_nodes`` / ``too_few_nodes`` against the training graphs' node counts."""
    flags = []
    if st.get("nodes_max") and n > NODES_FACTOR * float(st["nodes_max"]):
        flags.append(f"too_many_nodes: {n} nodes, more than {NODES_FACTOR:g}x the largest "
                     f"training graph ({int(st['nodes_max'])})")
    if st.get("nodes_min") and n < float(st["nodes_min"]) / NODES_FACTOR:
        flags.append(f"too_few_nodes: {n} nodes, fewer than 1/{NODES_FACTOR:g} of the smallest "
                     f"training graph ({int(st['nodes_min'])})")
    return flags


def _spacing_flag(data: Data, st: Mapping[str, Any]) -> list[str]:
    """``spacing_out_of_range`` when the mean edge length leaves the training range."""
    if st.get("spacing_min") is None or st.get("spacing_max") is None:
        return []
    h = mean_spacing(data)
    lo, hi = float(st["spacing_min"]), float(st["spacing_max"])
    if h is None or lo * (1 - SPACING_TOL) <= h <= hi * (1 + SPACING_TOL):
        return []
    return [f"spacing_out_of_range: mean edge length {_fmt(h)} outside the training range "
            f"[{_fmt(lo)}, {_fmt(hi)}]"]


def _input_flags(data: Data, st: Mapping[str, Any], input_names: Sequence[str],
                 input_dims: Sequence[int]) -> list[str]:
    """``non_finite_input`` and one ``input_out_of_range`` per input column that leaves
    its training range."""
    x = getattr(data, "x", None)
    if x is None or not x.numel():
        return []
    flags = []
    xd = x.double()
    if not bool(torch.isfinite(xd).all()):
        flags.append("non_finite_input: the inputs contain NaN or inf")
    cols = _column_names(input_names, input_dims, x.shape[1])
    lo_s, hi_s = st.get("input_min"), st.get("input_max")
    if lo_s is not None and hi_s is not None and len(lo_s) == x.shape[1] == len(hi_s):
        lo, hi = np.asarray(lo_s, float), np.asarray(hi_s, float)
        tol = INPUT_TOL * np.maximum(hi - lo, np.maximum(np.abs(hi), np.abs(lo)) * 1e-6)
        xmin = xd.nan_to_num(np.inf).min(0).values.numpy()
        xmax = xd.nan_to_num(-np.inf).max(0).values.numpy()
        for c in np.flatnonzero((xmin < lo - tol) | (xmax > hi + tol)):
            flags.append(f"input_out_of_range: '{cols[c]}' spans [{_fmt(xmin[c])}, "
                         f"{_fmt(xmax[c])}], training range [{_fmt(lo[c])}, {_fmt(hi[c])}]")
    return flags


def _duplicate_flag(data: Data) -> list[str]:
    """``duplicate_points`` when cells use coincident points (see
    :func:`gnnops.graphs.mesh.coincident_points`)."""
    from gnnops.graphs.mesh import coincident_points

    pos = getattr(data, "pos", None)
    ci = getattr(data, "cell_index", None)
    cells = [ci.t()] if ci is not None else [c for _, c in getattr(data, "mesh_cells", [])]
    if pos is None or not cells:
        return []
    k = coincident_points(pos.double(), cells)
    if not k:
        return []
    return [f"duplicate_points: {k} mesh points used by the cells coincide with another "
            f"used point (nodes not merged: the graph is cut there); merge duplicate nodes "
            f"before predicting"]


def _column_names(names: Sequence[str], dims: Sequence[int], width: int) -> list[str]:
    cols: list[str] = []
    for name, d in zip(names, dims, strict=False):
        cols += [name] if d == 1 else [f"{name}[{i}]" for i in range(d)]
    return cols if len(cols) == width else [f"x[{i}]" for i in range(width)]
