"""The graph recipe: raw input fields -> model-ready ``Data``, identical in training and inference.

A :class:`Recipe` is stored in the artifact as a JSON object (:meth:`Recipe.to_json`)::

    {"kind": "mesh" | "network", "inputs": [...], "input_dims": [...],
     "targets": [...], "target_dims": [...], "features": [...], "problem": str | None,
     "num_node_types": int,            # width of "node_type_onehot"
     "undirected": bool,               # trained on graphs whose every edge has its reverse
     "train_stats": {"nodes_min", "nodes_max", "spacing_min", "spacing_max",
                     "input_min": [...], "input_max": [...]},
     "rollout": {...}}                 # time-dependent models only (RolloutLayout)

``spacing`` is the mean edge length of one graph; ``input_min/max`` are per raw input
column, so inference can flag a mesh or an input outside what the model was trained on.
:meth:`Recipe.from_json` reads that object back -- also the plain dicts written before the
recipe was typed (missing fields take their defaults) -- and checks every field's type
with the config validator (:mod:`gnnops._typed`), raising
:class:`~gnnops.errors.ArtifactError` that names the field. Whether edge features are
standardized is not a recipe field: it is recorded once, by the presence of the
``e.mean`` / ``e.std`` normalizers (:class:`~gnnops.surrogate.surrogate.Surrogate`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch_geometric.data import Data

from gnnops._typed import build_dataclass
from gnnops.errors import ArtifactError, ConfigError, GraphError

__all__ = ["FEATURES", "TrainStats", "RolloutLayout", "Recipe", "as_recipe", "make_recipe",
           "mean_spacing"]

FEATURES = ("pos", "boundary", "node_type_onehot", "node_volume", "wall_distance", "fidelity")


@dataclass
class TrainStats:
    """Ranges of the training graphs (``None`` / ``[]`` = not recorded, not checked).

    Attributes:
        nodes_min, nodes_max: smallest / largest node count.
        spacing_min, spacing_max: smallest / largest mean edge length (graphs with ``pos``).
        input_min, input_max: ``[sum(input_dims)]`` per raw input column.
    """

    nodes_min: int | None = None
    nodes_max: int | None = None
    spacing_min: float | None = None
    spacing_max: float | None = None
    input_min: list[float] = field(default_factory=list)
    input_max: list[float] = field(default_factory=list)


@dataclass
class RolloutLayout:
    """How a time-dependent problem's trajectories are laid out (one-step models).

    Built by :func:`gnnops.surrogate.stepping.trajectory_layout`.

    Attributes:
        problem: registered problem name; ``problem_options``: its constructor options.
        state: the trajectory field (output); ``initial``: the initial-state input.
        static: the other inputs, constant in time.
        times: ``[T]`` times of the stored trajectory; ``t0``: the initial time.
        includes_initial: the stored trajectory's first column is the state at ``t0``.
        dt: the training step; ``dt_feature``: ``dt`` is an input column.
        anchor: constant steady state of anchored increments, or ``None``.
    """

    problem: str
    state: str
    initial: str
    times: list[float]
    includes_initial: bool
    dt: float
    problem_options: dict[str, Any] = field(default_factory=dict)
    static: list[str] = field(default_factory=list)
    t0: float = 0.0
    dt_feature: bool = True
    anchor: float | None = None


@dataclass
class Recipe:
    """What the model reads and predicts, and how a raw graph becomes its input.

    Attributes:
        kind: ``"mesh"`` or ``"network"``.
        inputs, input_dims: raw input fields in ``x`` column order and their widths.
        targets, target_dims: predicted fields and their widths.
        features: derived features appended to ``x`` (:data:`FEATURES`).
        problem: the physical problem's registry name, or ``None``.
        problem_options: keyword arguments of the problem's constructor the training data
            was solved with (``data.problem_options`` / ``data.generate.solver_options``),
            so the residual checks of prediction use the same problem (left out of the JSON
            when empty).
        num_node_types: width of the ``node_type_onehot`` feature.
        undirected: trained on undirected graphs (a directed network is refused).
        edge_weight: networks: the edge attribute the training graphs carried as weights
            (``"weight"``: ``edge_weight`` / ``edge_attr`` of the model), ``None`` when they
            were unweighted (all 1). Prediction reads the same attribute from a network.
        train_stats: ranges of the training graphs (out-of-distribution flags).
        rollout: the trajectory layout of a time-dependent (one-step) model, else ``None``.
        scaling: exact scaling law of a linear problem, input name -> exponent ``e_k``:
            ``u(s_1 in_1, s_2 in_2, ...) = prod_k s_k^e_k u(in_1, in_2, ...)`` (Darcy:
            ``{"a": -1, "f": 1}``). Each graph's scaled inputs are divided by their
            volume-weighted mean magnitude ``s_k`` before the model and the output is
            multiplied by ``prod_k s_k^e_k`` (:mod:`gnnops.surrogate.scaling`), so the law holds
            exactly, for inputs of any magnitude.
        hard_dirichlet: the problem's solution is 0 on the whole boundary; predictions
            are set to 0 at ``data.boundary`` nodes.
        dirichlet_length: with ``hard_dirichlet``, the length ``l`` of the smooth factor
            ``tanh(d / l)`` (``d`` = :func:`~gnnops.graphs.wall_distance.wall_distance`)
            the model's output is multiplied by: 0 on the boundary and continuous, so the
            output between boundary nodes and the first interior nodes is defined the same
            on every mesh. 0 (artifacts before it): the output is only zeroed at boundary
            nodes.
        dirichlet_set: where ``hard_dirichlet`` holds: ``None`` the whole boundary,
            ``"problem"`` the nodes the problem names (``Problem.zero_dirichlet_nodes``, e.g.
            elasticity's clamp); ``d`` is then the distance to those nodes.
    """

    kind: Literal["mesh", "network"] = "mesh"
    inputs: list[str] = field(default_factory=list)
    input_dims: list[int] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    target_dims: list[int] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    problem: str | None = None
    problem_options: dict[str, Any] = field(default_factory=dict)
    num_node_types: int = 2
    undirected: bool = False
    edge_weight: str | None = None
    train_stats: TrainStats = field(default_factory=TrainStats)
    rollout: RolloutLayout | None = None
    scaling: dict[str, float] = field(default_factory=dict)
    hard_dirichlet: bool = False
    dirichlet_length: float = 0.0
    dirichlet_set: Literal["problem"] | None = None

    def to_json(self) -> dict[str, Any]:
        """The recipe as a JSON-compatible dict.

        Fields added after the first artifact format (:data:`_LATER_FIELDS`) are left out
        at their defaults, so a recipe that does not use them is stored exactly as before.
        """
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        defaults = Recipe()
        for name in _LATER_FIELDS:
            if getattr(self, name) == getattr(defaults, name):
                del d[name]
        return d

    @classmethod
    def from_json(cls, d: Recipe | Mapping[str, Any] | str) -> Recipe:
        """Read a recipe written by :meth:`to_json` (or a plain recipe dict of older artifacts).

        Args:
            d: the dict, its JSON text, or a ``Recipe`` (returned as is).

        Raises:
            ArtifactError: not a mapping, an unknown field, a field of the wrong type, or
                inconsistent fields; the message names the field (``recipe.train_stats...``).
        """
        if isinstance(d, Recipe):
            return d
        if isinstance(d, str):
            try:
                d = json.loads(d)
            except json.JSONDecodeError as exc:
                raise ArtifactError(f"expected the recipe as a JSON object ({exc})") from None
        if isinstance(d, Mapping):
            d = dict(d)
        return build_dataclass(cls, d, "recipe", error=ArtifactError, label="recipe field",
                               strict=True)

    def validate(self, *, where: str = "recipe") -> None:
        """ArtifactError unless names and widths agree and every width is >= 1."""
        for names, dims in (("inputs", "input_dims"), ("targets", "target_dims")):
            a, b = getattr(self, names), getattr(self, dims)
            if len(a) != len(b):
                raise ArtifactError(f"expected recipe '{names}' {a} and '{dims}' {b} of equal "
                                    f"length (field '{where}.{dims}')")
            for i, w in enumerate(b):
                if w < 1:
                    raise ArtifactError(f"recipe field '{where}.{dims}[{i}]' expects an "
                                        f"integer >= 1, got {w}")
        if self.num_node_types < 1:
            raise ArtifactError(f"recipe field '{where}.num_node_types' expects an integer "
                                f">= 1, got {self.num_node_types}")


#: recipe fields newer than the first artifact format; omitted from the JSON at their defaults
_LATER_FIELDS = ("problem_options", "rollout", "scaling", "hard_dirichlet", "edge_weight",
                 "dirichlet_length", "dirichlet_set")


def as_recipe(recipe: Recipe | Mapping[str, Any]) -> Recipe:
    """``recipe`` as a :class:`Recipe` (a mapping is read by :meth:`Recipe.from_json`)."""
    return recipe if isinstance(recipe, Recipe) else Recipe.from_json(recipe)


def mean_spacing(data: Data) -> float | None:
    """Mean edge length of ``data`` (``None`` without ``pos`` or edges)."""
    pos = getattr(data, "pos", None)
    if pos is None or data.edge_index is None or data.edge_index.numel() == 0:
        return None
    src, dst = data.edge_index
    return float((pos[dst] - pos[src]).float().norm(dim=1).mean())


def _symmetric(data: Data) -> bool:
    """Whether every edge of ``data`` has its reverse (an undirected graph)."""
    ei = getattr(data, "edge_index", None)
    if ei is None or ei.numel() == 0:
        return True
    n = int(data.num_nodes)
    return bool(torch.isin(ei[1] * n + ei[0], ei[0] * n + ei[1]).all())


def _edge_weight_name(graphs: Sequence[Data]) -> str | None:
    """``"weight"`` when a training network carries edge weights other than 1 (the dataset
    loader reads the GraphML edge attribute ``weight`` into ``edge_weight`` / ``edge_attr``),
    else ``None``."""
    for g in graphs:
        w = getattr(g, "edge_weight", None)
        if w is not None and w.numel() and not bool((w == 1).all()):
            return "weight"
    return None


def _train_stats(graphs: Sequence[Data], n_in: int) -> TrainStats:
    """Node counts, mean edge lengths and raw input ranges of the training graphs."""
    nodes = [g.num_nodes for g in graphs]
    spacings = [s for s in (mean_spacing(g) for g in graphs) if s is not None]
    if n_in:
        xs = torch.cat([g.x.reshape(g.num_nodes, -1).float() for g in graphs])
        in_min, in_max = xs.min(0).values.tolist(), xs.max(0).values.tolist()
    else:
        in_min, in_max = [], []
    return TrainStats(nodes_min=min(nodes), nodes_max=max(nodes),
                      spacing_min=min(spacings) if spacings else None,
                      spacing_max=max(spacings) if spacings else None,
                      input_min=in_min, input_max=in_max)


def make_recipe(
    graphs: Sequence[Data],
    *,
    inputs: Sequence[str],
    input_dims: Sequence[int],
    targets: Sequence[str],
    target_dims: Sequence[int],
    features: Sequence[str],
    problem: str | None,
    kind: Literal["mesh", "network"] = "mesh",
    problem_options: Mapping[str, Any] | None = None,
    scaling: Mapping[str, float] | None = None,
    hard_dirichlet: bool = False,
    dirichlet_length: float = 0.0,
    dirichlet_set: Literal["problem"] | None = None,
) -> Recipe:
    """The recipe of a training set, with its ``train_stats`` (raw, unprepared graphs).

    Raises:
        ConfigError: an unknown feature name; GraphError: no graphs.
    """
    for f in features:
        if f not in FEATURES:
            raise ConfigError(f"unknown feature {f!r} in data.features; expected one of: "
                              f"{', '.join(FEATURES)}")
    if not graphs:
        raise GraphError("expected at least one training graph (got none)")
    types = [int(g.node_type.max()) + 1 for g in graphs
             if getattr(g, "node_type", None) is not None and g.node_type.numel()]
    return Recipe(
        kind=kind,
        inputs=list(inputs),
        input_dims=[int(d) for d in input_dims],
        targets=list(targets),
        target_dims=[int(d) for d in target_dims],
        features=list(features),
        problem=problem,
        problem_options=dict(problem_options or {}),
        num_node_types=max(types + [2]),
        undirected=all(_symmetric(g) for g in graphs),
        edge_weight=_edge_weight_name(graphs) if kind == "network" else None,
        train_stats=_train_stats(graphs, int(sum(input_dims))),
        scaling={str(k): float(v) for k, v in (scaling or {}).items()},
        hard_dirichlet=bool(hard_dirichlet),
        dirichlet_length=float(dirichlet_length),
        dirichlet_set=dirichlet_set,
    )
