"""Report of a rollout evaluation: report.md / report.json, error-vs-time and loss plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_rollout_report", "format_rollout_table", "format_one_step_table",
           "plot_error_vs_time"]


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def format_rollout_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: setting, split, resolution, nodes, samples, steps, metrics, residuals
    and the one-step (teacher-forced) error: mean over steps, first and last step."""
    lines = ["| setting | split | res | nodes | samples | steps | normalized L1 (%) | "
             "rel L2 | one-step rel L2 (%) mean / first / last | residual (pred) | "
             "residual (reference) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['split']} | {r['resolution']} | {r['nodes']:.0f} | "
            f"{r['samples']} | {r['steps']} | {100 * r['norm_l1']:.2f} ± "
            f"{100 * r['norm_l1_std']:.2f} | {r['rel_l2']:.4f} | "
            f"{_pct(r.get('one_step_rel_l2'))} / {_pct(r.get('one_step_first'))} / "
            f"{_pct(r.get('one_step_last'))} | "
            f"{_f(r.get('residual'), '.3e')} | {_f(r.get('residual_reference'), '.3e')} |")
    return "\n".join(lines)


def format_one_step_table(curves: list[dict[str, Any]], *, columns: int = 6) -> str:
    """Markdown table of the one-step relative L2 error (%) by step, ``columns`` steps
    spread over the trajectory (first and last included); empty without such curves."""
    curves = [c for c in curves if c.get("one_step_rel_l2")]
    if not curves:
        return ""
    k = len(curves[0]["one_step_rel_l2"])
    steps = sorted({round(i * (k - 1) / max(columns - 1, 1)) for i in range(columns)})
    lines = ["| split | res | " + " | ".join(f"step {j + 1}" for j in steps) + " |",
             "|---|---|" + "---|" * len(steps)]
    for c in curves:
        v = c["one_step_rel_l2"]
        lines.append(f"| {c['split']} | {c['resolution']} | "
                     + " | ".join(_pct(v[j]) if j < len(v) else "-" for j in steps) + " |")
    return "\n".join(lines)


def plot_error_vs_time(curves: list[dict[str, Any]], out_png: str | os.PathLike) -> Path:
    """Normalized L1 and relative L2 against time, one line per split / resolution."""
    from gnnops.evaluation.plots import _pyplot

    plt = _pyplot()
    one = any(c.get("one_step_rel_l2") for c in curves)
    fig, axes = plt.subplots(1, 3 if one else 2, figsize=(16 if one else 11, 4))
    for c in curves:
        label = f"{c['split']} res{c['resolution']} ({c['setting'].split(':')[0]})"
        for ax, key in zip(axes, ("norm_l1", "rel_l2"), strict=False):
            ax.plot(c["times"][1:], c[key][1:], marker=".", ms=3, label=label)
        if one and c.get("one_step_rel_l2"):
            axes[2].plot(c["times"][:-1][:len(c["one_step_rel_l2"])], c["one_step_rel_l2"],
                         marker=".", ms=3, label=label)
    titles = ("normalized L1  mean|u_hat-u| / mean|u|", "relative L2  ||u_hat-u|| / ||u||",
              "one-step rel L2 from the reference state at t")
    for ax, title in zip(axes, titles, strict=False):
        ax.set_xlabel("time")
        ax.set_title(title, fontsize=9)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("rollout error against time")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def write_rollout_report(results: dict[str, Any], run_dir: str | os.PathLike, *,
                         plots: bool = True) -> Path:
    # long function: a flat sequence of report sections; splitting it would only pass the
    # same lines list between helpers
    """Write ``report.md``, ``report.json``, ``rollout_error.png`` and ``loss.png``.

    Args:
        results: :func:`gnnops.evaluation.rollout_metrics.evaluate_rollout` output (``training`` may
            hold the trainer's metrics).
        run_dir: output folder (created).
        plots: write the PNG plots.

    Returns:
        The path of ``report.md``.
    """
    from gnnops.evaluation.plots import plot_loss_curves
    from gnnops.evaluation.report import _jsonable, _write_text

    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if plots:
        loss = plot_loss_curves(out / "metrics.csv", out / "loss.png")
        if loss is not None:
            written.append(loss.name)
        if results.get("curves"):
            written.append(plot_error_vs_time(results["curves"], out / "rollout_error.png").name)
    tr = results.get("training", {}) or {}
    trajs = [os.path.relpath(p, out) for p in results.get("trajectories", [])]
    lines = [
        f"# Rollout evaluation: {results.get('model')} on {results.get('problem')}",
        "",
        f"- model: {results.get('model')} ({results.get('parameters', 0):,} parameters), "
        "one step s_k -> s_k+1 - s_k, rolled out autoregressively from the initial state",
        f"- dataset: {results.get('dataset')}",
        f"- artifact: {results.get('artifact')}",
        f"- training time: {_f(tr.get('train_seconds'), '.4g')} s; epochs: "
        f"{tr.get('epochs_run', '-')}; one-step pairs: {tr.get('pairs_train', '-')}; best "
        f"validation one-step rel L2: {_f(tr.get('best_val_rel_l2'), '.4g')}",
        "",
        "Settings: (a) new initial states on graphs of the training size, (b) larger graphs "
        "(finer meshes), (c) graph families / geometries not trained on. Normalized L1 = "
        "mean|u_hat - u| / mean|u| (NDCN), relative L2 = ||u_hat - u|| / ||u||, over nodes "
        "and rolled-out times; one-step rel L2 = ||model(s_j) - (s_j+1 - s_j)|| / "
        "||s_j+1 - s_j|| from the reference state s_j (no accumulated error); residual = "
        "relative residual of the predicted trajectory (reference: the stored solution, "
        "i.e. the time-discretization floor).",
        "",
        format_rollout_table(results.get("rows", [])),
        "",
    ]
    one = format_one_step_table(results.get("curves", []))
    if one:
        lines += ["One-step relative L2 error (%) by step (teacher forced, mean over samples):",
                  "", one, ""]
    if trajs:
        lines += ["Trajectories (first sample per split / resolution; .pvd opens as an "
                  "animation in ParaView, .graphml holds <state>_t000... node attributes):", ""]
        lines += [f"- [{p}]({p})" for p in trajs] + [""]
    lines += [f"![{name}]({name})" for name in written]
    report = out / "report.md"
    _write_text(report, "\n".join(lines) + "\n")
    data = dict(results)
    data["plots"] = written
    _write_text(out / "report.json", json.dumps(_jsonable(data), indent=1) + "\n")
    return report
