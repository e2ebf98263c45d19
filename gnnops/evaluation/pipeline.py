"""The full run: train -> evaluate on every test split and resolution -> report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["run"]


def run(cfg: Any, *, resume: bool = False) -> Path:
    """Train ``cfg``, evaluate the best model on the test splits, write the report.

    Prints nothing. Under ``torchrun`` only rank 0 evaluates and writes.

    Args:
        cfg: a ``gnnops.training.config.RunConfig``.
        resume: continue from ``run_dir/checkpoints/last.pt``.

    Returns:
        ``run_dir/report.md``.
    """
    if getattr(cfg, "task", "steady") == "rollout":  # time-dependent: one-step + rollout
        from gnnops.evaluation.rollout import run as run_rollout

        return run_rollout(cfg, resume=resume)
    from gnnops.evaluation.metrics import as_predictor, evaluate
    from gnnops.evaluation.report import write_report
    from gnnops.training.trainer import train

    result = train(cfg, resume=resume)
    report = Path(result.run_dir) / "report.md"
    if int(os.environ.get("RANK", "0")) != 0:
        return report
    predictor = as_predictor(result.artifact_path)
    splits = cfg.eval.splits or result.test_splits
    if result.datasets is not None and splits:
        results = evaluate(predictor, result.datasets, splits=splits)
    else:  # data given in memory, or no test split: report the training run only
        desc = predictor.describe()
        results = {"model": desc["model"], "parameters": desc["parameters"],
                   "problem": desc["problem"], "targets": predictor.targets, "dataset": None,
                   "artifact": desc["artifact"], "train_stats": desc["train_stats"],
                   "rows": [], "examples": []}
    results["training"] = dict(result.metrics)
    return write_report(results, result.run_dir, plots=cfg.eval.plots)
