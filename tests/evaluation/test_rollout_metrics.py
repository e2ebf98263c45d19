"""Rollout evaluation: metrics by hand, the three settings, residuals, report, tiny pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gnnops.evaluation.rollout_metrics import evaluate_rollout, normalized_l1, setting_of
from gnnops.evaluation.rollout_report import write_rollout_report
from gnnops.surrogate.stepping import step_input_names, trajectory_layout
from gnnops.surrogate.surrogate import Surrogate

SPEC = {"problem": "network_diffusion", "solver_options": {"t_end": 1.0, "n_times": 11},
        "resolutions": [16, 36], "family": "grid", "test_families": ["watts_strogatz"],
        "n_train": 2, "n_val": 1, "n_test": 2, "seed": 0}


class _Zero(nn.Module):
    def forward(self, data):  # noqa: D102
        return data.x[:, :1] * 0.0


def test_normalized_l1_and_settings_by_hand() -> None:
    assert normalized_l1(np.array([1.0, 2.0]), np.array([2.0, 2.0])) == pytest.approx(0.25)
    man = {"train_resolution": 0, "nodes_per_resolution": [16, 160]}
    assert setting_of("test", 0, man) == "a: new initial states"
    assert setting_of("test", 1, man) == "b: larger graphs (x10)"
    assert setting_of("test_grid", 1, man) == "c: unseen family grid"
    assert setting_of("test_l_shape", 0, {**man, "kind": "mesh"}) == "c: unseen geometry l_shape"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    from gnnops.data import GenerateSpec, generate, open_dataset

    out = tmp_path_factory.mktemp("ds") / "nd"
    generate(GenerateSpec.from_dict(dict(SPEC)), out, progress=False)
    return open_dataset(out)


def test_persistence_model_scores_match_hand_computation(dataset, tmp_path: Path) -> None:
    """A zero-increment model keeps x0: its errors are |x0 - x(t)|, computed here directly."""
    from gnnops.graphs import read_network
    from gnnops.inference.timeseries import read_network_series

    lay = trajectory_layout("network_diffusion", SPEC["solver_options"])
    names = step_input_names(lay)
    recipe = {"kind": "network", "inputs": names, "input_dims": [1, 1], "features": [],
              "targets": ["x_increment"], "target_dims": [1], "rollout": lay}
    norms = {"x.mean": torch.zeros(2), "x.std": torch.ones(2), "y.mean": torch.zeros(1),
             "y.std": torch.ones(1)}
    sur = Surrogate(_Zero(), model_name="zero", model_kwargs={}, recipe=recipe,
                    normalizers=norms).eval()
    res = evaluate_rollout(sur, dataset, trajectories_dir=tmp_path / "traj")
    rows = {(r["split"], r["resolution"]): r for r in res["rows"]}
    assert set(rows) == {("test", 0), ("test", 1), ("test_watts_strogatz", 0),
                         ("test_watts_strogatz", 1)}
    assert rows[("test", 1)]["setting"].startswith("b: larger graphs")
    for (split, k), row in rows.items():
        errs = []
        for g in dataset.load(split, k, inputs=["x0"], targets=["x"]):
            y = g.y.double().numpy()
            errs.append(np.mean(np.abs(y[:, :1] - y[:, 1:])) / np.mean(np.abs(y[:, 1:])))
        assert row["norm_l1"] == pytest.approx(np.mean(errs), rel=1e-5)
        assert row["steps"] == 10 and row["samples"] == 2
        # the stored trajectory satisfies the ODE to the Hermite-Simpson error; x0 frozen
        # in time violates it by O(1)
        assert row["residual_reference"] < 5e-3 and row["residual"] > 0.3
        # teacher forced, a zero increment misses every step's whole increment
        assert row["one_step_rel_l2"] == pytest.approx(1.0) == row["one_step_last"]
    curve = res["curves"][0]
    assert len(curve["times"]) == 11 and curve["norm_l1"][0] == 0.0
    assert curve["one_step_rel_l2"] == pytest.approx([1.0] * 10)  # one per step
    assert curve["norm_l1"][-1] > curve["norm_l1"][1]  # a frozen state drifts from x(t)
    g = read_network(res["trajectories"][0])
    vals, times = read_network_series(g, "x")
    assert vals.shape == (16, 11) and times[-1] == pytest.approx(1.0)
    report = write_rollout_report(res, tmp_path / "run")
    text = report.read_text()
    for words in ("a: new initial states", "b: larger graphs", "c: unseen family"):
        assert words in text
    assert (tmp_path / "run" / "rollout_error.png").stat().st_size > 1000


def test_rollout_task_end_to_end(tmp_path: Path) -> None:
    """``task: rollout`` through the pipeline: data, one-step training, rollout report."""
    from gnnops.inference.trajectory import predict_rollout  # noqa: F401 (import check)
    from gnnops.runs.pipeline import run
    from gnnops.training.config import config_from_dict

    spec = {**SPEC, "resolutions": [9, 25], "family": "grid", "test_families": [],
            "n_test": 1, "solver_options": {"t_end": 0.4, "n_times": 5}}
    cfg = config_from_dict({
        "name": "tiny", "out_dir": str(tmp_path / "runs"), "task": "rollout",
        "data": {"generate": spec, "cache_dir": str(tmp_path / "ds"), "batch_size": 4},
        "model": {"name": "meshgraphnet", "kwargs": {"latent": 8, "depth": 1,
                                                     "hidden_layers": 1}},
        "optim": {"epochs": 2, "lr": 0.01}, "train": {"progress": False, "device": "cpu"},
        "rollout": {"noise_std": 0.01},
    })
    report = run(cfg)
    text = report.read_text()
    assert "b: larger graphs (x2.78)" in text and "one-step pairs: 8" in text
    import gnnops

    pred = gnnops.load(str(tmp_path / "runs" / "tiny" / "model.pt"))
    assert pred.recipe.rollout.dt == pytest.approx(0.1)
    assert pred.inputs == ["x0"] and pred.targets == ["x_increment"]  # names as in `gnnops info`
