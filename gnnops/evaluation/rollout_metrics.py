"""Rollout evaluation of time-dependent (one-step) models.

For every test split and resolution, each sample is rolled out from its initial state
over the stored trajectory's times and compared with the reference trajectory on the
predicted times (the given initial state excluded):

* normalized L1 (the NDCN metric) ``mean|u_hat - u| / mean|u|`` over nodes and times;
* relative L2 ``||u_hat - u||_2 / ||u||_2`` over nodes and times;
* error against time: both metrics per time step (``curves``), averaged over samples;
* one-step error by step: the relative L2 error of the increment predicted from the
  reference state ``s_j`` (teacher forced, no accumulated error), per step and averaged;
* the problem's relative residual of the predicted trajectory (``residual``) and of the
  reference (``residual_reference``; the time-discretization floor).

Each row has a generalization ``setting``: ``"a: new initial states"`` (split ``test`` at
the training resolution), ``"b: larger graphs (xR)"`` (split ``test`` at another
resolution; R = node ratio to training) and ``"c: unseen family <f>"`` (``test_<f>``;
mesh datasets: ``"c: unseen geometry <g>"``, the spec's ``test_geometries``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gnnops.errors import DataError

if TYPE_CHECKING:
    from gnnops.surrogate.recipe import RolloutLayout

__all__ = ["evaluate_rollout", "normalized_l1", "setting_of"]


def normalized_l1(pred: np.ndarray, true: np.ndarray) -> float:
    """``mean|pred - true| / mean|true|`` (NDCN).

    Raises:
        DataError: shapes differ or the reference is identically zero.
    """
    if pred.shape != true.shape:
        raise DataError(f"normalized L1: prediction {list(pred.shape)} and reference "
                        f"{list(true.shape)} differ")
    den = float(np.mean(np.abs(true)))
    if den == 0.0:
        raise DataError("normalized L1 is undefined for an identically zero reference")
    return float(np.mean(np.abs(pred - true))) / den


def setting_of(split: str, resolution: int, manifest: dict[str, Any]) -> str:
    """The generalization setting of a (split, resolution) row (module docstring)."""
    tr = int(manifest.get("train_resolution", 0))
    nodes = manifest.get("nodes_per_resolution") or []
    if split.startswith("test_"):
        what = "geometry" if manifest.get("kind") == "mesh" else "family"
        return f"c: unseen {what} {split[5:]}"
    if resolution == tr:
        return "a: new initial states"
    ratio = nodes[resolution] / nodes[tr] if len(nodes) > max(resolution, tr) else None
    return "b: larger graphs" + (f" (x{ratio:.3g})" if ratio else "")


def _per_time(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    err = pred - true
    l1 = np.mean(np.abs(err), axis=0) / np.maximum(np.mean(np.abs(true), axis=0), 1e-300)
    l2 = np.linalg.norm(err, axis=0) / np.maximum(np.linalg.norm(true, axis=0), 1e-300)
    return l1, l2


def _rollout_sample(sur: Any, g: Any, layout: RolloutLayout, names: list[str],
                    ts: np.ndarray, k: int) -> dict[str, Any]:
    """Roll one sample out ``k`` steps and score it against its stored trajectory.

    Returns:
        ``{"pred", "true"}`` ([N, k + 1] trajectories), ``"inputs"`` (name -> [N]),
        ``"seconds"``, ``"nodes"``, ``"norm_l1"``, ``"rel_l2"``, per-time curves
        ``"curve_l1"`` / ``"curve_l2"`` ([k + 1]), ``"one_step"`` ([k]: relative L2 error of
        the increment predicted from the reference state ``s_j``, teacher forced),
        ``"residual"`` (``None`` for a non-finite rollout) and ``"residual_reference"``.
    """
    import torch

    from gnnops.inference.trajectory import trajectory_residual
    from gnnops.surrogate.stepping import full_states, one_step_increments, rollout

    s, static = full_states(g, layout)
    t0 = time.perf_counter()
    p = rollout(sur, g, s[:, 0], static, np.diff(ts)[:k], layout=layout)
    seconds = time.perf_counter() - t0
    true, pr = s[:, :k + 1].double().numpy(), p.double().numpy()
    inc = one_step_increments(sur, g, s[:, :k + 1], static, np.diff(ts)[:k],
                              layout=layout).double().numpy()
    d_true = np.diff(true, axis=1)
    one_step = (np.linalg.norm(inc - d_true, axis=0)
                / np.maximum(np.linalg.norm(d_true, axis=0), 1e-300))
    a, b = _per_time(pr, true)
    inputs = {n: g.x[:, j].double().numpy() for j, n in enumerate(names)}
    resid = None
    if bool(torch.isfinite(p).all()):
        resid = trajectory_residual(layout, g, pr, inputs, times=ts[:k + 1])[0]
    return {
        "pred": pr, "true": true, "inputs": inputs, "seconds": seconds,
        "nodes": int(g.num_nodes), "norm_l1": normalized_l1(pr[:, 1:], true[:, 1:]),
        "rel_l2": float(np.linalg.norm(pr[:, 1:] - true[:, 1:])
                        / max(np.linalg.norm(true[:, 1:]), 1e-300)),
        "curve_l1": a, "curve_l2": b, "one_step": one_step, "residual": resid,
        "residual_reference": trajectory_residual(layout, g, true, inputs,
                                                  times=ts[:k + 1])[0],
    }


def _rollout_row(samples: list[dict[str, Any]], split: str, res: int, setting: str,
                 ts: np.ndarray, k: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (row, curve) of one split / resolution from its scored samples (non-empty)."""
    def mean_std(key: str) -> tuple[float, float]:
        v = [x[key] for x in samples]
        return float(np.mean(v)), float(np.std(v))

    resid = [x["residual"] for x in samples if x["residual"] is not None]
    ref = [x["residual_reference"] for x in samples]
    one = np.mean([x["one_step"] for x in samples], axis=0)  # [k] by step
    (l1, l1_std), (l2, l2_std) = mean_std("norm_l1"), mean_std("rel_l2")
    row = {
        "split": split, "setting": setting, "resolution": res,
        "nodes": mean_std("nodes")[0], "samples": len(samples), "steps": k,
        "norm_l1": l1, "norm_l1_std": l1_std, "rel_l2": l2, "rel_l2_std": l2_std,
        "residual": float(np.mean(resid)) if resid else None,
        "residual_reference": float(np.mean(ref)) if ref else None,
        "seconds_per_sample": mean_std("seconds")[0],
        "one_step_rel_l2": float(np.mean(one)), "one_step_first": float(one[0]),
        "one_step_last": float(one[-1]), "one_step_max": float(np.max(one)),
    }
    curve = {"split": split, "resolution": res, "setting": setting,
             "times": ts[:k + 1].tolist(),
             "norm_l1": np.mean([x["curve_l1"] for x in samples], axis=0).tolist(),
             "rel_l2": np.mean([x["curve_l2"] for x in samples], axis=0).tolist(),
             "one_step_rel_l2": one.tolist()}
    return row, curve


