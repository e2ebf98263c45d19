"""``gnnops predict ARTIFACT INPUT... --out DIR``: batch prediction over files.

One output file per input (predicted fields and the per-node residual as point data;
networks: GraphML node attributes), plus ``summary.csv`` and ``summary.json``
(``summary-shard<I>of<N>.*`` with ``--shard``). Exit 0 when every file succeeded (or
was skipped because its output exists), 1 when some failed (a prediction with NaN / inf
values is not written: status ``non_finite``; an output name the file system refuses is a
failed file too), 2 for usage / artifact errors, 74 when the summary cannot be written (disk
full), 130 / 143 when interrupted by SIGINT / SIGTERM: the first signal lets running files
finish, starts no new one and writes the summary (unfinished files: status
``interrupted``); rerunning skips the finished outputs (a mesh rollout is finished when its
``.pvd`` exists). Runs into one ``--out`` folder merge their summary rows under a lock
(:mod:`gnnops.inference.summary`); temporaries of killed runs are removed.

Usage errors are found before any file is predicted or written (exit 2, one line on
stderr): malformed options, an unknown ``--format``, a ``--set`` field the model does not
take, ``--steps`` on a steady (non-rollout) model, and an input field that is neither
given by ``--set`` nor stored in the first input file. Only ``argparse`` and light
modules are imported until :func:`run` starts, so ``gnnops predict --help`` is fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from gnnops._atomic import clean_stale_temps
from gnnops._log import add_verbosity_arguments, progress_enabled
from gnnops.errors import ConfigError, GnnopsError, MissingDependencyError

__all__ = ["add_arguments", "run", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = ["file", "output", "status", "nodes", "seconds", "residual", "error_estimate",
                   "error_algebraic", "error_discretization", "flags", "notes", "iterations",
                   "zero_iterations", "error"]
_ESTIMATE_KEYS = ("error_estimate", "error_algebraic", "error_discretization")


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
    parser.add_argument("--distributed", action="store_true",
                        help="under torchrun: split each mesh across the ranks (halo'd parts, "
                             "torch.distributed), rank 0 writes; see "
                             "gnnops.inference.distributed_predict")
    parser.add_argument("--max-nodes", type=int, default=None, metavar="N",
                        help="with --distributed: split each rank's part further into pieces "
                             "of at most N core nodes (default 16384, bounded memory; 0: one "
                             "pass per part)")
    parser.add_argument("--root-share", type=float, default=None, metavar="F",
                        help="with --distributed: fraction of the nodes for rank 0, which also "
                             "holds the whole mesh and output (default 1/ranks; ~0.43 balances "
                             "two ranks' peak memory, README)")
    parser.add_argument("--refine", type=float, default=None, metavar="TOL",
                        help="hybrid solve: run the iterative solver from the prediction to TOL")
    parser.add_argument("--correct", type=int, default=None, metavar="K",
                        help="improve each prediction by K AMG cycles of the problem's own "
                             "discretization (written as the field, the network's as "
                             "<field>_gnn), with the new error estimate")
    parser.add_argument("--flag-threshold", type=float, default=None, metavar="T",
                        help="flag predictions whose estimated relative L2 error exceeds T "
                             "(default 0.2)")
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
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none when stderr is not a terminal)")
    add_verbosity_arguments(parser)


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


def _predict_one(predictor: Any, path: Path, out: Path, args: argparse.Namespace,
                 inputs: dict[str, float]) -> dict[str, Any]:
    steps = getattr(args, "steps", None)
    pred = predictor.predict(path, **inputs, **({} if steps is None else {"steps": steps}))
    row: dict[str, Any] = {"nodes": pred.num_nodes, "residual": pred.residual,
                           "flags": list(pred.flags), "notes": list(pred.notes),
                           **{k: getattr(pred, k) for k in _ESTIMATE_KEYS}}
    if any(f.startswith("non_finite_output") for f in pred.flags):
        # never written as if it were fine: flagged in the summary, counted as failed
        row.update(status="non_finite", error="prediction has NaN or inf values; not written")
        return row
    if getattr(args, "correct", None) is not None:
        fixed = predictor.correct(pred, cycles=args.correct)
        fixed.fields = {**fixed.fields, **{f"{k}_gnn": v for k, v in pred.fields.items()}}
        pred = fixed
        row.update(residual=pred.residual, flags=list(pred.flags), notes=list(pred.notes),
                   **{k: getattr(pred, k) for k in _ESTIMATE_KEYS})
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
    """Merge ``rows`` into the folder's summary (:mod:`gnnops.inference.summary`)."""
    from gnnops.inference.summary import write_summaries

    return write_summaries(rows, out_dir, shard, SUMMARY_COLUMNS)


