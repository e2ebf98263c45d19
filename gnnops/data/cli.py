"""``gnnops generate CONFIG.yaml [--out DIR] [--workers N] [--quiet | --verbose]``."""

from __future__ import annotations

import argparse

from gnnops._log import add_verbosity_arguments, progress_enabled

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gnnops generate``."""
    parser.add_argument("config", help="data config (YAML): a GenerateSpec, or a run config "
                                       "holding one under data.generate")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="dataset folder (default: datasets/<problem>-<spec hash>)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes solving samples in parallel (default 1)")
    add_verbosity_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Generate (or complete) the dataset; print its folder and the sample counts."""
    from gnnops.data.generate import run_generation
    from gnnops.data.spec import load_spec

    spec = load_spec(args.config)
    res = run_generation(spec, args.out, workers=args.workers, progress=progress_enabled(args))
    print(f"{res.path}: {res.new + res.skipped} samples ({res.new} new, {res.skipped} skipped)"
          f" at {len(res.nodes_per_resolution)} resolution(s), nodes "
          f"{res.nodes_per_resolution}")
    return 0
