"""Where the training graphs come from: a generated dataset, a user dataset or given lists.

``data.generate`` is generated once into ``<cache_dir>/<problem>-<digest of the spec>``
(reruns reuse it); ``data.path`` is opened as is. A user's own mesh files get a held-out
``test`` split (``data.test_path``, or ``data.test_fraction`` of the files drawn by the
run's seed), evaluated after training and never trained or validated on; the rest is
split by the run's seed with ``data.val_fraction``. ``data.problem`` names the problem
the files solve (its fields are then the default inputs / targets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from gnnops.errors import ConfigError, DataError
from gnnops.training.config import RunConfig, check_data_problem
from gnnops.training.distributed import DistInfo, barrier

__all__ = ["TrainingData", "load_training_data", "field_dims", "generate_run_dataset"]


@dataclass
class TrainingData:
    """The raw (unprepared) training and validation graphs of a run and what they hold:
    field names and widths, the problem (and its constructor options), the graph kind, the
    dataset and its test splits."""

    train: list[Data]
    val: list[Data]
    problem: str | None
    inputs: list[str]
    input_dims: list[int]
    targets: list[str]
    target_dims: list[int]
    kind: str = "mesh"
    dataset: Any = None
    test_splits: list[str] = field(default_factory=list)
    problem_options: dict[str, Any] = field(default_factory=dict)


def field_dims(names: list[str], width: int, known: dict[str, int], what: str) -> list[int]:
    """Columns per field: from ``known``, else 1 each, else all in one field.

    Raises:
        DataError: the widths cannot add up to ``width``.
    """
    if all(known.get(n) is not None for n in names):  # user folders: dims may be None
        dims = [int(known[n]) for n in names]
    elif len(names) == width:
        dims = [1] * width
    elif len(names) == 1:
        dims = [width]
    else:
        raise DataError(f"cannot tell the widths of {what} {names} in {width} columns; "
                        f"expected their dimensions in the dataset manifest")
    if sum(dims) != width:
        raise DataError(f"expected {what} {names} to fill {sum(dims)} columns (got {width})")
    return dims


def generate_run_dataset(cfg: RunConfig, *, workers: int = 1) -> Path:
    """Generate (once: cached by the spec's digest) the dataset of ``cfg.data.generate``
    with ``workers`` processes; returns its folder."""
    from gnnops.data import generate

    spec = cfg.data.generate  # checked at config load (gnnops.data.spec.GenerateSpec)
    out = spec.default_dir(cfg.data.cache_dir)
    generate(spec, out, workers=workers, progress=cfg.train.progress)
    return out


def _dataset_path(cfg: RunConfig, info: DistInfo) -> Path:
    out = cfg.data.generate.default_dir(cfg.data.cache_dir)
    if info.is_main:
        generate_run_dataset(cfg)
    barrier(info)
    return out


def _problem_fields(problem: str | None) -> tuple[list[str], list[str], str]:
    if problem is None:
        return [], [], "mesh"
    from gnnops.problems import get

    p = get(problem)
    return list(p.input_fields), list(p.output_fields), p.kind


def load_training_data(cfg: RunConfig, info: DistInfo, *,
                       train_data: list[Data] | None = None,
                       val_data: list[Data] | None = None) -> TrainingData:
    """Gather the raw training / validation graphs of a run.

    Raises:
        ConfigError: neither data source configured; DataError: empty splits.
    """
    d = cfg.data
    if train_data is not None:
        return _from_lists(d, train_data, val_data)
    if d.generate is None and d.path is None:
        raise ConfigError("no training data: set data.generate (a dataset spec) or data.path")
    from gnnops.data import open_dataset

    path = _dataset_path(cfg, info) if d.generate is not None else d.path
    if d.generate is None:
        check_data_problem(d)
        ds = open_dataset(path, test_path=d.test_path, test_fraction=d.test_fraction,
                          seed=cfg.seed, problem=d.problem)
    else:
        ds = open_dataset(path)
    problem = getattr(ds, "problem", None)
    ins, outs = _default_fields(ds, problem, d.inputs, d.targets)
    splits = list(ds.splits)
    train, val = _train_val(ds, ins, outs, seed=cfg.seed, val_fraction=d.val_fraction)
    if not train:
        raise DataError(f"dataset '{path}' has no training samples")
    known = dict((getattr(ds, "manifest", None) or {}).get("field_dims", {}))
    g0 = train[0]
    nx = 0 if getattr(g0, "x", None) is None else g0.x.reshape(g0.num_nodes, -1).shape[1]
    ny = g0.y.reshape(g0.num_nodes, -1).shape[1]
    kind = "network" if getattr(g0, "pos", None) is None else "mesh"
    if problem is not None:
        kind = _problem_fields(problem)[2]
    # "all": user files with nothing held out -- their samples were trained on
    tests = [s for s in splits if s not in ("train", "val", "all")]
    return TrainingData(train, val, problem, ins, field_dims(ins, nx, known, "inputs"), outs,
                        field_dims(outs, ny, known, "targets"), kind=kind, dataset=ds,
                        test_splits=tests, problem_options=_problem_options(ds, d))


def _from_lists(d: Any, train_data: list[Data], val_data: list[Data] | None) -> TrainingData:
    """Given graph lists: fields named by ``data.inputs`` / ``data.targets``, else the
    problem's, else ``x0, x1, ...`` / ``y0, y1, ...``."""
    val = list(val_data) if val_data is not None else []
    problem = d.generate.problem if d.generate is not None else d.problem
    opts = d.generate.solver_options if d.generate is not None else d.problem_options
    ins, outs, kind = _problem_fields(problem)
    ins, outs = d.inputs or ins, d.targets or outs
    g0 = train_data[0]
    nx = 0 if getattr(g0, "x", None) is None else g0.x.reshape(g0.num_nodes, -1).shape[1]
    ny = g0.y.reshape(g0.num_nodes, -1).shape[1]
    ins = ins or [f"x{i}" for i in range(nx)]
    outs = outs or [f"y{i}" for i in range(ny)]
    return TrainingData(list(train_data), val, problem, ins, field_dims(ins, nx, {}, "inputs"),
                        outs, field_dims(outs, ny, {}, "targets"), kind=kind,
                        problem_options=dict(opts))


def _train_val(ds: Any, ins: list[str], outs: list[str], *, seed: int,
               val_fraction: float) -> tuple[list[Data], list[Data]]:
    """The dataset's train / val splits; a dataset without ``train`` (user files) has its
    first split shuffled by ``seed`` and ``val_fraction`` of it held out."""
    splits = list(ds.splits)
    if "train" in splits:
        train = ds.load("train", inputs=ins, targets=outs)
        val = ds.load("val", inputs=ins, targets=outs) if "val" in splits else []
        return train, val
    graphs = ds.load(splits[0], inputs=ins, targets=outs)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(graphs), generator=g).tolist()
    n_val = max(1, int(round(val_fraction * len(graphs)))) if len(graphs) > 1 else 0
    return [graphs[i] for i in order[n_val:]], [graphs[i] for i in order[:n_val]]


def _default_fields(ds: Any, problem: str | None, inputs: list[str] | None,
                    targets: list[str] | None) -> tuple[list[str], list[str]]:
    """``data.inputs`` / ``data.targets``, else the dataset's fields; user files naming a
    problem: its input fields stored in every file (optional ones may be absent) and its
    output fields."""
    ins, outs = list(inputs or ds.input_fields), list(targets or ds.output_fields)
    if problem is not None and not getattr(ds, "generated", True):
        p_ins, p_outs, _ = _problem_fields(problem)
        ins = ins or [f for f in p_ins if f in ds.fields] or p_ins
        outs = outs or p_outs
    return ins, outs


def _problem_options(ds: Any, d: Any) -> dict[str, Any]:
    """The problem's constructor options: ``data.problem_options`` for user files, the
    spec's ``solver_options`` for a generated dataset."""
    if not getattr(ds, "generated", True):
        return dict(d.problem_options)
    spec = (getattr(ds, "manifest", None) or {}).get("spec") or {}
    return dict(spec.get("solver_options") or {})