def run(args: argparse.Namespace) -> int:
    """Run ``gnnops predict``; returns 0 (all ok), 1 (some failed), 130 (interrupted).

    Raises:
        GnnopsError: a usage or artifact error, before any file is predicted or written.
    """
    from gnnops.inference import Predictor
    from gnnops.inference.input_files import expand_inputs, output_paths, select_shard

    if getattr(args, "distributed", False):
        from gnnops.inference.distributed_predict import run_distributed

        return run_distributed(args, run)
    shard, inputs = _check_options(args)
    if getattr(args, "correct", None) is not None and args.correct < 0:
        raise ConfigError(f"expected --correct K with K >= 0 AMG cycles (got {args.correct})")
    threshold = getattr(args, "flag_threshold", None)
    if threshold is not None and not threshold > 0:
        raise ConfigError(f"expected --flag-threshold > 0 (a relative error), got {threshold}")
    predictor = Predictor.from_artifact(
        args.artifact, **({} if threshold is None else {"flag_threshold": threshold}))
    if getattr(args, "distributed_world", None) is not None:
        from gnnops.inference.distributed_predict import attach

        predictor = attach(predictor, args)
    if getattr(args, "correct", None) is not None and not hasattr(predictor.problem, "correct"):
        raise ConfigError(f"--correct needs a stationary mesh problem with a multigrid "
                          f"correction; this artifact's problem is {predictor.problem_name!r}")
    _check_request(predictor, args, inputs)
    files = expand_inputs(args.inputs)
    mine = select_shard(files, shard)
    _check_readers([files[k] for k in mine])
    if mine:
        _check_first_input(predictor, files[mine[0]], inputs)
    out_dir = Path(args.out)
    _check_out_dir(out_dir)
    clean_stale_temps(out_dir)  # temporaries of runs killed mid-write (dead processes only)
    outs = output_paths(files, out_dir, args.format)
    rows, todo = _plan(files, _done_paths(predictor, files, outs), mine,
                       overwrite=args.overwrite)

    def work(k: int) -> dict[str, Any]:
        return _predict_one(predictor, files[k], outs[k], args, inputs)

    signum = _run_batch(work, todo, rows, jobs=args.jobs, progress=progress_enabled(args))
    return _report([rows[k] for k in mine], out_dir, shard, signum=signum)


def _done_paths(predictor: Any, files: list[Path], outs: list[Path]) -> list[Path]:
    """The file whose presence means an input is finished: its output, or for a mesh rollout
    the ``.pvd`` (written after every step file), never another input's step file."""
    from gnnops.inference.sources import is_network_path

    if getattr(predictor.recipe, "rollout", None) is None:
        return outs
    return [o if is_network_path(f) else o.with_suffix(".pvd")
            for f, o in zip(files, outs, strict=True)]


def _plan(files: list[Path], outs: list[Path], mine: list[int], *,
          overwrite: bool) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """Summary rows of this shard's files and the indices still to predict."""
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for k in mine:
        rows[k] = {"file": str(files[k]), "output": str(outs[k]), "status": "ok", "nodes": None,
                   "seconds": None, "residual": None, "flags": [], "notes": [],
                   "error_estimate": None, "error_algebraic": None,
                   "error_discretization": None, "iterations": None,
                   "zero_iterations": None, "error": None}
        try:
            exists = outs[k].exists()
        except OSError as exc:  # e.g. a name longer than the file system allows
            rows[k].update(status="error", error=f"cannot use the output name "
                           f"'{outs[k].name[:40]}...' ({exc.strerror}); rename the input")
            continue
        if exists and not overwrite:
            rows[k].update(status="skipped", error="output exists (use --overwrite)")
        else:
            todo.append(k)
    return rows, todo


def _run_batch(work: Any, todo: list[int], rows: dict[int, dict[str, Any]], *, jobs: int,
               progress: bool) -> int | None:
    """Predict ``todo`` in a thread pool, filling ``rows``.

    Returns:
        ``None``, or the signal (SIGINT / SIGTERM) that stopped the batch: the files in
        flight finished, no new one started.
    """
    from tqdm import tqdm

    from gnnops.inference.batch import run_pool, stop_on_signals

    bar = tqdm(total=len(todo), unit="file", disable=not progress, file=sys.stderr)
    finished: set[int] = set()
    stop = threading.Event()
    interrupted: int | None = None
    with stop_on_signals(stop) as got:
        try:
            for res in run_pool(work, todo, workers=jobs, stop=stop):
                row = rows[res.source]
                row["seconds"] = round(res.seconds, 6)
                if res.ok:
                    row.update(res.value)
                else:
                    row.update(status="error", error=res.error)
                finished.add(res.source)
                bar.update(1)
        except KeyboardInterrupt:  # a second signal, or no handler could be installed
            interrupted = got["signal"] or signal.SIGINT
    bar.close()
    for k in todo:
        if k not in finished:
            rows[k].update(status="interrupted", error="not finished: interrupted (rerun the "
                           "same command to continue; finished outputs are skipped)")
    return got["signal"] if got["signal"] is not None else interrupted


