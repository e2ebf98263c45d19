"""The per-epoch record of a training run: ``metrics.csv`` and the progress log line.

``metrics.csv`` has one row per epoch (:data:`CSV_FIELDS`); it is rewritten atomically
after every epoch, so a kill never leaves it truncated, and a resumed run keeps the rows up
to its checkpoint. :func:`epoch_line` is the INFO line the trainer logs per epoch.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from gnnops._atomic import atomic_open

__all__ = ["CSV_FIELDS", "write_csv", "read_csv", "epoch_line"]

CSV_FIELDS = ("epoch", "train_loss", "val_rel_l2", "lr", "seconds")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``metrics.csv`` (header + ``rows``) atomically."""
    with atomic_open(path, newline="") as fh:  # a kill never truncates metrics.csv
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.csv`` as strings (none when the file is missing)."""
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _duration(seconds: float) -> str:
    s = int(round(seconds))  # m:ss, or h:mm:ss from an hour on
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def epoch_line(row: dict[str, Any], epochs: int, *, elapsed: float, done: int) -> str:
    """The per-epoch log line, e.g. ``epoch 3/40 train_loss 0.0123 val_rel_l2 0.0456 ...``.

    Args:
        row: the metrics.csv row of the epoch (1-based ``epoch``).
        epochs: the configured number of epochs.
        elapsed: seconds spent on the ``done`` epochs run by this process so far.
        done: epochs run by this process so far (>= 1); the ETA assumes their mean time.
    """
    eta = elapsed / max(done, 1) * max(epochs - int(row["epoch"]), 0)
    return (f"epoch {row['epoch']}/{epochs} train_loss {row['train_loss']:.4g} "
            f"val_rel_l2 {row['val_rel_l2']:.4g} lr {row['lr']:.3g} "
            f"time {row['seconds']:.2f}s eta {_duration(eta)}")
