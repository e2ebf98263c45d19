"""Accuracy metrics and the resolution sweep of a trained surrogate over a dataset.

Relative L2 of one sample: ``||u_hat - u||_2 / ||u||_2`` over every node and output
column (the FNO / GKN protocol), averaged over the samples of a split at one
resolution. The relative physics residual of each prediction (and of the stored
reference solution, for comparison) comes from the dataset's problem.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnops.errors import DataError, GnnopsError

__all__ = ["relative_l2", "evaluate", "as_predictor", "default_splits"]


def relative_l2(pred: Any, true: Any, weights: Any = None) -> float:
    """``sqrt(sum_i w_i |pred_i - true_i|^2 / sum_i w_i |true_i|^2)`` over all entries.

    Args:
        pred: [N] or [N, F] prediction.
        true: same shape, reference.
        weights: [N] node weights ``w_i`` (on meshes the lumped mass, ``node_volume``, so the
            error is the L2 norm of the function, the same on any mesh of a domain);
            ``None``: 1 (the plain vector norm).

    Raises:
        DataError: shapes differ, or the reference is identically zero.
    """
    p = np.asarray(pred.detach().cpu() if isinstance(pred, torch.Tensor) else pred, np.float64)
    t = np.asarray(true.detach().cpu() if isinstance(true, torch.Tensor) else true, np.float64)
    if p.shape != t.shape:
        raise DataError(f"relative L2: prediction of shape {list(p.shape)} and reference of "
                        f"shape {list(t.shape)} differ")
    w = np.ones(len(t)) if weights is None else np.asarray(
        weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights,
        np.float64).reshape(-1)
    if len(w) != len(t):
        raise DataError(f"relative L2: {len(w)} weights for {len(t)} nodes")
    sq = (lambda a: a ** 2) if t.ndim == 1 else (lambda a: (a.reshape(len(a), -1) ** 2).sum(1))
    norm = float(np.sqrt((w * sq(t)).sum()))
    if norm == 0.0:
        raise DataError("relative L2 is undefined for an identically zero reference")
    return float(np.sqrt((w * sq(p - t)).sum())) / norm


def as_predictor(obj: Any) -> Any:
    """A ``Predictor`` from a Predictor, a Surrogate, an ``Artifact`` or an artifact path."""
    from gnnops.inference import Predictor
    from gnnops.surrogate.artifact import Artifact
    from gnnops.surrogate.recipe import Recipe, as_recipe

    if isinstance(obj, Predictor):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return Predictor.from_artifact(obj)
    if isinstance(obj, Artifact):
        from gnnops.surrogate.surrogate import Surrogate

        return Predictor(Surrogate.from_artifact(obj), recipe=obj.recipe, problem=obj.problem,
                         metrics=obj.metrics, config=obj.config)
    recipe = getattr(obj, "recipe", None)
    if isinstance(obj, torch.nn.Module) and isinstance(recipe, (Recipe, Mapping)):
        recipe = as_recipe(recipe)
        return Predictor(obj, recipe=recipe, problem=recipe.problem)
    raise GnnopsError(f"expected a Surrogate, an Artifact, a Predictor or an artifact path to "
                      f"evaluate (got {type(obj).__name__})")


def default_splits(dataset: Any) -> list[str]:
    """The dataset's test splits (``test``, ``test_<family>``), else every split but
    ``train`` / ``val``."""
    names = list(dataset.splits)
    tests = [s for s in names if s.startswith("test")]
    return tests or [s for s in names if s not in ("train", "val")]


def _resolutions(dataset: Any, split: str) -> list[int]:
    info = dataset.manifest.get("splits", {}).get(split, {})
    res = info.get("resolutions")
    if res is None:
        res = sorted({int(s["resolution"]) for s in dataset.manifest.get("samples", [])
                      if s["split"] == split})
    return [int(r) for r in res]


def _example(data: Any, true: np.ndarray, pred: np.ndarray, split: str, k: int,
             targets: list[str]) -> dict[str, Any]:
    cells = None
    if getattr(data, "cell_index", None) is not None:
        cells = data.cell_index.t().numpy()
    pos = getattr(data, "pos", None)
    return {"split": split, "resolution": k, "targets": targets,
            "pos": None if pos is None else pos.double().numpy(),
            "cells": cells, "cell_type": getattr(data, "cell_type", None),
            "boundary": (data.boundary.numpy() if getattr(data, "boundary", None) is not None
                         else None),
            "true": true, "pred": pred}


def _checked_splits(ds: Any, splits: Sequence[str] | None) -> list[str]:
    """The splits to evaluate: ``splits`` (each must exist) or :func:`default_splits`."""
    splits = list(splits) if splits else default_splits(ds)
    if not splits:
        raise DataError(f"dataset '{getattr(ds, 'root', ds)}' has no split to evaluate on "
                        f"(splits: {', '.join(ds.splits)})")
    unknown = [s for s in splits if s not in ds.splits]
    if unknown:
        raise DataError(f"unknown split {unknown[0]!r} in '{getattr(ds, 'root', ds)}'; expected "
                        f"one of: {', '.join(ds.splits)}")
    return splits


def _reference_residual(problem: Any, p: Any, true: np.ndarray, targets: list[str],
                        tdims: list[int]) -> float | None:
    """The problem's relative residual of the stored reference solution (``None`` when the
    problem cannot evaluate it)."""
    from gnnops.inference.sources import split_columns

    try:
        return float(problem.residual(p.data, split_columns(true, targets, tdims), **p.inputs))
    except GnnopsError:
        return None


def _resolution_row(pred_: Any, graphs: list[Any], split: str, k: int, h: float | None,
                    examples: list[dict[str, Any]] | None) -> dict[str, Any]:
    """One result row: the predictor's errors over ``graphs`` (one split, resolution ``k``).

    Appends the first sample's arrays to ``examples`` unless that is ``None``.
    """
    targets, problem = pred_.targets, pred_.problem
    tdims = pred_.recipe.target_dims or [1] * len(targets)
    errs, res, ref, secs, nodes, flagged = [], [], [], [], [], 0
    for i, g in enumerate(graphs):
        t0 = time.perf_counter()
        p = pred_.predict(g, residual=problem is not None)
        secs.append(time.perf_counter() - t0)
        true = g.y.double().numpy()
        out = np.column_stack([np.asarray(p.fields[t]).reshape(len(true), -1)
                               for t in targets])
        errs.append(relative_l2(out, true, getattr(g, "node_volume", None)))
        nodes.append(int(g.num_nodes))
        flagged += any(not f.startswith("residual_unavailable") for f in p.flags)
        if p.residual is not None:
            res.append(p.residual)
            r = _reference_residual(problem, p, true, targets, tdims)
            if r is not None:
                ref.append(r)
        if examples is not None and i == 0:
            examples.append(_example(g, true, out, split, k, targets))
    return {
        "split": split, "resolution": k, "h": h, "nodes": float(np.mean(nodes)),
        "samples": len(graphs), "rel_l2": float(np.mean(errs)),
        "rel_l2_std": float(np.std(errs)), "rel_l2_max": float(np.max(errs)),
        "residual": float(np.mean(res)) if res else None,
        "residual_reference": float(np.mean(ref)) if ref else None,
        "seconds_per_sample": float(np.mean(secs)), "flagged": int(flagged),
    }


def _mesh_size(ds: Any, k: int, graphs: list[Any]) -> float | None:
    """The ``h`` of a row: the spec's value of resolution ``k`` (generated data: mesh size,
    networks: node count), or the mean edge length of ``graphs`` (a user's meshes, whose
    resolutions are node counts)."""
    if getattr(ds, "generated", True):
        return ds.resolutions[k] if k < len(ds.resolutions) else None
    from gnnops.surrogate.recipe import mean_spacing

    sizes = [s for s in (mean_spacing(g) for g in graphs) if s is not None]
    return float(np.mean(sizes)) if sizes else None


def evaluate(surrogate_or_artifact: Any, dataset: Any, *, splits: Sequence[str] | None = None,
             out_dir: str | os.PathLike | None = None, max_samples: int | None = None,
             examples: bool = True) -> dict[str, Any]:
    """Relative L2 and physics residual per test split and resolution.

    Args:
        surrogate_or_artifact: Surrogate, Artifact, Predictor or artifact path.
        dataset: a ``gnnops.data`` Dataset or a dataset path / glob.
        splits: splits to evaluate (default :func:`default_splits`).
        out_dir: when given, :func:`gnnops.evaluation.write_report` writes the report there.
        max_samples: cap on samples per split and resolution.
        examples: keep one sample per split / resolution (arrays) for the field plots.

    Returns:
        ``{"model", "parameters", "problem", "targets", "dataset", "train_stats", "training",
        "rows": [{"split", "resolution", "h", "nodes", "samples", "rel_l2", "rel_l2_std",
        "rel_l2_max", "residual", "residual_reference", "seconds_per_sample",
        "flagged"}], "examples": [...]}``; ``residual*`` are ``None`` without a problem.

    Raises:
        DataError: unknown split, no test split, missing fields.
    """
    from gnnops.data import open_dataset

    pred_ = as_predictor(surrogate_or_artifact)
    ds = dataset if hasattr(dataset, "load") else open_dataset(dataset)
    splits = _checked_splits(ds, splits)
    targets = pred_.targets
    desc = pred_.describe()
    rows: list[dict[str, Any]] = []
    shown: list[dict[str, Any]] = []
    for split in splits:
        for k in _resolutions(ds, split):
            graphs = ds.load(split, k, inputs=pred_.inputs, targets=targets)
            if max_samples is not None:
                graphs = graphs[:max_samples]
            if not graphs:
                continue
            h = _mesh_size(ds, k, graphs)
            rows.append(_resolution_row(pred_, graphs, split, k, h,
                                        shown if examples else None))
    results = {
        "model": desc["model"], "parameters": desc["parameters"], "problem": desc["problem"],
        "targets": targets, "dataset": str(getattr(ds, "root", dataset)),
        "artifact": desc["artifact"], "train_stats": desc["train_stats"],
        "training": dict(pred_.metrics), "rows": rows, "examples": shown,
    }
    if out_dir is not None:
        from gnnops.evaluation.report import write_report

        write_report(results, Path(out_dir))
    return results
