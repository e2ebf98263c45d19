"""The full run: train -> evaluate on every test split and resolution -> report.

This room sits on top of ``training`` and ``evaluation`` (see ARCHITECTURE.md): it is the
one place that knows a run is "train, then evaluate, then write the report", for steady
operators (``task: steady``) and time-dependent one-step models (``task: rollout``).
``python train.py`` and ``gnnops train`` both call :func:`run` through
:mod:`gnnops.runs.cli`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gnnops._atomic import clean_stale_temps, folder_lock, storage_error
from gnnops.errors import ConfigError
from gnnops.evaluation.metrics import as_predictor, evaluate
from gnnops.evaluation.report import write_report
from gnnops.evaluation.rollout_metrics import evaluate_rollout
from gnnops.evaluation.rollout_report import write_rollout_report
from gnnops.training.config import RunConfig
from gnnops.training.rollout_train import train_rollout
from gnnops.training.trainer import train

__all__ = ["run", "run_steady", "run_rollout", "run_folder_lock"]


def _main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def run(cfg: RunConfig, *, resume: bool = False, eval_threads: int = 0) -> Path:
    """Train ``cfg``, evaluate the best model on the test splits, write the report.

    Prints nothing. Under ``torchrun`` only rank 0 evaluates and writes. The run folder is
    locked for the duration (:func:`run_folder_lock`).

    Args:
        cfg: the run config.
        resume: continue from ``run_dir/checkpoints/last.pt``.
        eval_threads: torch CPU threads for the evaluation after training (0 = unchanged;
            :mod:`gnnops.runs.launch` gives rank 0 every CPU once the other ranks are done).

    Returns:
        ``run_dir/report.md``.
    """
    with run_folder_lock(cfg):
        if cfg.task == "rollout":
            return run_rollout(cfg, resume=resume, eval_threads=eval_threads)
        return run_steady(cfg, resume=resume, eval_threads=eval_threads)


@contextmanager
def run_folder_lock(cfg: RunConfig) -> Iterator[None]:
    """Hold the run folder's lock for the whole run (rank 0; other ranks share it).

    A second run with the same ``out_dir/name`` fails at once with a ConfigError naming the
    running one's process id, instead of both writing the same checkpoint. Temporaries left
    in the run folder by killed runs (dead processes of this host) are removed. A run
    folder this call created and nothing was written to is removed again.

    Raises:
        ConfigError: another run holds the folder, or ``name`` leads outside ``out_dir``.
        StorageError: the run folder cannot be created.
    """
    if not _main_rank():
        yield
        return
    run_dir, out_dir = Path(cfg.run_dir), Path(cfg.out_dir)
    if os.path.realpath(run_dir.parent) != os.path.realpath(out_dir) or cfg.name in (".", ".."):
        raise ConfigError(f"config key 'name' expects a folder name inside out_dir "
                          f"'{out_dir}' (got {cfg.name!r})")
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, run_dir, "create the run folder") from None
    try:
        with folder_lock(run_dir, what=f"run folder '{run_dir}'"):
            for folder in (run_dir, run_dir / "checkpoints"):
                clean_stale_temps(folder)
            yield
    finally:
        if created:
            try:
                run_dir.rmdir()  # only when still empty
            except OSError:
                pass


def _set_threads(n: int) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def run_steady(cfg: RunConfig, *, resume: bool = False, eval_threads: int = 0) -> Path:
    """``task: steady``: train, evaluate every test split and resolution, write the report."""
    result = train(cfg, resume=resume)
    report = Path(result.run_dir) / "report.md"
    if not _main_rank():
        return report
    _set_threads(eval_threads)
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


def run_rollout(cfg: RunConfig, *, resume: bool = False, eval_threads: int = 0) -> Path:
    """``task: rollout``: train the one-step model, evaluate rollouts, write the report."""
    result = train_rollout(cfg, resume=resume)
    report = Path(result.run_dir) / "report.md"
    if not _main_rank():
        return report
    _set_threads(eval_threads)
    traj = Path(result.run_dir) / "trajectories" if cfg.rollout.write_trajectories else None
    results = evaluate_rollout(as_predictor(result.artifact_path), result.datasets,
                               splits=cfg.eval.splits or result.test_splits,
                               steps=cfg.rollout.steps, max_samples=cfg.rollout.max_samples,
                               trajectories_dir=traj)
    results["training"] = dict(result.metrics)
    return write_rollout_report(results, result.run_dir, plots=cfg.eval.plots)
