"""The graph recipe applied to one graph: raw inputs -> the model-ready ``Data``.

:func:`prepare_graph` is the one place where training and inference turn a raw graph (``x``
= the physical inputs) into what the model reads: the scaling law's rescaled inputs, the
derived features of :data:`~gnnops.surrogate.recipe.FEATURES` appended to ``x``, the
``wall_distance`` of the smooth Dirichlet factor, then the model's own ``prepare`` (radius
graphs, hierarchies). :func:`with_whole_graph_fields` sets the fields that belong to a
whole mesh before it is split into partitions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ConfigError, GraphError
from gnnops.surrogate.recipe import FEATURES, Recipe, as_recipe

__all__ = ["prepare_graph", "feature_width", "needs_wall_distance", "wall_distance_of",
           "dirichlet_distance_of", "with_whole_graph_fields"]


def feature_width(name: str, data: Data, recipe: Recipe) -> int:
    """Number of ``x`` columns the derived feature ``name`` adds for ``data``."""
    if name == "pos":
        return 0 if data.pos is None else int(data.pos.shape[1])
    if name == "node_type_onehot":
        return int(recipe.num_node_types)
    return 1


def _feature(name: str, data: Data, recipe: Recipe) -> Tensor:
    n = data.num_nodes
    if name == "pos":
        if data.pos is None:
            raise GraphError("feature 'pos' expected data.pos of shape [N, d] (got None)")
        return data.pos.float()
    if name == "boundary":
        b = getattr(data, "boundary", None)
        return torch.zeros(n, 1) if b is None else b.reshape(n, 1).float()
    if name == "node_volume":
        v = getattr(data, "node_volume", None)
        return torch.ones(n, 1) if v is None else v.reshape(n, 1).float()
    if name == "wall_distance":
        return wall_distance_of(data).reshape(n, 1).float()
    if name == "fidelity":  # 1 = reference targets; what prediction asks for
        return torch.full((n, 1), float(getattr(data, "fidelity", 1.0)))
    if name == "node_type_onehot":
        k = int(recipe.num_node_types)
        t = getattr(data, "node_type", None)
        if t is None:
            t = getattr(data, "boundary", torch.zeros(n, dtype=torch.bool)).long()
        return torch.nn.functional.one_hot(t.long().clamp(0, k - 1), k).float()
    raise ConfigError(f"unknown feature {name!r} in data.features; expected one of: "
                      f"{', '.join(FEATURES)}")


def prepare_graph(data: Data, recipe: Recipe | Mapping[str, Any], *,
                  model: nn.Module | None = None) -> Data:
    """Model-ready copy of ``data``: ``x`` = [raw inputs, derived features], then ``model.prepare``.

    Args:
        data: a graph whose ``x`` [N, sum(input_dims)] holds the raw (physical-unit) inputs
            in ``recipe.inputs`` order (``x`` may be absent when there are no inputs).
        recipe: the graph recipe (a mapping is read by :meth:`Recipe.from_json`).
        model: when given, its ``prepare(data)`` (radius graphs, hierarchies) is applied.

    Returns:
        A new ``Data`` with ``x`` [N, sum(input_dims) + derived widths]; ``data`` is unchanged.

    Raises:
        GraphError: ``x`` has the wrong width; ConfigError: an unknown feature name.
    """
    recipe = as_recipe(recipe)
    n_in = int(sum(recipe.input_dims))
    out = data.clone()
    n = out.num_nodes
    x = getattr(out, "x", None)
    if x is None:
        x = torch.zeros(n, 0)
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if x.shape != (n, n_in):
        raise GraphError(f"expected data.x of shape [{n}, {n_in}] (raw inputs "
                         f"{recipe.inputs}) (got {list(x.shape)})")
    x = x.float()
    if recipe.scaling:
        from gnnops.surrogate.scaling import apply_scaling

        scales = getattr(out, "input_scale", None)
        if scales is None:
            from gnnops.surrogate.scaling import input_scales

            scales = input_scales(out, recipe)
        x, out.out_scale = apply_scaling(x, scales.reshape(-1), recipe)
        out.input_scale = scales.reshape(1, -1)
    if needs_wall_distance(recipe):
        out.wall_distance = wall_distance_of(out)
    if needs_dirichlet_distance(recipe):
        out.dirichlet_distance = dirichlet_distance_of(out, recipe)
    cols = [x] + [_feature(f, out, recipe) for f in recipe.features]
    out.x = torch.cat(cols, dim=1)
    if model is not None:
        _check_model_widths(out, model)
    if model is not None and hasattr(model, "prepare"):
        out = model.prepare(out)
    return out


def needs_wall_distance(recipe: Recipe) -> bool:
    """Whether prepared graphs carry ``wall_distance`` [N] (a feature or the Dirichlet factor
    on the whole boundary)."""
    return "wall_distance" in recipe.features or (
        recipe.hard_dirichlet and recipe.dirichlet_length > 0 and recipe.dirichlet_set is None)


def needs_dirichlet_distance(recipe: Recipe) -> bool:
    """Whether prepared graphs carry ``dirichlet_distance`` [N] (u = 0 on the problem's part
    of the boundary only)."""
    return recipe.hard_dirichlet and recipe.dirichlet_set == "problem"


def dirichlet_distance_of(data: Data, recipe: Recipe) -> Tensor:
    """[N] distance to the nodes where the problem prescribes u = 0
    (``Problem.zero_dirichlet_nodes``; ``data.dirichlet_distance`` when already set)."""
    d = getattr(data, "dirichlet_distance", None)
    if d is not None:
        return d.reshape(-1)
    from gnnops.graphs.wall_distance import wall_distance
    from gnnops.problems import get

    prob = get(str(recipe.problem), **dict(recipe.problem_options or {}))
    mask = torch.as_tensor(prob.zero_dirichlet_nodes(data), dtype=torch.bool)
    return wall_distance(data, mask=mask)


def wall_distance_of(data: Data) -> Tensor:
    """``data.wall_distance`` [N] when present (set on a whole mesh before it is split into
    partitions, whose cut is no wall), else computed from ``pos`` and ``boundary``."""
    d = getattr(data, "wall_distance", None)
    if d is not None:
        return d.reshape(-1)
    from gnnops.graphs.wall_distance import wall_distance

    return wall_distance(data)


def with_whole_graph_fields(data: Data, recipe: Recipe) -> Data:
    """``data`` with the fields that belong to the whole graph set before it is split into
    partitions (each part's own values would differ): the scaling law's ``input_scale``,
    ``wall_distance`` and ``dirichlet_distance``. A shallow copy when something is added;
    else ``data`` itself."""
    add: dict[str, Tensor] = {}
    if recipe.scaling and getattr(data, "input_scale", None) is None:
        from gnnops.surrogate.scaling import input_scales

        add["input_scale"] = input_scales(data, recipe)
    if needs_wall_distance(recipe) and getattr(data, "wall_distance", None) is None:
        add["wall_distance"] = wall_distance_of(data)
    if needs_dirichlet_distance(recipe) and getattr(data, "dirichlet_distance", None) is None:
        add["dirichlet_distance"] = dirichlet_distance_of(data, recipe)
    if not add:
        return data
    data = copy.copy(data)
    for key, val in add.items():
        setattr(data, key, val)
    return data



def _check_model_widths(data: Data, model: nn.Module) -> None:
    """GraphError when ``data`` has another geometric dimension or width than ``model`` takes."""
    pos_dim = int(getattr(model, "pos_dim", 0) or 0)
    pos = getattr(data, "pos", None)
    if pos_dim > 0 and pos is not None and pos.dim() == 2 and pos.shape[1] != pos_dim:
        raise GraphError(f"the model was trained on {pos_dim}-D geometry (pos [N, {pos_dim}]); "
                         f"this graph is {pos.shape[1]}-D (pos {list(pos.shape)})")
    want = getattr(model, "in_channels", None)
    if isinstance(want, int) and data.x.shape[1] != want:
        raise GraphError(f"the model takes {want} input columns per node; this graph gives "
                         f"{data.x.shape[1]} (raw inputs and derived features)")


