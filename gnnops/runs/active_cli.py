"""``gnnops active``: residual-driven active learning from a run config with an ``active:``
section (see :mod:`gnnops.runs.active`).

The config is an ordinary steady run config whose ``data.generate`` names the problem,
geometries and mesh size of the candidate pool, plus::

    active:
      strategy: estimate      # estimate | random (the baseline)
      initial: 8              # random solves before the first training
      rounds: 4               # select / solve / retrain rounds
      per_round: 8            # solves per round
      pool_size: 200          # unsolved candidates to choose from
      pool_weights: {}        # geometry -> relative count in the pool (others 1)
      pool_options: {}        # problem_options of the pool only (test set: data.generate)
      score: total            # total | algebraic (part of the error estimate to rank by)
      selection: top          # top (largest scores) | proportional (drawn ∝ score/mean + floor)
      floor: 1.0              # proportional: uniform share added to score / mean(score)
      max_share: 1.0          # most of a round from one geometry (1 = no guard)
      test_size: 0            # solved test samples for the error curve (outside the budget)
      warm_start: false       # start each round from the previous weights
      seed: null              # default: the run's seed

Overrides ``key.sub=value`` apply to the whole document (``active.rounds=2`` too). Prints one
line per round (solver calls, test error) and the run folder; ``run_dir/active.json`` holds
the history, ``run_dir/round_<r>/model.pt`` each round's model.
"""

from __future__ import annotations

import argparse
from typing import Any

from gnnops._log import add_verbosity_arguments

__all__ = ["add_arguments", "run", "load_active_config"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``active`` options to ``parser``."""
    parser.add_argument("--config", "-c", required=True,
                        help="YAML run config with data.generate and an 'active:' section")
    add_verbosity_arguments(parser, quiet_help="only warnings and errors")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="config overrides, e.g. active.strategy=random optim.epochs=10")


def load_active_config(path: str, overrides: list[str] | tuple[str, ...] = ()
                       ) -> tuple[Any, Any]:
    """``(RunConfig, ActiveConfig)`` of a YAML file, both checked by the typed validator.

    Raises:
        ConfigError: missing file, bad YAML, unknown key (with "did you mean"), bad value.
    """
    from pathlib import Path

    from gnnops._yaml import read_yaml
    from gnnops.errors import ConfigError
    from gnnops.runs.active import ActiveConfig
    from gnnops.training.config import apply_overrides, check_model_kwargs, config_from_dict

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"expected a YAML config file at '{p}' (not found)")
    doc = read_yaml(p, "run config")
    if not isinstance(doc, dict):
        raise ConfigError(f"expected a mapping of config keys in '{p}' "
                          f"(got {type(doc).__name__})")
    doc = apply_overrides(doc, overrides)
    active = ActiveConfig.from_dict(doc.pop("active", None) or {}, where="active")
    cfg = config_from_dict(doc)
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    if cfg.data.generate is None:
        raise ConfigError("gnnops active expects data.generate (the problem, geometries and "
                          "mesh size of the candidate pool), got none")
    cfg.data.generate.check_problem(where="data.generate")
    return cfg, active


def run(args: argparse.Namespace) -> int:
    """Run the active learning loop as ``args`` say; returns the exit code."""
    cfg, active = load_active_config(args.config, args.overrides)
    if args.quiet:
        cfg.train.progress = False
    from gnnops.runs.active import run_active
    from gnnops.runs.pipeline import run_folder_lock

    with run_folder_lock(cfg):
        result = run_active(cfg, active)
    for row in result.rows:
        err = row["test_rel_l2"]
        print(f"round {row['round']}: {row['solver_calls']} solver calls, "
              f"test rel L2 {'-' if err is None else f'{err:.4g}'}")
    print(f"run folder: {cfg.run_dir}")
    return 0
