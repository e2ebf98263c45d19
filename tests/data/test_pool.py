"""Running generation samples (data/_pool.py): inline and in worker processes alike, bounded,
errors naming the sample's file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnnops.data import _worker as W
from gnnops.data._pool import execute_tasks
from gnnops.errors import ProblemError
from gnnops.problems import get


def _ctx(root: Path) -> W.Context:
    prob = get("network_diffusion", t_end=0.2, n_times=3)
    return W.Context(root=root, problem=prob, seed=4, sample_options={}, family_options={},
                     meshes={}, handles={}, node_counts=[16], reference=None)


def _tasks(n: int) -> list[W.Task]:
    return [W.Task("train", 0, i, 0, f"train/res0/{i:05d}.graphml", family="grid")
            for i in range(n)]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_once_and_the_same_files(tmp_path, workers):
    tasks = _tasks(5)
    outs = list(execute_tasks(_ctx(tmp_path), tasks, workers=workers, progress=False,
                              total=5))
    assert sorted(o["record"]["index"] for o in outs) == [0, 1, 2, 3, 4]
    assert all(o["shapes"] == {"x0": [], "x": [3]} for o in outs)
    with np.load(tmp_path / "train/res0/00003.npz") as z:
        x3 = z["x"].copy()
    ref = tmp_path / "ref"
    list(execute_tasks(_ctx(ref), tasks[3:4], workers=1, progress=False, total=1))
    with np.load(ref / "train/res0/00003.npz") as z:
        np.testing.assert_array_equal(z["x"], x3)  # a sample does not depend on the worker


def test_nothing_to_do_and_errors_name_the_file(tmp_path):
    assert list(execute_tasks(_ctx(tmp_path), [], workers=2, progress=False, total=3)) == []
    ctx = _ctx(tmp_path)
    ctx.sample_options = {"recipe": "gauss"}  # an unknown initial-state recipe
    with pytest.raises(ProblemError, match=r"while generating 'train/res0/00000.graphml': "
                                           r"unknown initial-state recipe 'gauss'"):
        list(execute_tasks(ctx, _tasks(1), workers=1, progress=False, total=1))
