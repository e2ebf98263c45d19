"""One-step training on trajectories (training/rollout_train.py): trajectories loaded at the
training resolution, one-step pairs counted, the trained artifact carries the layout."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from gnnops.errors import ConfigError, DataError
from gnnops.surrogate.artifact import load_artifact
from gnnops.surrogate.stepping import trajectory_layout
from gnnops.training.config import config_from_dict
from gnnops.training.rollout_train import increment_name, load_trajectories, train_rollout

SPEC = {"problem": "network_diffusion", "solver_options": {"t_end": 0.4, "n_times": 5},
        "resolutions": [9], "family": "grid", "test_families": [], "n_train": 3, "n_val": 1,
        "n_test": 1, "seed": 0}


def _cfg(tmp_path, **data):
    return config_from_dict({
        "name": "roll", "out_dir": str(tmp_path / "runs"), "task": "rollout",
        "data": {"generate": SPEC, "cache_dir": str(tmp_path / "ds"), "batch_size": 4, **data},
        "model": {"name": "meshgraphnet", "kwargs": {"latent": 8, "depth": 1,
                                                     "hidden_layers": 1}},
        "optim": {"epochs": 1, "lr": 0.01}, "train": {"progress": False, "device": "cpu"},
        "seed": 1})


def test_increment_name():
    assert increment_name(trajectory_layout("fisher_kpp", {})) == "x_increment"


def test_trajectories_pairs_and_artifact(tmp_path):
    cfg = _cfg(tmp_path)
    rd = load_trajectories(cfg)
    assert (len(rd.train), len(rd.val)) == (3, 1)
    assert rd.layout.problem == "network_diffusion" and rd.layout.state == "x"
    assert rd.train[0].y.shape == (9, 5)  # 9 nodes, 5 saved times
    again = load_trajectories(cfg)  # the generated dataset is reused, not redrawn
    assert again.dataset.root == rd.dataset.root
    res = train_rollout(cfg, data=rd)
    # every trajectory of T = 5 states gives T - 1 = 4 one-step pairs
    assert (res.metrics["pairs_train"], res.metrics["pairs_val"]) == (12, 4)
    assert res.test_splits == ["test"] and res.datasets is rd.dataset
    art = load_artifact(res.artifact_path)
    assert art.recipe.rollout.dt == pytest.approx(0.1)
    assert art.recipe.targets == ["x_increment"] and art.recipe.inputs == ["x", "dt"]
    assert cfg.data.inputs is None  # the caller's config is not modified


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="no training data"):
        load_trajectories(_cfg(tmp_path, generate=None))
    folder = tmp_path / "user"
    folder.mkdir()
    meshio.write(folder / "m.vtu", meshio.Mesh(np.array([[0.0, 0], [1, 0], [0, 1]]),
                                               [("triangle", np.array([[0, 1, 2]]))],
                                               point_data={"x": np.ones(3)}))
    with pytest.raises(DataError, match="task 'rollout' needs a generated dataset of a "
                                        "time-dependent problem"):
        load_trajectories(_cfg(tmp_path, generate=None, path=str(folder)))
