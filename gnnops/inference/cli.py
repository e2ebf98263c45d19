"""``gnnops predict ARTIFACT INPUT... --out DIR``: batch prediction over files.

One output file per input (predicted fields and the per-node residual as point data;
networks: GraphML node attributes), plus ``summary.csv`` and ``summary.json``
(``summary-shard<I>of<N>.*`` with ``--shard``). Exit 0 when every file succeeded (or
was skipped because its output exists), 1 when some failed (a prediction with NaN / inf
values is not written: status ``non_finite``), 2 for usage / artifact errors, 130 when
interrupted: the first Ctrl-C lets running files finish, starts no new one and writes the
summary (unfinished files: status ``interrupted``); rerunning skips the finished outputs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gnnops._atomic import atomic_open
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
    parser.add_argument("--steps", type=int, default=None, metavar="K",
                        help="time-dependent (rollout) models: steps to roll out from the "
                             "initial state (default: the training trajectory's length); "
                             "networks get node attributes <state>_t000..., meshes one VTU "
                             "per step and a .pvd")
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
    with atomic_open(path, newline="") as fh:
        fh.write(text)


def _predict_one(predictor: Any, path: Path, out: Path, args: argparse.Namespace,
                 inputs: dict[str, float]) -> dict[str, Any]:
    steps = getattr(args, "steps", None)
    pred = predictor.predict(path, **inputs, **({} if steps is None else {"steps": steps}))
    row: dict[str, Any] = {"nodes": pred.num_nodes, "residual": pred.residual,
                           "flags": list(pred.flags)}
    if any(f.startswith("non_finite_output") for f in pred.flags):
        # never written as if it were fine: flagged in the summary, counted as failed
        row.update(status="non_finite", error="prediction has NaN or inf values; not written")
        return row
    if args.refine is not None:
        ref = predictor.refine(pred, tol=args.refine, compare=args.compare_zero)
        row["iterations"] = ref.iterations
        row["zero_iterations"] = ref.zero_iterations
        gnn = {f"{k}_gnn": v for k, v in pred.fields.items()}
        pred.fields = {**ref.fields, **gnn}
    written = pred.write(out)
    if written is not None and Path(written) != out:  # a mesh time series: the .pvd
        row["output"] = str(written)
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
    _check_out_dir(out_dir)
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
    finished: set[int] = set()
    stop = threading.Event()
    interrupted = False
    with _stop_on_sigint(stop):
        try:
            for res in run_pool(work, todo, workers=args.jobs, stop=stop):
                row = rows[res.source]
                row["seconds"] = round(res.seconds, 6)
                if res.ok:
                    row.update(res.value)
                else:
                    row.update(status="error", error=res.error)
                finished.add(res.source)
                bar.update(1)
        except KeyboardInterrupt:  # a second Ctrl-C, or no handler could be installed
            interrupted = True
    bar.close()
    interrupted = interrupted or stop.is_set()
    for k in todo:
        if k not in finished:
            rows[k].update(status="interrupted", error="not finished: interrupted (rerun the "
                           "same command to continue; finished outputs are skipped)")

    ordered = [rows[k] for k in mine]
    summary = _summaries(ordered, out_dir, shard)
    n_err = sum(r["status"] in ("error", "non_finite") for r in ordered)
    n_skip = sum(r["status"] == "skipped" for r in ordered)
    n_int = sum(r["status"] == "interrupted" for r in ordered)
    n_ok = len(ordered) - n_err - n_skip - n_int
    if interrupted:
        print(f"gnnops predict: interrupted: {n_ok} of {len(ordered)} files predicted, "
              f"{n_int} not finished; summary: {summary}; rerun to continue", file=sys.stderr)
        return 130
    print(f"predicted {n_ok} of {len(ordered)} files "
          f"({n_err} failed, {n_skip} skipped); summary: {summary}")
    return 1 if n_err else 0


def _check_out_dir(out_dir: Path) -> None:
    """Create ``out_dir`` and check it is writable, else ConfigError (nothing written)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder '{out_dir}' "
                          f"({exc.strerror or exc}); expected a writable folder") from None


@contextmanager
def _stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets ``stop`` (running files finish, nothing new starts); the second one
    raises KeyboardInterrupt as usual. No-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
