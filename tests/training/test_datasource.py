"""Where the training graphs come from (training/datasource.py): given lists, a user folder
split by the run's seed, a generated dataset; field widths."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
from training_fixtures import make_graphs

from gnnops.errors import ConfigError, DataError
from gnnops.training.config import load_config
from gnnops.training.datasource import field_dims, load_training_data
from gnnops.training.distributed import DistInfo


def _cfg(*extra):
    return load_config(overrides=["data.generate=null", "train.device=cpu", "seed=3", *extra])


def test_field_dims():
    assert field_dims(["a", "b"], 2, {}, "inputs") == [1, 1]
    assert field_dims(["v"], 3, {}, "targets") == [3]
    assert field_dims(["a", "v"], 3, {"a": 1, "v": 2}, "inputs") == [1, 2]
    with pytest.raises(DataError, match=r"cannot tell the widths of inputs \['a', 'b'\] in 3 "
                                         r"columns"):
        field_dims(["a", "b"], 3, {}, "inputs")
    with pytest.raises(DataError, match=r"expected inputs \['a', 'v'\] to fill 4 columns "
                                         r"\(got 3\)"):
        field_dims(["a", "v"], 3, {"a": 1, "v": 3}, "inputs")


def test_given_lists_name_their_columns():
    train, val = make_graphs(5, 0), make_graphs(2, 1)
    td = load_training_data(_cfg(), DistInfo(), train_data=train, val_data=val)
    assert (len(td.train), len(td.val)) == (5, 2) and td.train[0] is train[0]
    nx_, ny = train[0].x.shape[1], train[0].y.shape[1]
    assert td.inputs == [f"x{i}" for i in range(nx_)] and td.input_dims == [1] * nx_
    assert td.targets == [f"y{i}" for i in range(ny)] and td.problem is None
    named = load_training_data(_cfg("data.inputs=[a]", "data.targets=[u]"), DistInfo(),
                               train_data=train)
    assert (named.inputs, named.input_dims, named.targets) == (["a"], [nx_], ["u"])
    assert named.val == [] and named.kind == "mesh"


def _square(n: int, k: float) -> meshio.Mesh:
    t = np.linspace(0, 1, n)
    x, y = (a.ravel() for a in np.meshgrid(t, t))
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), \
        idx[1:, :-1].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return meshio.Mesh(np.column_stack([x, y]), [("triangle", tri)],
                       point_data={"a": k + x, "u": k * x * y})


def test_user_folder_is_split_by_the_seed(tmp_path):
    for k in range(8):
        meshio.write(tmp_path / f"m{k}.vtu", _square(4, float(k)))
    cfg = _cfg(f"data.path={tmp_path}", "data.inputs=[a]", "data.targets=[u]",
               "data.val_fraction=0.25", "data.test_fraction=0")
    td = load_training_data(cfg, DistInfo())
    # nothing held out (test_fraction 0): no test split -- the files were all trained on
    assert (len(td.train), len(td.val)) == (6, 2) and td.test_splits == []
    ks = sorted(round(float(g.x[0, 0]), 6) for g in td.train + td.val)
    assert ks == [float(k) for k in range(8)]  # every mesh exactly once
    again = load_training_data(cfg, DistInfo())
    assert [float(g.x[0, 0]) for g in again.val] == [float(g.x[0, 0]) for g in td.val]
    other = load_training_data(_cfg(f"data.path={tmp_path}", "data.inputs=[a]",
                                    "data.targets=[u]", "data.val_fraction=0.25", "seed=4",
                                    "data.test_fraction=0"), DistInfo())
    assert {float(g.x[0, 0]) for g in other.val} != {float(g.x[0, 0]) for g in td.val}


def test_no_source_is_a_config_error():
    with pytest.raises(ConfigError, match="no training data: set data.generate"):
        load_training_data(_cfg(), DistInfo())