def _rollout_layout(pred_: Any) -> RolloutLayout:
    """The predictor's rollout layout (``recipe.rollout``).

    Raises:
        DataError: the model is not a time-dependent (one-step) model.
    """
    layout = pred_.recipe.rollout
    if layout is None:
        raise DataError("rollout evaluation needs a time-dependent (one-step) model; this "
                        "artifact's recipe has no 'rollout' entry")
    return layout


def _write_sample(g: Any, sample: dict[str, Any], layout: RolloutLayout, times: np.ndarray,
                  stem: Path) -> Path:
    """Write one scored sample's trajectories to ``stem`` + suffix (see :func:`_write_example`)."""
    return _write_example(g, layout, sample["pred"], sample["true"], times, sample["inputs"],
                          stem.parent, stem.name)


def evaluate_rollout(predictor_or_path: Any, dataset: Any, *,
                     splits: Sequence[str] | None = None, steps: int | None = None,
                     max_samples: int | None = None,
                     trajectories_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    # long function: most of it is the docstring (the results schema); the body is a short
    # loop over splits and resolutions whose pieces are already helpers
    """Roll a one-step model out on a dataset's test splits (every resolution).

    Args:
        predictor_or_path: Predictor, Surrogate, Artifact or artifact path (recipe with a
            ``rollout`` layout).
        dataset: a ``gnnops.data`` Dataset or its path.
        splits: splits to evaluate (default: every test split).
        steps: rollout steps (default and maximum: the stored trajectory's).
        max_samples: cap on samples per split and resolution.
        trajectories_dir: when given, the first sample of each split / resolution is written
            there (meshes ``<split>_res<k>.pvd`` + VTUs with predicted, true and error
            fields; networks ``<split>_res<k>.graphml`` in the time-series layout).

    Returns:
        ``{"model", "parameters", "problem", "targets", "dataset", "artifact", "train_stats",
        "training", "task": "rollout", "rows": [{"split", "setting", "resolution", "nodes",
        "samples", "steps", "norm_l1", "norm_l1_std", "rel_l2", "rel_l2_std", "residual",
        "residual_reference", "seconds_per_sample", "one_step_rel_l2" (mean over steps),
        "one_step_first", "one_step_last", "one_step_max"}], "curves": [{"split",
        "resolution", "setting", "times", "norm_l1", "rel_l2", "one_step_rel_l2" ([k]: the
        teacher-forced one-step error from the reference state at times[j])}],
        "trajectories": [paths]}``.
    """
    from gnnops.data import open_dataset
    from gnnops.evaluation.metrics import as_predictor, default_splits
    from gnnops.surrogate.stepping import state_times

    pred_ = as_predictor(predictor_or_path)
    layout = _rollout_layout(pred_)
    ds = dataset if hasattr(dataset, "load") else open_dataset(dataset)
    splits = list(splits) if splits else default_splits(ds)
    ts = state_times(layout)
    k_max = len(ts) - 1
    k = k_max if steps is None else min(int(steps), k_max)
    names = [layout.initial, *layout.static]
    sur = pred_.surrogate.eval()
    rows, curves, written = [], [], []
    for split in splits:
        for res in ds.manifest["splits"][split]["resolutions"]:
            graphs = ds.load(split, res, inputs=names, targets=[layout.state])
            graphs = graphs[:max_samples] if max_samples else graphs
            samples = [_rollout_sample(sur, g, layout, names, ts, k) for g in graphs]
            if not graphs:
                continue
            if trajectories_dir is not None:
                written.append(_write_sample(graphs[0], samples[0], layout, ts[:k + 1],
                                             Path(trajectories_dir) / f"{split}_res{res}"))
            row, curve = _rollout_row(samples, split, int(res),
                                      setting_of(split, int(res), ds.manifest), ts, k)
            rows.append(row)
            curves.append(curve)
    desc = pred_.describe()
    return {"model": desc["model"], "parameters": desc["parameters"],
            "problem": layout.problem, "targets": [layout.state],
            "dataset": str(getattr(ds, "root", dataset)), "artifact": desc["artifact"],
            "train_stats": desc["train_stats"], "training": dict(pred_.metrics),
            "task": "rollout", "rows": rows, "curves": curves,
            "trajectories": [str(p) for p in written]}


def _write_example(g: Any, layout: RolloutLayout, pred: np.ndarray, true: np.ndarray,
                   times: np.ndarray, inputs: dict[str, np.ndarray], out: Path,
                   stem: str) -> Path:
    from gnnops.inference.timeseries import series_to_networkx, write_mesh_series

    out.mkdir(parents=True, exist_ok=True)
    name = layout.state
    series = {name: pred, f"{name}_true": true, f"{name}_error": pred - true}
    if getattr(g, "cell_index", None) is not None or getattr(g, "mesh_cells", None):
        static = {k: v for k, v in inputs.items() if k != layout.initial}
        return write_mesh_series(g, series, times, out / f"{stem}.pvd", static=static)
    from gnnops.graphs import write_network

    return write_network(series_to_networkx(g, series, times), out / f"{stem}.graphml")
