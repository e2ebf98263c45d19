"""PNG plots (matplotlib, Agg backend): loss curves and true / predicted / error fields."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_loss_curves", "plot_example"]

_SKIP = {"epoch", "lr", "seconds", "step"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curves(metrics_csv: str | os.PathLike, out_png: str | os.PathLike) -> Path | None:
    """Every numeric column of ``metrics.csv`` (but epoch / lr / seconds) against epoch.

    Returns:
        The PNG path, or ``None`` when the file is missing or has no rows.
    """
    path = Path(metrics_csv)
    if not path.is_file():
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return None
    x = np.array([float(r.get("epoch", i + 1)) for i, r in enumerate(rows)])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for col in rows[0]:
        if col in _SKIP:
            continue
        try:
            y = np.array([float(r[col]) for r in rows])
        except (TypeError, ValueError):
            continue
        ok = np.isfinite(y) & (y > 0)
        if ok.any():
            ax.semilogy(x[ok], y[ok], marker=".", label=col)
    ax.set_xlabel("epoch")
    ax.set_title("training curves")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def _panel(ax: Any, fig: Any, ex: dict[str, Any], values: np.ndarray, title: str) -> None:
    pos = ex.get("pos")
    if pos is None or pos.shape[1] < 2:  # networks without layout: values by node
        ax.plot(values, ".", ms=3)
        ax.set_xlabel("node")
    elif pos.shape[1] == 2:
        import matplotlib.tri as mtri

        cells = ex.get("cells")
        tri = (mtri.Triangulation(pos[:, 0], pos[:, 1], cells)
               if cells is not None and ex.get("cell_type") == "triangle"
               else mtri.Triangulation(pos[:, 0], pos[:, 1]))
        im = ax.tripcolor(tri, values, shading="gouraud", cmap="viridis")
        ax.set_aspect("equal")
        fig.colorbar(im, ax=ax, shrink=0.8)
    else:  # 3D: the boundary surface nodes
        b = ex.get("boundary")
        sel = b if b is not None and b.any() else np.ones(len(pos), bool)
        im = ax.scatter(pos[sel, 0], pos[sel, 1], pos[sel, 2], c=values[sel], s=4,
                        cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)


def plot_example(ex: dict[str, Any], out_png: str | os.PathLike) -> Path:
    """True / predicted / |error| of the first output column of one sample.

    Args:
        ex: an entry of ``evaluate(...)["examples"]`` (``pos`` [N, d], ``true``/``pred``
            [N, F], optional ``cells`` [C, 3], ``boundary`` [N]).
        out_png: target file.
    """
    plt = _pyplot()
    true, pred = np.asarray(ex["true"]), np.asarray(ex["pred"])
    true = true.reshape(len(true), -1)[:, 0]
    pred = pred.reshape(len(pred), -1)[:, 0]
    pos = ex.get("pos")
    three_d = pos is not None and pos.shape[1] == 3
    fig = plt.figure(figsize=(13, 4))
    name = (ex.get("targets") or ["u"])[0]
    for i, (vals, title) in enumerate(((true, f"true {name}"), (pred, f"predicted {name}"),
                                       (np.abs(pred - true), "|error|"))):
        ax = fig.add_subplot(1, 3, i + 1, projection="3d" if three_d else None)
        _panel(ax, fig, ex, vals, title)
    fig.suptitle(f"split {ex['split']}, resolution {ex['resolution']} ({len(true)} nodes)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
