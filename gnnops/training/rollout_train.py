"""``train_rollout(cfg)``: trajectories -> one-step pairs -> :func:`gnnops.training.trainer.train`.

The dataset (``data.generate`` or ``data.path``, a generated folder of a time-dependent
problem) is loaded at its training resolution; every train / val trajectory becomes its
one-step pairs (:func:`gnnops.surrogate.stepping.one_step_pairs`); the ordinary trainer
fits a :class:`~gnnops.surrogate.stepping.RolloutSurrogate` on them (validation metric:
relative L2 of the one-step increments). The artifact's recipe carries the rollout
layout (``recipe.rollout``), so prediction knows how to roll the model out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gnnops.errors import ConfigError, DataError
from gnnops.surrogate.recipe import RolloutLayout
from gnnops.surrogate.stepping import (
    RolloutSurrogate,
    one_step_pairs,
    step_input_names,
    trajectory_layout,
)
from gnnops.training.config import RunConfig
from gnnops.training.trainer import TrainResult, train

__all__ = ["RolloutData", "load_trajectories", "train_rollout", "increment_name"]


def increment_name(layout: RolloutLayout) -> str:
    """Name of the one-step target: ``<state>_increment``."""
    return f"{layout.state}_increment"


@dataclass
class RolloutData:
    """The trajectories of a run: dataset, layout and raw train / val samples."""

    dataset: Any
    layout: RolloutLayout
    train: list[Any]
    val: list[Any]


def load_trajectories(cfg: RunConfig) -> RolloutData:
    """Generate (once, cached) or open the run's dataset and load its train / val trajectories.

    Raises:
        ConfigError: no data source, or a problem that is not time-dependent.
        DataError: a dataset without a problem or without train samples.
    """
    from gnnops.data import open_dataset
    from gnnops.training.datasource import generate_run_dataset

    d = cfg.data
    if d.generate is not None:
        path = generate_run_dataset(cfg)
    elif d.path is not None:
        path = d.path
    else:
        raise ConfigError("no training data: set data.generate (a dataset spec) or data.path")
    ds = open_dataset(path)
    if ds.problem is None:
        raise DataError(f"task 'rollout' needs a generated dataset of a time-dependent problem; "
                        f"'{path}' names no problem")
    solver = dict((ds.manifest.get("spec") or {}).get("solver_options") or {})
    layout = trajectory_layout(ds.problem, solver, dt_feature=cfg.rollout.dt_feature,
                               anchor=cfg.rollout.anchor)
    ins = [layout.initial, *layout.static]
    if "train" not in ds.splits:
        raise DataError(f"dataset '{path}' has no 'train' split (splits: {', '.join(ds.splits)})")
    train_g = ds.load("train", inputs=ins, targets=[layout.state])
    val_g = ds.load("val", inputs=ins, targets=[layout.state]) if "val" in ds.splits else []
    return RolloutData(ds, layout, train_g, val_g)


def train_rollout(cfg: RunConfig, *, resume: bool = False,
                  data: RolloutData | None = None) -> TrainResult:
    """Train a one-step model on the run's trajectories (``task: rollout``).

    Args:
        cfg: the run config (``cfg.rollout`` section; ``data.inputs`` / ``data.targets`` are
            set here from the problem).
        resume: continue from ``checkpoints/last.pt``.
        data: already loaded trajectories (default :func:`load_trajectories`).

    Returns:
        The trainer's :class:`TrainResult` with ``datasets`` and ``test_splits`` filled in.
    """
    rd = data if data is not None else load_trajectories(cfg)
    layout = rd.layout
    keep_pos = "pos" in (cfg.data.features or []) or rd.dataset.kind == "mesh"
    pairs_tr = [p for g in rd.train for p in one_step_pairs(g, layout, keep_pos=keep_pos)]
    pairs_va = [p for g in rd.val for p in one_step_pairs(g, layout, keep_pos=keep_pos)]
    run_cfg = copy.deepcopy(cfg)
    run_cfg.data.inputs = step_input_names(layout)
    run_cfg.data.targets = [increment_name(layout)]
    result = train(run_cfg, resume=resume, train_data=pairs_tr, val_data=pairs_va or None,
                   make_surrogate=lambda sur: RolloutSurrogate.wrap(
                       sur, noise_std=cfg.rollout.noise_std, layout=layout))
    result.datasets = rd.dataset
    result.test_splits = [s for s in rd.dataset.splits if s not in ("train", "val")]
    result.metrics["pairs_train"] = len(pairs_tr)
    result.metrics["pairs_val"] = len(pairs_va)
    return result
