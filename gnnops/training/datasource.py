"""Where the training graphs come from: a generated dataset, a user dataset or given lists.

``data.generate`` is generated once into ``<cache_dir>/<problem>-<digest of the spec>``
(reruns reuse it); ``data.path`` is opened as is. A dataset without train/val splits
(user meshes) is split by the run's seed with ``data.val_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from gnnops.errors import ConfigError, DataError
from gnnops.training.config import RunConfig
from gnnops.training.distributed import DistInfo, barrier

__all__ = ["TrainingData", "load_training_data", "field_dims"]


@dataclass
class TrainingData:
    """The raw (unprepared) training and validation graphs of a run and what they hold:
    field names and widths, the problem, the graph kind, the dataset and its test splits."""

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


def _dataset_path(cfg: RunConfig, info: DistInfo) -> Path:
    from gnnops.data import generate

    spec = cfg.data.generate  # checked at config load (gnnops.data.spec.GenerateSpec)
    out = spec.default_dir(cfg.data.cache_dir)
    if info.is_main:
        generate(spec, out, progress=cfg.train.progress)
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
        val = list(val_data) if val_data is not None else []
        problem = d.generate.problem if d.generate is not None else None
        ins, outs, kind = _problem_fields(problem)
        ins, outs = d.inputs or ins, d.targets or outs
        g0 = train_data[0]
        nx = 0 if getattr(g0, "x", None) is None else g0.x.reshape(g0.num_nodes, -1).shape[1]
        ny = g0.y.reshape(g0.num_nodes, -1).shape[1]
        ins = ins or [f"x{i}" for i in range(nx)]
        outs = outs or [f"y{i}" for i in range(ny)]
        return TrainingData(list(train_data), val, problem, ins,
                            field_dims(ins, nx, {}, "inputs"), outs,
                            field_dims(outs, ny, {}, "targets"), kind=kind)
    if d.generate is None and d.path is None:
        raise ConfigError("no training data: set data.generate (a dataset spec) or data.path")
    from gnnops.data import open_dataset

    path = _dataset_path(cfg, info) if d.generate is not None else d.path
    ds = open_dataset(path)
    problem = getattr(ds, "problem", None)
    ins = list(d.inputs or ds.input_fields)
    outs = list(d.targets or ds.output_fields)
    splits = list(ds.splits)
    if "train" in splits:
        train = ds.load("train", inputs=ins, targets=outs)
        val = ds.load("val", inputs=ins, targets=outs) if "val" in splits else []
    else:
        graphs = ds.load(splits[0], inputs=ins, targets=outs)
        g = torch.Generator().manual_seed(cfg.seed)
        order = torch.randperm(len(graphs), generator=g).tolist()
        n_val = max(1, int(round(d.val_fraction * len(graphs)))) if len(graphs) > 1 else 0
        val = [graphs[i] for i in order[:n_val]]
        train = [graphs[i] for i in order[n_val:]]
    if not train:
        raise DataError(f"dataset '{path}' has no training samples")
    known = dict((getattr(ds, "manifest", None) or {}).get("field_dims", {}))
    g0 = train[0]
    nx = 0 if getattr(g0, "x", None) is None else g0.x.reshape(g0.num_nodes, -1).shape[1]
    ny = g0.y.reshape(g0.num_nodes, -1).shape[1]
    kind = "network" if getattr(g0, "pos", None) is None else "mesh"
    if problem is not None:
        kind = _problem_fields(problem)[2]
    tests = [s for s in splits if s not in ("train", "val")]
    return TrainingData(train, val, problem, ins, field_dims(ins, nx, known, "inputs"), outs,
                        field_dims(outs, ny, known, "targets"), kind=kind, dataset=ds,
                        test_splits=tests)
