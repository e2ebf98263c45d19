"""Optional TensorBoard output of a training run (``pip install 'gnnops[tensorboard]'``).

Enabled by the config key ``train.tensorboard: true``; the run folder then gets ``tb/``
with the scalars ``train_loss``, ``val_rel_l2`` and ``lr`` every ``train.log_every``
epochs and, every ``train.tensorboard_image_every`` epochs, a figure ``fields/val0``:
truth, prediction and error of the first validation sample (first output column), truth
and prediction on one colour scale. View with ``tensorboard --logdir <run folder>/tb``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gnnops.errors import MissingDependencyError

__all__ = ["TensorBoardLog", "open_tensorboard", "field_figure"]

SCALARS = ("train_loss", "val_rel_l2", "lr")


def open_tensorboard(run_dir: Path, *, enabled: bool, log_every: int = 1,
                     image_every: int = 10) -> TensorBoardLog | None:
    """A :class:`TensorBoardLog` writing to ``run_dir/tb``, or ``None`` when not enabled.

    Raises:
        MissingDependencyError: enabled, but the ``tensorboard`` package is not installed.
    """
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises ImportError when tensorboard is absent
        raise MissingDependencyError("train.tensorboard=true", "tensorboard",
                                     "tensorboard") from exc
    return TensorBoardLog(SummaryWriter(str(run_dir / "tb")), log_every=log_every,
                          image_every=image_every)


class TensorBoardLog:
    """Scalars and field images of a training run in one TensorBoard event folder.

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter``.
        log_every: epochs between scalar points.
        image_every: epochs between field images (0 = never).
    """

    def __init__(self, writer: Any, *, log_every: int = 1, image_every: int = 10) -> None:
        self.writer = writer
        self.log_every = max(int(log_every), 1)
        self.image_every = int(image_every)

    def epoch(self, epoch: int, row: dict[str, float], *, last: bool = False,
              sample: Any = None, predict: Any = None) -> None:
        """Write the points of one finished epoch (1-based ``epoch``).

        Args:
            row: ``{"train_loss", "val_rel_l2", "lr", ...}`` as in metrics.csv.
            last: the final epoch (always gets its scalars and image).
            sample: a prepared validation graph with ``y: [N, C]`` (physical units).
            predict: ``f(sample) -> Tensor [N, C]``, the prediction in physical units.
        """
        if last or epoch % self.log_every == 0:
            for key in SCALARS:
                self.writer.add_scalar(key, float(row[key]), epoch)
        if (sample is not None and predict is not None and self.image_every > 0
                and (last or epoch % self.image_every == 0)):
            with torch.no_grad():
                pred = predict(sample)
            fig = field_figure(sample.y, pred, pos=getattr(sample, "pos", None),
                               title=f"epoch {epoch}")
            self.writer.add_figure("fields/val0", fig, epoch, close=True)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def field_figure(truth: Tensor, pred: Tensor, *, pos: Tensor | None = None,
                 title: str = "") -> Any:
    """Truth | prediction | error of the first output column as a matplotlib figure.

    Args:
        truth: ``[N]`` or ``[N, C]`` target values.
        pred: same shape as ``truth``.
        pos: ``[N, D]`` node positions; with ``D >= 2`` the fields are scattered over
            ``(x, y)``, otherwise drawn against the node index.
        title: figure title.

    Returns:
        A ``matplotlib.figure.Figure`` (Agg canvas, never shown).
    """
    from matplotlib.figure import Figure

    t = truth.detach().float().reshape(truth.shape[0], -1)[:, 0].cpu().numpy()
    p = pred.detach().float().reshape(pred.shape[0], -1)[:, 0].cpu().numpy()
    err = p - t
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    emax = float(abs(err).max()) or 1.0
    fig = Figure(figsize=(12, 3.6))
    axes = fig.subplots(1, 3)
    xy = None if pos is None or pos.ndim != 2 or pos.shape[1] < 2 else pos[:, :2].cpu().numpy()
    panels = (("truth", t, "viridis", lo, hi), ("prediction", p, "viridis", lo, hi),
              ("error", err, "coolwarm", -emax, emax))
    for ax, (name, v, cmap, vmin, vmax) in zip(axes, panels, strict=True):
        if xy is not None:
            art = ax.scatter(xy[:, 0], xy[:, 1], c=v, s=4, cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_aspect("equal")
            fig.colorbar(art, ax=ax)
        else:
            ax.plot(v, ".", ms=3)
            if vmax > vmin:
                ax.set_ylim(vmin, vmax)
            ax.set_xlabel("node")
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    return fig
