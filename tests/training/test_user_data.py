"""Training on a user's own solver outputs (``data.path``): a held-out test split that the
report evaluates alone, ``h`` as the mean edge length, and ``data.problem`` so the residual
checks run (evaluation and prediction)."""

from __future__ import annotations

import json

import meshio
import numpy as np
import pytest

from gnnops.errors import ConfigError
from gnnops.training.config import config_from_dict, load_config


def _cfg(tmp_path, model: str, data: dict, name: str = "user") -> object:
    return config_from_dict({
        "name": name, "out_dir": str(tmp_path / "runs"),
        "data": {"features": ["pos"], "batch_size": 2, **data},
        "model": {"name": model, "kwargs": {}}, "optim": {"epochs": 2},
        "train": {"progress": False, "device": "cpu"}, "eval": {"plots": False}})


def _mean_edge_length(path) -> float:
    m = meshio.read(path)
    tri = m.cells_dict["triangle"]
    e = np.unique(np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]),
                          axis=1), axis=0)
    return float(np.linalg.norm(m.points[e[:, 0], :2] - m.points[e[:, 1], :2], axis=1).mean())


def test_report_has_held_out_rows_only_with_residuals(darcy_user_meshes, toy_model,
                                                      tmp_path) -> None:
    from gnnops.inference import Predictor
    from gnnops.runs.pipeline import run
    from gnnops.surrogate.artifact import load_artifact

    cfg = _cfg(tmp_path, toy_model, {"path": str(darcy_user_meshes.train), "problem": "darcy",
                                     "test_fraction": 0.25})
    report = run(cfg)
    data = json.loads((report.parent / "report.json").read_text())
    rows = data["rows"]
    assert [r["split"] for r in rows] == ["test"]  # no "all" row with the training files
    assert rows[0]["samples"] == 3 and data["problem"] == "darcy"
    assert data["training"]["n_train"] + data["training"]["n_val"] == 9
    held = _held_files(darcy_user_meshes, cfg.seed)
    assert rows[0]["h"] == pytest.approx(np.mean([_mean_edge_length(f) for f in held]),
                                         rel=1e-5)  # not a node count
    assert np.isfinite(rows[0]["residual"]) and rows[0]["residual"] > 1e-3  # an untrained model
    assert rows[0]["residual_reference"] < 1e-5  # true solutions (stored as float32: ~3e-7)
    art = load_artifact(report.parent / "model.pt")
    assert art.recipe.problem == "darcy" and art.recipe.inputs == ["a", "f"]
    pred = Predictor.from_artifact(report.parent / "model.pt").predict(held[0])
    assert pred.problem == "darcy" and np.isfinite(pred.residual)
    assert pred.per_node_residual.shape == (meshio.read(held[0]).points.shape[0],)
    assert not any(f.startswith("residual_unavailable") for f in pred.flags)


def _held_files(meshes, seed: int) -> list:
    from gnnops.data import open_dataset

    ds = open_dataset(meshes.train, test_fraction=0.25, seed=seed)
    return [ds.path(s) for s in ds.samples("test")]


def test_test_path_and_nothing_held_out(darcy_user_meshes, toy_model, tmp_path) -> None:
    from gnnops.runs.pipeline import run

    cfg = _cfg(tmp_path, toy_model, {"path": str(darcy_user_meshes.train), "problem": "darcy",
                                     "test_path": str(darcy_user_meshes.held)}, "held")
    rows = json.loads((run(cfg).parent / "report.json").read_text())["rows"]
    assert [(r["split"], r["samples"]) for r in rows] == [("test", 3)]
    want = np.mean([_mean_edge_length(f) for f in sorted(darcy_user_meshes.held.iterdir())])
    assert rows[0]["h"] == pytest.approx(want, rel=1e-5)
    assert rows[0]["nodes"] > 100  # the finer meshes of the held-out folder
    cfg = _cfg(tmp_path, toy_model, {"path": str(darcy_user_meshes.train),
                                     "test_fraction": 0.0, "targets": ["u"],
                                     "inputs": ["a"]}, "none")
    data = json.loads((run(cfg).parent / "report.json").read_text())
    assert data["rows"] == [] and data["problem"] is None  # never the training files


def test_problem_options_reach_the_artifact(darcy_user_meshes, toy_model, tmp_path) -> None:
    from gnnops.inference import Predictor
    from gnnops.training.trainer import train

    cfg = _cfg(tmp_path, toy_model, {"path": str(darcy_user_meshes.train), "problem": "darcy",
                                     "problem_options": {"n_modes": 8}})
    result = train(cfg)
    pred = Predictor.from_artifact(result.artifact_path)
    assert pred.recipe.problem_options == {"n_modes": 8} and pred.problem.n_modes == 8
    assert result.test_splits == ["test"]


@pytest.mark.parametrize("overrides, words", [
    (["data.path=x", "data.problem=darcyy"], ["'data.problem' expects one of:", "darcy,",
                                              "elasticity", "did you mean 'darcy'?"]),
    (["data.path=x", "data.problem=darcy", "data.problem_options.nu=0.3"],
     ["'data.problem_options.nu'", "box, n_modes"]),
    (["data.path=x", "data.problem=elasticity", "data.problem_options.nu=0.7"],
     ["'data.problem_options'", "Poisson ratio"]),
    (["data.path=x", "data.problem=darcy", "data.inputs=[kappa]"],
     ["'data.inputs'", "(a, f)", "['kappa']"]),
    (["data.problem=darcy"], ["'data.problem' is for your own mesh files"]),
    (["data.test_path=held"], ["'data.test_path' is for your own mesh files"]),
    (["data.path=x", "data.problem_options.n_modes=4"], ["needs data.problem"]),
    (["data.path=x", "data.test_fraction=1.0"], ["'data.test_fraction'", "[0, 1)"]),
])
def test_bad_user_data_keys_at_load(overrides: list[str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(None, overrides)
    for w in words:
        assert w in str(exc.value)
