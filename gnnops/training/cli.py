"""``gnnops train`` and ``python train.py``: parse a config and overrides, train, evaluate.

``run`` calls ``gnnops.evaluation.pipeline.run(cfg, resume=...)`` (train, evaluate,
report) when the evaluation room is installed, else :func:`gnnops.training.trainer.train`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from gnnops.errors import GnnopsError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``parser``."""
    parser.add_argument("--config", "-c", default=None,
                        help="YAML run config (default: the built-in small Darcy run)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <out_dir>/<name>/checkpoints/last.pt")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="config overrides, e.g. optim.lr=3e-4 model.kwargs.width=32")


def _pipeline() -> object | None:
    name = "gnnops.evaluation.pipeline"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, "gnnops.evaluation"):
            raise
        return None


def run(args: argparse.Namespace) -> int:
    """Train (and evaluate when available) as ``args`` say; returns the exit code."""
    from gnnops.training.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.quiet:
        cfg.train.progress = False
    main_rank = int(os.environ.get("RANK", "0")) == 0
    pipeline = _pipeline()
    if pipeline is not None:
        report = pipeline.run(cfg, resume=args.resume)
        if main_rank:
            print(f"run folder: {cfg.run_dir}")
            print(f"report: {report}")
        return 0
    from gnnops.training.trainer import train

    result = train(cfg, resume=args.resume)
    if main_rank:
        best = result.metrics.get("best_val_rel_l2")
        print(f"run folder: {result.run_dir}")
        print(f"model: {result.artifact_path} (best validation relative L2 {best:.4g})")
        print("report: not written (gnnops.evaluation is not installed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``train.py``: GnnopsError -> one line on stderr, exit code 2."""
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except GnnopsError as exc:
        print(f"train.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train.py: interrupted (resume with --resume)", file=sys.stderr)
        return 130
