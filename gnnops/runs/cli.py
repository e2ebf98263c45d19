"""``gnnops train`` and ``python train.py``: parse a config and overrides, train, evaluate.

``run`` loads the config and calls :func:`gnnops.runs.pipeline.run` (train, evaluate,
report).
"""

from __future__ import annotations

import argparse
import os
import sys

from gnnops._log import add_verbosity_arguments, configure_logging, level_from_args
from gnnops.errors import GnnopsError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``parser``."""
    parser.add_argument("--config", "-c", default=None,
                        help="YAML run config (default: the built-in small Darcy run)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <out_dir>/<name>/checkpoints/last.pt")
    add_verbosity_arguments(parser, quiet_help="only warnings and errors (no per-epoch "
                                               "lines, no progress bars)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="config overrides, e.g. optim.lr=3e-4 model.kwargs.width=32")


def run(args: argparse.Namespace) -> int:
    """Train (and evaluate when available) as ``args`` say; returns the exit code."""
    from gnnops.training.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.quiet:
        cfg.train.progress = False
    from gnnops.runs.pipeline import run as run_pipeline

    report = run_pipeline(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run folder: {cfg.run_dir}")
        print(f"report: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``train.py``: GnnopsError -> one line on stderr, exit code 2."""
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(level_from_args(args))
    try:
        return run(args)
    except GnnopsError as exc:
        print(f"train.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train.py: interrupted (resume with --resume)", file=sys.stderr)
        return 130
