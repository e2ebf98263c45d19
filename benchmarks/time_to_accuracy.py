"""Time to accuracy: wall time of training until the validation error first reaches a target.

Reads finished run folders (``metrics.csv``: per-epoch seconds and validation relative L2,
``config.yaml``: the model) and prints, per run, the cumulative training seconds and
epochs at which ``val_rel_l2`` first falls to each target (``—`` when it never does), the
best validation error and the total training time. The seconds are what the trainer
measured per epoch on the machine the run was made on, so compare runs made under the
same conditions (the README table says which).

    python benchmarks/time_to_accuracy.py runs/darcy_default runs/darcy_gno_cmp \\
        --targets 0.2 0.1 0.07
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml


def first_reach(rows: list[dict[str, float]], target: float) -> tuple[float, int] | None:
    """``(cumulative seconds, epoch)`` of the first epoch with ``val_rel_l2 <= target``."""
    total = 0.0
    for r in rows:
        total += r["seconds"]
        if r["val_rel_l2"] <= target:
            return total, int(r["epoch"])
    return None


def read_run(run: Path) -> tuple[str, list[dict[str, float]]]:
    """The model name of ``run`` and its metrics rows (floats)."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    with open(run / "metrics.csv", newline="") as fh:
        rows = [{k: float(v) for k, v in r.items() if v not in ("", None)}
                for r in csv.DictReader(fh)]
    return str(cfg.get("model", {}).get("name")), rows


def table(runs: list[Path], targets: list[float]) -> str:
    """The markdown table of ``runs`` against ``targets``."""
    head = ["run", "model"] + [f"val ≤ {t:g}: s (epoch)" for t in targets] + [
        "best val", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        model, rows = read_run(run)
        cells = [run.name, model]
        for t in targets:
            hit = first_reach(rows, t)
            cells.append("—" if hit is None else f"{hit[0]:.0f} ({hit[1]})")
        cells.append(f"{min(r['val_rel_l2'] for r in rows):.4f}")
        cells.append(f"{sum(r['seconds'] for r in rows):.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (metrics.csv, config.yaml)")
    ap.add_argument("--targets", nargs="+", type=float, default=[0.2, 0.1, 0.07])
    args = ap.parse_args()
    print(table(args.runs, args.targets))


if __name__ == "__main__":
    main()
