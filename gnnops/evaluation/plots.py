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


def _triangulation(ex: dict[str, Any]) -> Any:
    """The sample's own triangles when it has them, else a Delaunay triangulation."""
    import matplotlib.tri as mtri

    pos, cells = ex["pos"], ex.get("cells")
    if cells is not None and ex.get("cell_type") == "triangle":
        return mtri.Triangulation(pos[:, 0], pos[:, 1], cells)
    return mtri.Triangulation(pos[:, 0], pos[:, 1])


def _panel(ax: Any, fig: Any, ex: dict[str, Any], values: np.ndarray, title: str, *,
           vmin: float, vmax: float, cmap: str) -> None:
    """One field on the mesh (2-D), the boundary nodes (3-D) or by node (networks), with
    the colour limits ``[vmin, vmax]`` (networks: the y limits)."""
    pos = ex.get("pos")
    if pos is None or pos.shape[1] < 2:  # networks without layout: values by node
        ax.plot(values, ".", ms=3)
        ax.set_xlabel("node")
        ax.set_ylim(vmin - 0.05 * (vmax - vmin + 1e-300), vmax + 0.05 * (vmax - vmin + 1e-300))
    elif pos.shape[1] == 2:
        im = ax.tripcolor(_triangulation(ex), values, shading="gouraud", cmap=cmap,
                          vmin=vmin, vmax=vmax)
        ax.set_aspect("equal")
        fig.colorbar(im, ax=ax, shrink=0.8)
    else:  # 3D: the boundary surface nodes
        b = ex.get("boundary")
        sel = b if b is not None and b.any() else np.ones(len(pos), bool)
        im = ax.scatter(pos[sel, 0], pos[sel, 1], pos[sel, 2], c=values[sel], s=4,
                        cmap=cmap, vmin=vmin, vmax=vmax)
        fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)


def _mesh_panel(ax: Any, ex: dict[str, Any]) -> None:
    """The triangulation's edges (the resolution the fields are shown at)."""
    tri = _triangulation(ex)
    ax.triplot(tri, color="k", lw=0.3 if len(tri.triangles) < 20_000 else 0.1)
    ax.set_aspect("equal")
    ax.set_title(f"mesh: {len(tri.x)} nodes, {len(tri.triangles)} triangles", fontsize=9)


def plot_example(ex: dict[str, Any], out_png: str | os.PathLike) -> Path:
    """True / predicted / error of the first output column of one sample, and its mesh.

    Truth and prediction share one colour scale (the range of both); the error
    ``pred - true`` has its own scale, symmetric about 0 (a diverging map); 2-D samples get
    a fourth panel with the triangulation's edges, so each resolution's figure shows its
    mesh.

    Args:
        ex: an entry of ``evaluate(...)["examples"]`` (``pos`` [N, d], ``true``/``pred``
            [N, F], optional ``cells`` [C, 3], ``boundary`` [N]).
        out_png: target file.
    """
    plt = _pyplot()
    true, pred = np.asarray(ex["true"]), np.asarray(ex["pred"])
    true = true.reshape(len(true), -1)[:, 0]
    pred = pred.reshape(len(pred), -1)[:, 0]
    err = pred - true
    pos = ex.get("pos")
    three_d = pos is not None and pos.shape[1] == 3
    mesh = pos is not None and pos.shape[1] == 2
    fig = plt.figure(figsize=(17 if mesh else 13, 4))
    name = (ex.get("targets") or ["u"])[0]
    both = np.concatenate([true, pred])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    fin = np.abs(err[np.isfinite(err)])
    e = float(fin.max()) if len(fin) and fin.max() > 0 else 1.0
    panels = ((true, f"true {name}", lo, hi, "viridis"),
              (pred, f"predicted {name}", lo, hi, "viridis"),
              (err, "error (predicted - true)", -e, e, "RdBu_r"))
    cols = 4 if mesh else 3
    for i, (vals, title, vmin, vmax, cmap) in enumerate(panels):
        ax = fig.add_subplot(1, cols, i + 1, projection="3d" if three_d else None)
        _panel(ax, fig, ex, vals, title, vmin=vmin, vmax=vmax, cmap=cmap)
    if mesh:
        _mesh_panel(fig.add_subplot(1, cols, 4), ex)
    fig.suptitle(f"split {ex['split']}, resolution {ex['resolution']} ({len(true)} nodes)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