def _report(ordered: list[dict[str, Any]], out_dir: Path, shard: tuple[int, int], *,
            signum: int | None) -> int:
    """Write the summaries, print the outcome line; returns the exit code."""
    summary = _summaries(ordered, out_dir, shard)
    n_err = sum(r["status"] in ("error", "non_finite") for r in ordered)
    n_skip = sum(r["status"] == "skipped" for r in ordered)
    n_int = sum(r["status"] == "interrupted" for r in ordered)
    n_ok = len(ordered) - n_err - n_skip - n_int
    if signum is not None:
        how = "interrupted" + (" by SIGTERM" if signum == signal.SIGTERM else "")
        print(f"gnnops predict: {how}: {n_ok} of {len(ordered)} files predicted, "
              f"{n_int} not finished; summary: {summary}; rerun to continue", file=sys.stderr)
        return 128 + signum  # 130 after SIGINT, 143 after SIGTERM
    print(f"predicted {n_ok} of {len(ordered)} files "
          f"({n_err} failed, {n_skip} skipped); summary: {summary}")
    return 1 if n_err else 0


# ------------------------------------------------------------ usage checks (exit 2)
def _check_options(args: argparse.Namespace) -> tuple[tuple[int, int], dict[str, float]]:
    """Checks that need no artifact: shard, jobs, steps, refine, format, ``--set`` values.

    Returns:
        ``(shard, scalar inputs)``.
    """
    from gnnops.inference.input_files import parse_shard

    shard = parse_shard(args.shard)
    if args.jobs < 1:
        raise ConfigError(f"expected --jobs >= 1 (got {args.jobs})")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"expected --steps >= 1 (got {args.steps})")
    if args.compare_zero and args.refine is None:
        raise ConfigError("--compare-zero compares against the --refine solve; expected "
                          "--refine TOL as well")
    _check_format(args.format)
    return shard, _scalar_inputs(args.set)


def _check_format(fmt: str) -> None:
    """ConfigError unless meshio writes ``.<fmt>``; MissingDependencyError for Exodus
    without netCDF4."""
    import importlib.util

    import meshio

    ext = "." + fmt.lstrip(".").lower()
    known = sorted(meshio.extension_to_filetypes)
    if ext not in known:
        raise ConfigError(f"unknown output format {fmt!r}; expected a mesh file extension: "
                          f"{', '.join(e.lstrip('.') for e in known)}")
    if ext in (".e", ".exo", ".ex2") and importlib.util.find_spec("netCDF4") is None:
        raise MissingDependencyError("writing Exodus files (--format " + fmt + ")", "netCDF4",
                                     "exodus")


def _check_readers(files: list[Path]) -> None:
    """MissingDependencyError when an input format needs an optional package that is
    absent (Exodus: netCDF4), before any file is read."""
    import importlib.util

    exodus = [f for f in files if f.suffix.lower() in (".e", ".exo", ".ex2")]
    if exodus and importlib.util.find_spec("netCDF4") is None:
        raise MissingDependencyError(f"reading Exodus files ('{exodus[0]}')", "netCDF4",
                                     "exodus")


def model_inputs(predictor: Any) -> list[str]:
    """Names of the input fields ``predictor`` takes (rollout models: initial state, static
    fields)."""
    return list(predictor.inputs)


def _check_request(predictor: Any, args: argparse.Namespace, inputs: dict[str, float]) -> None:
    """``--set`` names and ``--steps`` against the loaded artifact."""
    names = model_inputs(predictor)
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise ConfigError(f"unknown input field {unknown[0]!r}; this model takes: "
                          f"{', '.join(names) or 'no inputs'} (from --set "
                          f"{unknown[0]}={inputs[unknown[0]]:g})")
    if args.steps is not None and predictor.recipe.rollout is None:
        raise ConfigError(f"--steps is only for time-dependent (rollout) models; this artifact "
                          f"predicts {', '.join(predictor.targets) or 'its targets'} directly "
                          f"(its recipe has no 'rollout' entry)")


def _stored_fields(path: Path) -> list[str] | None:
    """Point-data / node-attribute names stored in ``path`` (``None``: unreadable, left to
    the batch to report)."""
    from gnnops.inference.sources import is_network_path

    try:
        if is_network_path(path):
            from gnnops.graphs import read_network

            graph = read_network(path)
            return sorted(set().union(*(d.keys() for _, d in graph.nodes(data=True))))
        from gnnops.graphs.io import read_mesh, vtu_point_data_names

        names = vtu_point_data_names(path) if path.suffix.lower() == ".vtu" else None
        return sorted(names) if names is not None else sorted(read_mesh(path).point_data)
    except (GnnopsError, OSError, ValueError):
        return None


def _check_first_input(predictor: Any, path: Path, inputs: dict[str, float]) -> None:
    """ConfigError when an input field is neither set nor stored in the first file.

    Only the first file of the batch is probed (later files that lack a field fail on
    their own, exit 1); a file that cannot be read is left to the batch.
    """
    need = [k for k in model_inputs(predictor) if k not in inputs]
    have = _stored_fields(path) if need else None
    if have is None:
        return
    missing = [k for k in need if k not in have]
    if missing:
        where = "node attributes" if path.suffix.lower() in (".graphml", ".gml") else "point data"
        raise ConfigError(f"input field {missing[0]!r} is missing: neither --set "
                          f"{missing[0]}=VALUE nor {where} of '{path}' (has: "
                          f"{', '.join(have) or 'none'}); this model takes: "
                          f"{', '.join(model_inputs(predictor))}")


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
