"""``Predictor``: a trained artifact that predicts on meshes and networks.

>>> import gnnops
>>> model = gnnops.load("runs/darcy_default/model.pt")      # doctest: +SKIP
>>> pred = model.predict("plate.msh", coefficient=1.0)      # doctest: +SKIP
>>> pred.fields["u"].shape, pred.residual, pred.flags       # doctest: +SKIP
>>> pred.write("plate_u.vtu")                               # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from gnnops.errors import GnnopsError, ProblemError
from gnnops.inference.batch import BatchResult, run_pool
from gnnops.inference.partition import (
    max_edge_length,
    predict_partitioned,
    receptive_hops,
)
from gnnops.inference.prediction import Prediction
from gnnops.inference.refine import Refinement, refine_prediction
from gnnops.inference.reliability_flags import compute_flags
from gnnops.inference.sources import Source, load_source, split_columns
from gnnops.inference.trust import (
    DEFAULT_THRESHOLD,
    check_threshold,
    correct_prediction,
    estimate,
    estimate_fields,
    resolution_independent,
    trust_flags,
)
from gnnops.surrogate.recipe import Recipe, as_recipe

__all__ = ["Predictor"]

# parts small enough to stay cache-resident: ~2x faster than 65k-node parts on a 262k-node
# mesh in benchmarks/inference.py, and less memory
DEFAULT_MAX_NODES = 16_384


class Predictor:
    """Runs a trained surrogate on new meshes / networks.

    Args:
        surrogate: a ``gnnops.surrogate.surrogate.Surrogate`` (or any module mapping a
            prepared ``Data`` to ``[N, F_out]`` in physical units, with a ``model``
            attribute or being the model itself).
        recipe: the graph recipe (:class:`~gnnops.surrogate.recipe.Recipe`; a mapping is read
            by ``Recipe.from_json``).
        problem: name of the physical problem, for residuals and ``refine``.
        metrics: training metrics of the artifact (for ``info``).
        config: training config of the artifact.
        max_nodes: graphs larger than this are predicted in halo'd partitions of at most
            this many core nodes (bounded memory; see :mod:`gnnops.inference.partition`).
        source_path: the artifact path (for messages).
        flag_threshold: estimated relative L2 error above which a prediction is flagged
            (``error_estimate_high``; see :mod:`gnnops.inference.trust`).
    """

    def __init__(self, surrogate: torch.nn.Module, *, recipe: Recipe | Mapping[str, Any],
                 problem: str | None = None, metrics: Mapping[str, Any] | None = None,
                 config: Mapping[str, Any] | None = None, max_nodes: int = DEFAULT_MAX_NODES,
                 source_path: str | None = None,
                 flag_threshold: float = DEFAULT_THRESHOLD) -> None:
        self.surrogate = surrogate.eval()
        self.recipe: Recipe = copy.deepcopy(as_recipe(recipe))
        self.problem_name = problem if problem is not None else self.recipe.problem
        self.metrics = dict(metrics or {})
        self.config = dict(config or {})
        self.max_nodes = int(max_nodes)
        self.source_path = source_path
        self.flag_threshold = check_threshold(flag_threshold)
        self._problem: Any = None

    # ------------------------------------------------------------- construction
    @classmethod
    def from_artifact(cls, path: str | os.PathLike, **kwargs: Any) -> Predictor:
        """Load an artifact written by training (no code in it is run; see ``load_artifact``).

        Raises:
            ArtifactError: missing, corrupt, unsafe or foreign file.
        """
        from gnnops.surrogate.artifact import load_artifact
        from gnnops.surrogate.surrogate import Surrogate

        art = load_artifact(path)
        sur = Surrogate.from_artifact(art)
        return cls(sur, recipe=art.recipe, problem=art.problem, metrics=art.metrics,
                   config=art.config, source_path=str(path), **kwargs)

    # --------------------------------------------------------------- properties
    @property
    def model(self) -> torch.nn.Module:
        """The wrapped graph model."""
        return getattr(self.surrogate, "model", self.surrogate)

    @property
    def inputs(self) -> list[str]:
        """Input field names the caller gives (``predict(source, **inputs)``, ``--set``),
        in model order. Time-dependent (rollout) models: the initial state and the static
        fields (e.g. ``x0``); the one-step model's own columns (``[state, *static, dt]``)
        are :attr:`step_inputs`."""
        layout = self.recipe.rollout
        if layout is not None:
            return [layout.initial, *layout.static]
        return list(self.recipe.inputs)

    @property
    def step_inputs(self) -> list[str]:
        """Columns of the model itself (rollout models: ``[state, *static, dt]``)."""
        return list(self.recipe.inputs)

    @property
    def targets(self) -> list[str]:
        """Predicted field names."""
        return list(self.recipe.targets)

    @property
    def num_parameters(self) -> int:
        """Number of trainable parameters of the model."""
        return sum(p.numel() for p in self.model.parameters())

    @property
    def problem(self) -> Any:
        """The ``gnnops.problems`` instance named by the artifact (or None), built with the
        recipe's ``problem_options`` (the settings the training data was solved with)."""
        if self._problem is None and self.problem_name:
            from gnnops.problems import get

            same = self.problem_name == self.recipe.problem
            opts = dict(getattr(self.recipe, "problem_options", None) or {}) if same else {}
            self._problem = get(self.problem_name, **opts)
        return self._problem

    # ------------------------------------------------------------------ running
    def _run(self, data: Data) -> tuple[Tensor, Data]:
        from gnnops.surrogate.prepare import prepare_graph

        prepared = prepare_graph(data, self.recipe, model=self.model)
        with torch.inference_mode():
            out = self.surrogate(prepared)
        return out.detach().float(), prepared

    @property
    def reads_edges(self) -> bool:
        """Whether the model reads mesh edges (False, e.g. Transolver: mesh graphs are
        built without them, :func:`gnnops.graphs.from_meshio`)."""
        return bool(getattr(self.model, "reads_edges", True))

    def forward_graph(self, data: Data) -> Tensor:
        """Prepare and run the model on a raw graph, partitioned when it is large.

        Args:
            data: raw graph, ``x`` [N, F_in] raw inputs.

        Returns:
            [N, F_out] predictions in physical units.
        """
        from gnnops.surrogate.prepare import with_whole_graph_fields

        data = with_whole_graph_fields(data, self.recipe)  # also for every part
        hops = receptive_hops(self.model)
        n = int(data.num_nodes)
        # models whose forward already runs layer by layer over blocks of nodes (GNO,
        # multiscale: `bounded_memory_forward`) are not split again into halo'd parts
        if (n <= self.max_nodes or hops is None or getattr(data, "pos", None) is None
                or getattr(self.model, "bounded_memory_forward", False)):
            return self._run(data)[0]
        length = max(max_edge_length(data), float(getattr(self.model, "radius", 0.0) or 0.0))
        return predict_partitioned(data, self._run, hops=hops, max_nodes=self.max_nodes,
                                   edge_length=length)

    def _residual(self, src: Source, fields: dict[str, np.ndarray]
                  ) -> tuple[float | None, np.ndarray | None, str | None]:
        prob = self.problem
        if prob is None:
            return None, None, None
        try:
            per_node = np.asarray(prob.residual_per_node(src.data, fields, **src.inputs))
            rel = float(prob.residual(src.data, fields, **src.inputs))
        except (GnnopsError, NotImplementedError) as exc:
            return None, None, f"residual_unavailable: {' '.join(str(exc).split())}"
        return rel, per_node, None

    def predict(self, source: Any, /, *, residual: bool = True, steps: int | None = None,
                **inputs: Any) -> Prediction:
        """Predict the output fields on one mesh / network.

        Time-dependent (one-step) artifacts, whose recipe has ``"rollout"``, are rolled out
        ``steps`` times from the initial state instead and return a
        ``TimeSeriesPrediction`` (see :mod:`gnnops.inference.trajectory` and the time-series
        file layout in :mod:`gnnops.inference.timeseries`).

        Args:
            source: mesh file (any meshio format) or ``.graphml`` / ``.gml`` network path,
                ``meshio.Mesh``, networkx graph or ``Data`` (``x`` = raw inputs).
            residual: also compute the physics residual (when the artifact names a problem).
            steps: rollout steps of a time-dependent artifact (default: its training
                trajectory's length); must be ``None`` for other artifacts.
            **inputs: input fields by name: arrays ``[N]`` / ``[N, d]`` or scalars
                (broadcast to every node); override fields stored in the source.

        Returns:
            A :class:`Prediction`.

        Raises:
            GnnopsError: unreadable source, missing / unknown input field.
        """
        if self.recipe.rollout is not None:
            from gnnops.inference.trajectory import predict_rollout

            return predict_rollout(self, source, steps=steps, residual=residual, **inputs)
        if steps is not None:
            raise ProblemError(f"steps={steps!r} is only for time-dependent (rollout) models; "
                               f"this artifact predicts {', '.join(self.targets)} directly")
        t0 = time.perf_counter()
        src = load_source(source, self.recipe, inputs, edges=self.reads_edges)
        t1 = time.perf_counter()
        out = self.forward_graph(src.data)
        t2 = time.perf_counter()
        fields = split_columns(out.double().numpy(), self.targets,
                               self.recipe.target_dims or [1] * len(self.targets))
        flags = compute_flags(src.data, out, self.recipe.train_stats, kind=src.kind,
                              input_names=self.inputs, input_dims=self.recipe.input_dims,
                              resolution_independent=resolution_independent(self.model)
                              ) + src.flags
        rel = per_node = est = None
        if residual and "non_finite_output" not in " ".join(flags):
            rel, per_node, note = self._residual(src, fields)
            if note:
                flags.append(note)
        t3, note = time.perf_counter(), None
        if rel is not None:
            est, note = estimate(self.problem, src.data, fields, src.inputs)
        flags, notes = trust_flags(flags, est, self.flag_threshold, note)
        timings = {"graph": t1 - t0, "model": t2 - t1, "residual": t3 - t2}
        if rel is not None:
            timings["estimate"] = time.perf_counter() - t3
        return Prediction(
            fields=fields, inputs=src.inputs, residual=rel, per_node_residual=per_node,
            flags=flags, notes=notes, **estimate_fields(est), timings=timings,
            source=src.name, kind=src.kind, data=src.data, mesh=src.mesh, graph=src.graph,
            problem=self.problem_name,
        )

    def predict_many(self, sources: Iterable[Any], /, *, workers: int = 1, residual: bool = True,
                     **inputs: Any) -> Iterator[BatchResult]:
        """Predict on many sources; yields one :class:`BatchResult` per source as it finishes.

        Errors are captured per item (``status="error"`` and the message); the others
        continue. With ``workers > 1`` a thread pool runs them and torch's intra-op threads
        are split between the workers for the duration.

        Args:
            sources: paths / meshes / graphs / Data.
            workers: parallel predictions.
            residual: compute residuals.
            **inputs: input fields passed to every :meth:`predict`.
        """
        def one(src: Any) -> Prediction:
            return self.predict(src, residual=residual, **inputs)

        yield from run_pool(one, list(sources), workers=workers)

    def refine(self, prediction_or_source: Any, /, tol: float = 1e-8, *, compare: bool = True,
               maxiter: int | None = None, **inputs: Any) -> Refinement:
        """Hybrid solve: the problem's iterative solver started from the prediction.

        Args:
            prediction_or_source: a :class:`Prediction`, or a source to predict on first.
            tol: relative tolerance of the iterative solver.
            compare: also solve from a zero start, for the iteration / time comparison.
            maxiter: iteration cap passed to the solver when given.
            **inputs: input fields (when a source is given).

        Returns:
            A :class:`Refinement` (refined fields, iterations and seconds of both starts).

        Raises:
            ProblemError: the artifact names no problem or the problem has no iterative solver.
        """
        if self.problem is None:
            raise ProblemError("refine needs a physical problem, but this artifact names none")
        pred = prediction_or_source
        if not isinstance(pred, Prediction):
            pred = self.predict(pred, residual=False, **inputs)
        return refine_prediction(self.problem, pred, tol=tol, compare=compare, maxiter=maxiter)

    def correct(self, prediction_or_source: Any, /, cycles: int = 1, **inputs: Any
                ) -> Prediction:
        """The prediction improved by ``cycles`` AMG cycles of the problem's own
        discretization (AMG-CG, one smoothed-aggregation V-cycle per cycle), with its new
        residual, error estimate and flags (see :func:`gnnops.inference.trust.correct_prediction`).

        Args:
            prediction_or_source: a :class:`Prediction`, or a source to predict on first.
            cycles: AMG cycles (0: only Dirichlet values set to the data).
            **inputs: input fields (when a source is given).

        Raises:
            ProblemError: the artifact names no stationary mesh problem; bad ``cycles``.
        """
        pred = prediction_or_source
        if not isinstance(pred, Prediction):
            pred = self.predict(pred, **inputs)
        return correct_prediction(self.problem, pred, cycles, self.flag_threshold)

    def describe(self) -> dict[str, Any]:
        """JSON-able description: model, problem, fields, training ranges, metrics."""
        model = self.model
        return {
            "artifact": self.source_path,
            "model": getattr(self.surrogate, "model_name", None)
            or getattr(model, "name", type(model).__name__),
            "model_kwargs": dict(getattr(model, "init_kwargs", {}) or {}),
            "parameters": self.num_parameters,
            "problem": self.problem_name,
            "kind": self.recipe.kind,
            "inputs": ({k: 1 for k in self.inputs} if self.recipe.rollout is not None
                       else dict(zip(self.inputs, self.recipe.input_dims, strict=False))),
            "step_inputs": (dict(zip(self.step_inputs, self.recipe.input_dims, strict=False))
                            if self.recipe.rollout is not None else None),
            "edge_weight": self.recipe.edge_weight,
            "targets": dict(zip(self.targets, self.recipe.target_dims, strict=False)),
            "features": list(self.recipe.features),
            "train_stats": dataclasses.asdict(self.recipe.train_stats),
            "receptive_hops": receptive_hops(model),
            "resolution_independent": resolution_independent(model),
            "error_estimate": hasattr(self.problem, "error_estimate"),
            "flag_threshold": self.flag_threshold,
            "metrics": self.metrics,
        }
