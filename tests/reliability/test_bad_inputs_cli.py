"""Bad input through the command line: one line on stderr, exit 2 (1 when only some files of
a batch fail), and no partial output. Also the numerical guards: a diverging run stops with
a clear message keeping its last good checkpoint; a NaN prediction is never written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from reliability_fixtures import (
    cli,
    field_a,
    make_artifact,
    square_mesh,
    write_mesh_dataset,
    write_run_config,
)

from gnnops.graphs import read_mesh, write_mesh
from gnnops.training.checkpoint import load_checkpoint


def _inputs(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    for i in range(n):
        m = square_mesh(5 + i)
        m.point_data["a"] = field_a(m)
        write_mesh(m, folder / f"m{i}.vtu")
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_predict_with_corrupt_artifact_writes_nothing(tmp_path, capsys) -> None:
    inp = _inputs(tmp_path / "in")
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04 broken zip")
    rc, out, err = cli(["predict", tmp_path / "model.pt", inp, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and out == ""
    assert len(err) == 1 and err[0].startswith("gnnops predict: error: cannot read model "
                                               "artifact") and "model.pt" in err[0]
    assert not (tmp_path / "out").exists()


def test_predict_unwritable_output_folder(tmp_path, capsys) -> None:
    art, inp = make_artifact(tmp_path / "model.pt"), _inputs(tmp_path / "in")
    (tmp_path / "afile").write_text("x")
    rc, _, err = cli(["predict", art, inp, "--out", tmp_path / "afile" / "out"], capsys)
    assert rc == 2 and len(err) == 1
    assert "cannot write to the output folder" in err[0] and "afile" in err[0]


def test_predict_usage_errors(tmp_path, capsys) -> None:
    art, inp = make_artifact(tmp_path / "model.pt"), _inputs(tmp_path / "in")
    cases = [
        (["--set", "a=lots"], "expected --set NAME=VALUE with a number (got 'a=lots')"),
        (["--set", "b=1"], "unknown input field 'b'; this model takes: a"),
        (["--shard", "3/2"], "expected --shard I/N with 0 <= I < N (got '3/2')"),
        (["--jobs", "0"], "expected --jobs >= 1 (got 0)"),
    ]
    for extra, message in cases:
        out = tmp_path / f"out{len(extra[1])}"
        rc, _, err = cli(["predict", art, inp, "--out", out, *extra], capsys)
        assert rc in (1, 2) and len(err) >= 1
        text = " ".join(err) + " ".join(
            r["error"] or "" for r in json.loads((out / "summary.json").read_text())
        ) if rc == 1 else err[0]
        assert message in text, (extra, text)
    rc, _, err = cli(["predict", art, tmp_path / "nothing*.vtu", "--out", tmp_path / "o"], capsys)
    assert rc == 2 and len(err) == 1 and "no input files matched" in err[0]


def test_partial_batch_failure_exit_1_and_no_partial_outputs(tmp_path, capsys) -> None:
    art, inp = make_artifact(tmp_path / "model.pt"), _inputs(tmp_path / "in", 4)
    (inp / "bad.vtu").write_bytes((inp / "m0.vtu").read_bytes()[:200])  # truncated
    m = square_mesh(5)
    m.point_data["a"] = field_a(m)
    m.points[3, 0] = np.nan
    write_mesh(m, inp / "nan.vtu")
    out = tmp_path / "out"
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--jobs", "2", "--no-progress"],
                        capsys)
    assert rc == 1
    assert "predicted 4 of 6 files (2 failed, 0 skipped)" in stdout
    rows = {Path(r["file"]).name: r for r in json.loads((out / "summary.json").read_text())}
    assert rows["bad.vtu"]["status"] == "error" and "MeshError" in rows["bad.vtu"]["error"]
    assert "NaN or inf coordinates" in rows["nan.vtu"]["error"]
    assert _files(out) == ["m0.vtu", "m1.vtu", "m2.vtu", "m3.vtu", "summary.csv",
                           "summary.json"]


def test_non_finite_prediction_is_flagged_not_written(tmp_path, capsys) -> None:
    # a valid artifact (positive, finite statistics) whose tiny input std overflows the
    # normalized inputs to inf, so every prediction is non-finite (a NaN std is refused at load)
    art = make_artifact(tmp_path / "model.pt",
                        normalizers={"x.std": torch.tensor([1e-40, 0.3, 0.3])})
    inp = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--no-progress"], capsys)
    assert rc == 1 and "(2 failed" in stdout
    rows = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in rows] == ["non_finite", "non_finite"]
    assert all("not written" in r["error"] for r in rows)
    assert any(f.startswith("non_finite_output: 25 nodes") for f in rows[0]["flags"])
    assert _files(out) == ["summary.csv", "summary.json"]


def test_generate_unknown_problem_and_key(tmp_path, capsys) -> None:
    p = tmp_path / "d.yaml"
    p.write_text("problem: darcyy\nn_train: 1\nn_val: 0\nn_test: 0\n")
    rc, _, err = cli(["generate", p, "--out", tmp_path / "ds", "--quiet"], capsys)
    assert rc == 2 and len(err) == 1 and "darcyy" in err[0] and "darcy" in err[0]
    assert not (tmp_path / "ds").exists()
    p.write_text("problem: darcy\nn_trian: 1\n")
    rc, _, err = cli(["generate", p, "--out", tmp_path / "ds"], capsys)
    assert rc == 2 and len(err) == 1 and "unknown config key 'n_trian'" in err[0]
    assert "did you mean 'n_train'?" in err[0]


def test_train_unknown_key_and_missing_data(tmp_path, capsys) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  name: meshgraphnet\n  nmae: x\n")
    rc, _, err = cli(["train", "--config", cfg], capsys)
    assert rc == 2 and len(err) == 1 and "model.nmae" in err[0]
    data = tmp_path / "empty"
    data.mkdir()
    write_run_config(cfg, data, tmp_path / "runs")
    rc, _, err = cli(["train", "--config", cfg, "-q"], capsys)
    assert rc == 2 and len(err) == 1 and "empty" in err[0]


def test_diverging_training_stops_with_clear_error_keeping_last_good_checkpoint(
        tmp_path, capsys) -> None:
    data = write_mesh_dataset(tmp_path / "data", 6)
    # epoch 1 at lr 5e-3, then the step schedule multiplies it by 1e30: epoch 2 diverges
    cfg = write_run_config(tmp_path / "c.yaml", data, tmp_path / "runs", epochs=4,
                           scheduler="step", step_epochs=1, gamma=1e30, grad_clip=0.0)
    threads = torch.get_num_threads()
    try:
        rc, _, err = cli(["train", "--config", cfg, "-q"], capsys)
    finally:
        torch.set_num_threads(threads)
    assert rc == 2 and len(err) == 1
    assert "training diverged at epoch 2" in err[0] and "lower optim.lr" in err[0]
    run = tmp_path / "runs" / "run"
    ck = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ck["epoch"] == 0
    assert all(bool(torch.isfinite(v).all()) for v in ck["model"].values())
    assert not (run / "model.pt").exists()
    assert _files(run / "checkpoints") == ["last.pt"]
    assert read_mesh(data / "s000.vtu").point_data["a"].shape == (25,)  # inputs untouched
