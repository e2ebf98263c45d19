"""Runs sharing a folder (issue 15.5): two ``gnnops predict`` into one ``--out`` at the same
time keep every summary row; mesh rollouts skip finished inputs on rerun (their ``.pvd``) and
never take another input's step file for their own output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_fixtures import cli, field_a, make_artifact, square_mesh

from gnnops.graphs import read_mesh, write_mesh

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _folder(path: Path, names: list[str]) -> Path:
    path.mkdir()
    for n in names:
        m = square_mesh(5)
        m.point_data["a"] = field_a(m)
        write_mesh(m, path / n)
    return path


@pytest.mark.slow
def test_concurrent_predicts_into_one_folder_keep_every_summary_row(tmp_path) -> None:
    art = make_artifact(tmp_path / "model.pt")
    one = _folder(tmp_path / "one", [f"a{i}.vtu" for i in range(4)])
    two = _folder(tmp_path / "two", [f"b{i}.vtu" for i in range(4)])
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "gnnops.cli", "predict", str(art),
                               str(src), "--out", str(out), "--no-progress"], cwd=ROOT, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for src in (one, two)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = json.loads((out / "summary.json").read_text())
    assert sorted(Path(r["file"]).name for r in rows) == sorted(
        [f"a{i}.vtu" for i in range(4)] + [f"b{i}.vtu" for i in range(4)])
    assert {r["status"] for r in rows} == {"ok"}
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 9  # header + 8 rows
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no lock, no temporary


def _heat_rollout_artifact(path: Path) -> Path:
    from gnnops.models import build
    from gnnops.surrogate.artifact import save_artifact
    from gnnops.surrogate.stepping import step_input_names, trajectory_layout
    from gnnops.surrogate.surrogate import Surrogate

    torch.manual_seed(0)
    lay = trajectory_layout("heat", {"t_end": 0.1, "n_steps": 4})
    names = step_input_names(lay)
    model = build("meshgraphnet", in_channels=len(names), out_channels=1, edge_dim=3,
                  pos_dim=2, latent=8, depth=1, hidden_layers=1)
    recipe = {"kind": "mesh", "inputs": names, "input_dims": [1] * len(names),
              "features": [], "targets": ["u_increment"], "target_dims": [1],
              "problem": "heat", "rollout": lay, "train_stats": {}}
    norms = {"x.mean": torch.zeros(len(names)), "x.std": torch.ones(len(names)),
             "y.mean": torch.zeros(1), "y.std": torch.full((1,), 0.01)}
    sur = Surrogate(model, model_name="meshgraphnet", model_kwargs=model.config(),
                    recipe=recipe, normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem="heat", config={}, metrics={}))


def _heat_input(path: Path, scale: float) -> Path:
    m = square_mesh(5)
    m.point_data["u0"] = scale * np.sin(np.pi * m.points[:, 0])
    m.point_data["kappa"] = np.ones(len(m.points))
    m.point_data["f"] = np.zeros(len(m.points))
    return write_mesh(m, path)


def test_mesh_rollouts_skip_finished_inputs_and_never_take_step_files(tmp_path,
                                                                     capsys) -> None:
    art = _heat_rollout_artifact(tmp_path / "roll.pt")
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    _heat_input(inp / "a.vtu", 1.0)
    rc, stdout, _ = cli(["predict", art, inp / "a.vtu", "--out", out, "--no-progress"], capsys)
    assert rc == 0 and "predicted 1 of 1 files" in stdout
    a_step0 = read_mesh(out / "a_t000.vtu").point_data["u"].copy()
    # a new input whose name is a's first step file: it is predicted, a is skipped
    _heat_input(inp / "a_t000.vtu", 3.0)
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--no-progress"], capsys)
    assert rc == 0 and "predicted 1 of 2 files (0 failed, 1 skipped)" in stdout, stdout
    rows = {Path(r["file"]).name: r for r in json.loads((out / "summary.json").read_text())}
    assert rows["a.vtu"]["status"] == "skipped" and rows["a_t000.vtu"]["status"] == "ok"
    assert rows["a_t000.vtu"]["output"].endswith("a_t000.pvd")
    np.testing.assert_array_equal(read_mesh(out / "a_t000.vtu").point_data["u"], a_step0)
    np.testing.assert_allclose(read_mesh(out / "a_t000_t000.vtu").point_data["u"],
                               3.0 * np.sin(np.pi * read_mesh(inp / "a.vtu").points[:, 0]),
                               atol=1e-12)  # the new input's own initial state
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--no-progress"], capsys)
    assert rc == 0 and "predicted 0 of 2 files (0 failed, 2 skipped)" in stdout
