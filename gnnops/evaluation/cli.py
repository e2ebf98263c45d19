"""``gnnops evaluate ARTIFACT DATA [--out DIR]``: resolution sweep of a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

from gnnops._log import add_verbosity_arguments

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gnnops evaluate``."""
    parser.add_argument("artifact", help="model artifact (model.pt)")
    parser.add_argument("data", help="dataset folder (with manifest.json) or a glob of meshes")
    parser.add_argument("--out", default=None,
                        help="report folder (default: 'eval' beside the artifact)")
    parser.add_argument("--splits", nargs="+", default=None,
                        help="splits to evaluate (default: the test splits)")
    parser.add_argument("--max-samples", type=int, default=None,
                        help="at most this many samples per split and resolution")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_verbosity_arguments(parser, quiet_help="only warnings and errors")


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the table; returns 0."""
    from gnnops.evaluation.metrics import evaluate
    from gnnops.evaluation.report import format_table, write_report

    out = Path(args.out) if args.out else Path(args.artifact).parent / "eval"
    results = evaluate(args.artifact, args.data, splits=args.splits,
                       max_samples=args.max_samples, examples=not args.no_plots)
    metrics_csv = Path(args.artifact).parent / "metrics.csv"
    report = write_report(results, out, plots=not args.no_plots, metrics_csv=metrics_csv)
    print(format_table(results["rows"]))
    print(f"report: {report}")
    return 0
