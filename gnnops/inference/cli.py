"""``gnnops predict ARTIFACT INPUT... --out DIR``: batch prediction over files.

One output file per input (predicted fields and the per-node residual as point data;
networks: GraphML node attributes), plus ``summary.csv`` and ``summary.json``
(``summary-shard<I>of<N>.*`` with ``--shard``). Exit 0 when every file succeeded (or
was skipped because its output exists), 1 when some failed, 2 for usage / artifact
errors.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from gnnops.errors import ConfigError
from gnnops.inference.batch import run_pool
from gnnops.inference.files import expand_inputs, output_paths, parse_shard, select_shard

__all__ = ["add_arguments", "run", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = ["file", "output", "status", "nodes", "seconds", "residual", "flags",
                   "iterations", "zero_iterations", "error"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gnnops predict``."""
    parser.add_argument("artifact", help="model artifact (model.pt) written by training")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="mesh / network files, folders or globs (quote globs)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", default="vtu",
                        help="output mesh format extension: vtu (default), xdmf, vtk, msh, ...")
    parser.add_argument("--jobs", type=int, default=1, help="parallel predictions (threads)")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="process only files with sorted index %% N == I (0 <= I < N)")
    parser.add_argument("--refine", type=float, default=None, metavar="TOL",
                        help="hybrid solve: run the iterative solver from the prediction to TOL")
    parser.add_argument("--compare-zero", action="store_true",
                        help="with --refine, also solve from zero and report its iterations")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="scalar input field for every file (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _scalar_inputs(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"expected --set NAME=VALUE with a number (got {item!r})") from None
    return out


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _predict_one(predictor: Any, path: Path, out: Path, args: argparse.Namespace,
                 inputs: dict[str, float]) -> dict[str, Any]:
    pred = predictor.predict(path, **inputs)
    row: dict[str, Any] = {"nodes": pred.num_nodes, "residual": pred.residual,
                           "flags": list(pred.flags)}
    if args.refine is not None:
        ref = predictor.refine(pred, tol=args.refine, compare=args.compare_zero)
        row["iterations"] = ref.iterations
        row["zero_iterations"] = ref.zero_iterations
        gnn = {f"{k}_gnn": v for k, v in pred.fields.items()}
        pred.fields = {**ref.fields, **gnn}
    pred.write(out)
    return row


def _summaries(rows: list[dict[str, Any]], out_dir: Path, shard: tuple[int, int]) -> Path:
    stem = "summary" if shard[1] == 1 else f"summary-shard{shard[0]}of{shard[1]}"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (";".join(r[k]) if k == "flags" else ("" if r.get(k) is None else r[k]))
                    for k in SUMMARY_COLUMNS})
    _write_atomic(out_dir / f"{stem}.csv", buf.getvalue())
    _write_atomic(out_dir / f"{stem}.json", json.dumps(rows, indent=1) + "\n")
    return out_dir / f"{stem}.csv"


def run(args: argparse.Namespace) -> int:
    """Run ``gnnops predict``; returns 0 (all ok), 1 (some failed)."""
    from tqdm import tqdm

    from gnnops.inference import Predictor

    shard = parse_shard(args.shard)
    if args.jobs < 1:
        raise ConfigError(f"expected --jobs >= 1 (got {args.jobs})")
    inputs = _scalar_inputs(args.set)
    predictor = Predictor.from_artifact(args.artifact)
    files = expand_inputs(args.inputs)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    outs = output_paths(files, out_dir, args.format)
    mine = select_shard(files, shard)

    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for k in mine:
        rows[k] = {"file": str(files[k]), "output": str(outs[k]), "status": "ok", "nodes": None,
                   "seconds": None, "residual": None, "flags": [], "iterations": None,
                   "zero_iterations": None, "error": None}
        if outs[k].exists() and not args.overwrite:
            rows[k].update(status="skipped", error="output exists (use --overwrite)")
        else:
            todo.append(k)

    def work(k: int) -> dict[str, Any]:
        return _predict_one(predictor, files[k], outs[k], args, inputs)

    bar = tqdm(total=len(todo), unit="file", disable=args.no_progress, file=sys.stderr)
    for res in run_pool(work, todo, workers=args.jobs):
        row = rows[res.source]
        row["seconds"] = round(res.seconds, 6)
        if res.ok:
            row.update(res.value)
        else:
            row.update(status="error", error=res.error)
        bar.update(1)
    bar.close()

    ordered = [rows[k] for k in mine]
    summary = _summaries(ordered, out_dir, shard)
    n_err = sum(r["status"] == "error" for r in ordered)
    n_skip = sum(r["status"] == "skipped" for r in ordered)
    print(f"predicted {len(ordered) - n_err - n_skip} of {len(ordered)} files "
          f"({n_err} failed, {n_skip} skipped); summary: {summary}")
    return 1 if n_err else 0
