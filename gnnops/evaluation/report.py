"""``write_report``: report.md (table per split / resolution), report.json and PNG plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gnnops._atomic import atomic_open

__all__ = ["write_report", "format_table"]


def _f(v: Any, fmt: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, fmt)
    return str(v)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table: split, resolution, h, nodes, samples, rel L2, residuals."""
    head = ("| split | resolution | h | nodes | samples | rel L2 (mean ± std) | "
            "residual (pred) | residual (reference) |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['resolution']} | {_f(r.get('h'))} | {r['nodes']:.0f} | "
            f"{r['samples']} | {r['rel_l2']:.4f} ± {r['rel_l2_std']:.4f} | "
            f"{_f(r.get('residual'), '.3e')} | {_f(r.get('residual_reference'), '.3e')} |"
        )
    return "\n".join(lines)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def write_report(results: dict[str, Any], run_dir: str | os.PathLike, *, plots: bool = True,
                 metrics_csv: str | os.PathLike | None = None) -> Path:
    """Write ``report.md``, ``report.json`` and the plots into ``run_dir``.

    Args:
        results: the dict returned by :func:`gnnops.evaluation.evaluate` (``training`` may
            carry the trainer's metrics, e.g. ``train_seconds``).
        run_dir: output folder (created).
        plots: write ``loss.png`` (from ``metrics_csv``) and ``field_<split>_res<k>.png``.
        metrics_csv: training curves (default ``run_dir/metrics.csv``).

    Returns:
        The path of ``report.md``.
    """
    from gnnops.evaluation.plots import plot_example, plot_loss_curves

    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if plots:
        loss = plot_loss_curves(metrics_csv or out / "metrics.csv", out / "loss.png")
        if loss is not None:
            written.append(loss.name)
        for ex in results.get("examples", []):
            p = plot_example(ex, out / f"field_{ex['split']}_res{ex['resolution']}.png")
            written.append(p.name)
    tr = results.get("training", {}) or {}
    lines = [
        f"# Evaluation: {results.get('model')} on {results.get('problem') or 'user data'}",
        "",
        f"- model: {results.get('model')} ({results.get('parameters', 0):,} parameters)",
        f"- problem: {results.get('problem')}; targets: {', '.join(results.get('targets', []))}",
        f"- dataset: {results.get('dataset')}",
        f"- artifact: {results.get('artifact')}",
        f"- training time: {_f(tr.get('train_seconds'))} s; epochs: {_f(tr.get('epochs_run'))}; "
        f"best validation rel L2: {_f(tr.get('best_val_rel_l2'))}",
        "",
        "Relative L2 = (sum_i w_i |u_pred - u|^2 / sum_i w_i |u|^2)^(1/2) per sample, w_i = "
        "the node's volume (lumped mass) on meshes, 1 on networks, mean over the samples; "
        "residual = relative discrete physics residual (reference: the stored solution); "
        "h = the spec's mesh size (generated data) or the mean edge length (your meshes).",
        "",
        format_table(results.get("rows", [])),
        "",
    ]
    lines += [f"![{name}]({name})" for name in written]
    report = out / "report.md"
    _write_text(report, "\n".join(lines) + "\n")
    data = {k: v for k, v in results.items() if k != "examples"}
    data["plots"] = written
    _write_text(out / "report.json", json.dumps(_jsonable(data), indent=1) + "\n")
    return report
