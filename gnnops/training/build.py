"""Build the surrogate a run trains: recipe, model, prepared graphs, normalizers.

The recipe is fitted on the raw training graphs (fields, features, training ranges and,
with ``model.scaling_law`` / ``model.hard_dirichlet``, the problem's exact scaling law and
zero boundary values); every graph is prepared once; the normalizers are the training
split's per-column statistics (targets in the model's units).
"""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.data import Data

from gnnops.errors import ConfigError
from gnnops.surrogate.normalizer import fit_normalizer
from gnnops.surrogate.prepare import prepare_graph
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate
from gnnops.training.augment import check_augmentable
from gnnops.training.config import RunConfig
from gnnops.training.datasource import TrainingData

__all__ = ["build_surrogate", "resolve_features"]


def _scaled_targets(g: Data) -> torch.Tensor:
    """Targets ``[N, F_out]`` of a prepared graph in the model's units (scaling law applied)."""
    y = g.y.reshape(g.num_nodes, -1).float()
    scale = getattr(g, "out_scale", None)
    return y if scale is None else y / scale.reshape(-1, 1)


def _physics_options(cfg: RunConfig, problem: str | None,
                     graphs: list[Data]) -> dict[str, Any]:
    """``scaling`` / ``hard_dirichlet`` of the recipe from ``model.scaling_law`` and
    ``model.hard_dirichlet``, as the problem declares them (``None``: whatever a steady
    problem declares; ``True``: required, ``False``: off).

    Raises:
        ConfigError: an option the problem does not declare (or no problem at all).
    """
    out: dict[str, Any] = {}
    scaling, dirichlet = cfg.model.scaling_law, cfg.model.hard_dirichlet
    if not (scaling or dirichlet):
        if problem is None or (scaling is False and dirichlet is False):
            return out
    if problem is None:
        raise ConfigError("model.scaling_law / model.hard_dirichlet need a problem "
                          "(data.generate.problem or data.problem)")
    from gnnops.problems import get

    prob = get(problem)
    steady = not getattr(prob, "time_dependent", False)
    laws = dict(getattr(prob, "scaling_laws", {}) or {})
    if scaling or (scaling is None and steady and laws):
        if not laws:
            raise ConfigError(f"model.scaling_law: problem {problem!r} declares no exact "
                              "scaling law (Problem.scaling_laws)")
        out["scaling"] = laws
    zero = bool(getattr(prob, "zero_dirichlet", False))
    part = bool(getattr(prob, "zero_dirichlet_part", False))
    if dirichlet or (dirichlet is None and steady and (zero or part)):
        if not (zero or part):
            raise ConfigError(f"model.hard_dirichlet: problem {problem!r} prescribes u = 0 "
                              "nowhere (Problem.zero_dirichlet / zero_dirichlet_part)")
        out["hard_dirichlet"] = True
        if not zero:
            out["dirichlet_set"] = "problem"
        out["dirichlet_length"] = _dirichlet_length(cfg, graphs)
    return out


def _dirichlet_length(cfg: RunConfig, graphs: list[Data]) -> float:
    """``model.dirichlet_length``, default a tenth of the median bounding-box diagonal."""
    if cfg.model.dirichlet_length is not None:
        if cfg.model.dirichlet_length < 0:
            raise ConfigError("model.dirichlet_length expects a length >= 0, got "
                              f"{cfg.model.dirichlet_length}")
        return float(cfg.model.dirichlet_length)
    diag = [float((g.pos.max(0).values - g.pos.min(0).values).norm()) for g in graphs
            if getattr(g, "pos", None) is not None and g.pos.shape[0] > 1]
    return 0.1 * float(torch.tensor(diag).median()) if diag else 0.0


def resolve_features(features: list[str] | None, graphs: list[Data]) -> list[str]:
    """``data.features``, or for ``None`` the automatic choice: ``["wall_distance"]`` when
    every training graph has positions and boundary nodes (meshes), else ``[]``."""
    if features is not None:
        return list(features)
    meshes = all(getattr(g, "pos", None) is not None and getattr(g, "boundary", None)
                 is not None and bool(g.boundary.any()) for g in graphs)
    return ["wall_distance"] if graphs and meshes else []


def build_surrogate(cfg: RunConfig,
                    src: TrainingData) -> tuple[Surrogate, list[Data], list[Data]]:
    """Recipe, model, prepared graphs (once) and training-split normalizers.

    Returns:
        The surrogate and the prepared training and validation graphs.
    """
    from gnnops.models import build

    recipe = make_recipe(src.train, inputs=src.inputs, input_dims=src.input_dims,
                         targets=src.targets, target_dims=src.target_dims,
                         features=resolve_features(cfg.data.features, src.train),
                         problem=src.problem, kind=src.kind,
                         problem_options=src.problem_options,
                         **_physics_options(cfg, src.problem, src.train))
    if cfg.train.augment:
        check_augmentable(recipe, src.problem, normalize_edges=cfg.data.normalize_edges)
    g0 = src.train[0]
    in_channels = prepare_graph(g0, recipe).x.shape[1]
    ea, pos = getattr(g0, "edge_attr", None), getattr(g0, "pos", None)
    model = build(cfg.model.name, in_channels=int(in_channels),
                  out_channels=int(sum(src.target_dims)),
                  edge_dim=0 if ea is None else int(ea.reshape(ea.shape[0], -1).shape[1]),
                  pos_dim=0 if pos is None else int(pos.shape[1]), **cfg.model.kwargs)
    train_p = [prepare_graph(g, recipe, model=model) for g in src.train]
    val_p = [prepare_graph(g, recipe, model=model) for g in src.val]
    x_norm = fit_normalizer((g.x for g in train_p), int(in_channels))
    y_norm = fit_normalizer((_scaled_targets(g) for g in train_p),
                            int(sum(src.target_dims)))
    norms = {**x_norm.state("x"), **y_norm.state("y")}
    if cfg.data.normalize_edges and getattr(train_p[0], "edge_attr", None) is not None:
        e_dim = int(train_p[0].edge_attr.reshape(train_p[0].edge_attr.shape[0], -1).shape[1])
        norms.update(fit_normalizer((g.edge_attr for g in train_p), e_dim).state("e"))
    kwargs = model.config() if hasattr(model, "config") else dict(cfg.model.kwargs)
    sur = Surrogate(model, model_name=cfg.model.name, model_kwargs=kwargs, recipe=recipe,
                    normalizers=norms)
    return sur, train_p, val_p
