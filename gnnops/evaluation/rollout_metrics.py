"""Rollout evaluation of time-dependent (one-step) models.

For every test split and resolution, each sample is rolled out from its initial state
over the stored trajectory's times and compared with the reference trajectory on the
predicted times (the given initial state excluded):

* normalized L1 (the NDCN metric) ``mean|u_hat - u| / mean|u|`` over nodes and times;
* relative L2 ``||u_hat - u||_2 / ||u||_2`` over nodes and times;
* error against time: both metrics per time step (``curves``), averaged over samples;
* the problem's relative residual of the predicted trajectory (``residual``) and of the
  reference (``residual_reference``; the time-discretization floor).

Each row has a generalization ``setting``: ``"a: new initial states"`` (split ``test`` at
the training resolution), ``"b: larger graphs (xR)"`` (split ``test`` at another
resolution; R = node ratio to training) and ``"c: unseen family <f>"`` (``test_<f>``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gnnops.errors import DataError

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
        return f"c: unseen family {split[5:]}"
    if resolution == tr:
        return "a: new initial states"
    ratio = nodes[resolution] / nodes[tr] if len(nodes) > max(resolution, tr) else None
    return "b: larger graphs" + (f" (x{ratio:.3g})" if ratio else "")


def _per_time(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    err = pred - true
    l1 = np.mean(np.abs(err), axis=0) / np.maximum(np.mean(np.abs(true), axis=0), 1e-300)
    l2 = np.linalg.norm(err, axis=0) / np.maximum(np.linalg.norm(true, axis=0), 1e-300)
    return l1, l2


def evaluate_rollout(predictor_or_path: Any, dataset: Any, *,
                     splits: Sequence[str] | None = None, steps: int | None = None,
                     max_samples: int | None = None,
                     trajectories_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Roll a one-step model out on a dataset's test splits (every resolution).

    Args:
        predictor_or_path: Predictor, Surrogate, Artifact or artifact path (recipe with
            ``"rollout"``).
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
        "residual_reference", "seconds_per_sample"}], "curves": [{"split", "resolution",
        "setting", "times", "norm_l1", "rel_l2"}], "trajectories": [paths]}``.
    """
    import torch

    from gnnops.data import open_dataset
    from gnnops.evaluation.metrics import as_predictor, default_splits
    from gnnops.inference.trajectory import trajectory_residual
    from gnnops.surrogate.stepping import full_states, rollout, state_times

    pred_ = as_predictor(predictor_or_path)
    layout = pred_.recipe.get("rollout")
    if layout is None:
        raise DataError("rollout evaluation needs a time-dependent (one-step) model; this "
                        "artifact's recipe has no 'rollout' entry")
    ds = dataset if hasattr(dataset, "load") else open_dataset(dataset)
    splits = list(splits) if splits else default_splits(ds)
    ts = state_times(layout)
    k_max = len(ts) - 1
    k = k_max if steps is None else min(int(steps), k_max)
    names = [layout["initial"], *layout["static"]]
    sur = pred_.surrogate.eval()
    rows, curves, written = [], [], []
    for split in splits:
        for res in ds.manifest["splits"][split]["resolutions"]:
            graphs = ds.load(split, res, inputs=names, targets=[layout["state"]])
            graphs = graphs[:max_samples] if max_samples else graphs
            l1s, l2s, c1, c2, resid, ref, secs, nodes = [], [], [], [], [], [], [], []
            for i, g in enumerate(graphs):
                s, static = full_states(g, layout)
                t0 = time.perf_counter()
                p = rollout(sur, g, s[:, 0], static, np.diff(ts)[:k], layout=layout)
                secs.append(time.perf_counter() - t0)
                true, pr = s[:, :k + 1].double().numpy(), p.double().numpy()
                l1s.append(normalized_l1(pr[:, 1:], true[:, 1:]))
                l2s.append(float(np.linalg.norm(pr[:, 1:] - true[:, 1:])
                                 / max(np.linalg.norm(true[:, 1:]), 1e-300)))
                a, b = _per_time(pr, true)
                c1.append(a)
                c2.append(b)
                nodes.append(int(g.num_nodes))
                inputs = {n: g.x[:, j].double().numpy() for j, n in enumerate(names)}
                if bool(torch.isfinite(p).all()):
                    resid.append(trajectory_residual(layout, g, pr, inputs,
                                                     times=ts[:k + 1])[0])
                ref.append(trajectory_residual(layout, g, true, inputs, times=ts[:k + 1])[0])
                if trajectories_dir is not None and i == 0:
                    written.append(_write_example(g, layout, pr, true, ts[:k + 1], inputs,
                                                  Path(trajectories_dir), f"{split}_res{res}"))
            if not graphs:
                continue
            setting = setting_of(split, int(res), ds.manifest)
            rows.append({
                "split": split, "setting": setting, "resolution": int(res),
                "nodes": float(np.mean(nodes)), "samples": len(graphs), "steps": k,
                "norm_l1": float(np.mean(l1s)), "norm_l1_std": float(np.std(l1s)),
                "rel_l2": float(np.mean(l2s)), "rel_l2_std": float(np.std(l2s)),
                "residual": float(np.mean(resid)) if resid else None,
                "residual_reference": float(np.mean(ref)) if ref else None,
                "seconds_per_sample": float(np.mean(secs)),
            })
            curves.append({"split": split, "resolution": int(res), "setting": setting,
                           "times": ts[:k + 1].tolist(),
                           "norm_l1": np.mean(c1, axis=0).tolist(),
                           "rel_l2": np.mean(c2, axis=0).tolist()})
    desc = pred_.describe()
    return {"model": desc["model"], "parameters": desc["parameters"],
            "problem": layout["problem"], "targets": [layout["state"]],
            "dataset": str(getattr(ds, "root", dataset)), "artifact": desc["artifact"],
            "train_stats": desc["train_stats"], "training": dict(pred_.metrics),
            "task": "rollout", "rows": rows, "curves": curves,
            "trajectories": [str(p) for p in written]}


def _write_example(g: Any, layout: dict[str, Any], pred: np.ndarray, true: np.ndarray,
                   times: np.ndarray, inputs: dict[str, np.ndarray], out: Path,
                   stem: str) -> Path:
    from gnnops.inference.timeseries import series_to_networkx, write_mesh_series

    out.mkdir(parents=True, exist_ok=True)
    name = layout["state"]
    series = {name: pred, f"{name}_true": true, f"{name}_error": pred - true}
    if getattr(g, "cell_index", None) is not None or getattr(g, "mesh_cells", None):
        static = {k: v for k, v in inputs.items() if k != layout["initial"]}
        return write_mesh_series(g, series, times, out / f"{stem}.pvd", static=static)
    from gnnops.graphs import write_network

    return write_network(series_to_networkx(g, series, times), out / f"{stem}.graphml")
