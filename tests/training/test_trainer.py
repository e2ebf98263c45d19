"""Tests of gnnops.training.trainer: determinism, resume, NaN guard, bf16, early stopping."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from training_fixtures import ToyGNN, make_graphs

from gnnops.errors import GnnopsError
from gnnops.models import MODELS
from gnnops.surrogate.artifact import load_artifact
from gnnops.surrogate.surrogate import Surrogate
from gnnops.training.checkpoint import load_checkpoint
from gnnops.training.config import load_config
from gnnops.training.trainer import train

KEYS = ("best_val_rel_l2", "final_train_loss", "final_val_rel_l2", "best_epoch")


def _cfg(tmp_path, name="run", *extra):
    return load_config(overrides=[
        "model.name=toy", "model.kwargs={hidden: 16}", "data.generate=null",
        f"out_dir={tmp_path}", f"name={name}", "optim.epochs=4", "data.batch_size=3",
        "optim.lr=0.01", "train.device=cpu", "train.noise_std=0.05", "seed=11", *extra])


def test_same_seed_same_metrics_and_run_folder(toy_model, tmp_path) -> None:
    a = train(_cfg(tmp_path, "a"), train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    b = train(_cfg(tmp_path, "b"), train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    assert {k: a.metrics[k] for k in KEYS} == {k: b.metrics[k] for k in KEYS}
    assert a.metrics["best_val_rel_l2"] < 1.0 and a.metrics["epochs_run"] == 4
    run = tmp_path / "a"
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "metrics.csv", "checkpoints",
                                               "model.pt"}
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert min(float(r["val_rel_l2"]) for r in rows) == a.metrics["best_val_rel_l2"]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3
    art = load_artifact(a.artifact_path)
    assert art.metrics["best_val_rel_l2"] == a.metrics["best_val_rel_l2"]
    assert art.recipe.inputs == ["x0"] and art.config["name"] == "a"
    c = train(_cfg(tmp_path, "c", "seed=12"), train_data=make_graphs(8, 0),
              val_data=make_graphs(4, 1))
    assert c.metrics["best_val_rel_l2"] != a.metrics["best_val_rel_l2"]


def test_artifact_holds_best_val_weights(toy_model, tmp_path) -> None:
    res = train(_cfg(tmp_path), train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    sur = Surrogate.from_artifact(load_artifact(res.artifact_path))
    from gnnops.training.distributed import DistInfo
    from gnnops.training.loop import validate

    val = [sur.prepare(g) for g in make_graphs(4, 1)]
    assert validate(sur, val, DistInfo(), batch_size=3) == pytest.approx(
        res.metrics["best_val_rel_l2"], rel=1e-6)


class _Killed(Exception):
    pass


def test_kill_and_resume_matches_uninterrupted(toy_model, tmp_path) -> None:
    full = train(_cfg(tmp_path, "full"), train_data=make_graphs(8, 0),
                 val_data=make_graphs(4, 1))

    def kill(epoch, row):
        if epoch == 1:
            raise _Killed

    with pytest.raises(_Killed):
        train(_cfg(tmp_path, "cut"), train_data=make_graphs(8, 0), val_data=make_graphs(4, 1),
              on_epoch_end=kill)
    assert not (tmp_path / "cut" / "model.pt").exists()
    res = train(_cfg(tmp_path, "cut"), resume=True, train_data=make_graphs(8, 0),
                val_data=make_graphs(4, 1))
    for k in KEYS:
        assert res.metrics[k] == pytest.approx(full.metrics[k], rel=1e-6, abs=1e-9)
    rows = list(csv.DictReader(open(tmp_path / "cut" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    a, b = load_artifact(full.artifact_path), load_artifact(res.artifact_path)
    for k, v in a.state_dict.items():
        torch.testing.assert_close(b.state_dict[k], v, rtol=1e-6, atol=1e-7)
    with pytest.raises(GnnopsError, match="cannot resume.*not found"):
        train(_cfg(tmp_path, "never"), resume=True, train_data=make_graphs(8, 0))


class _NaNAfter(ToyGNN):
    """Returns NaN from the 4th training forward on (epoch 2 with 3 steps per epoch)."""

    calls = 0

    def forward(self, data):
        out = super().forward(data)
        if self.training:
            type(self).calls += 1
            if type(self).calls >= 4:
                return out * float("nan")
        return out


def test_nan_loss_stops_and_keeps_last_good_checkpoint(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(MODELS, "toy", _NaNAfter)
    _NaNAfter.calls = 0
    with pytest.raises(GnnopsError, match=r"diverged at epoch 2, step 1: the loss is nan"):
        train(_cfg(tmp_path, "nan"), train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    ck = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert ck["epoch"] == 0
    assert all(bool(torch.isfinite(v).all()) for v in ck["model"].values())
    assert len(list(csv.DictReader(open(tmp_path / "nan" / "metrics.csv")))) == 1


def test_bf16_autocast_runs_and_differs_slightly(toy_model, tmp_path) -> None:
    fp32 = train(_cfg(tmp_path, "fp32", "optim.epochs=2"), train_data=make_graphs(8, 0),
                 val_data=make_graphs(4, 1))
    bf16 = train(_cfg(tmp_path, "bf16", "optim.epochs=2", "train.bf16=true"),
                 train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    a, b = fp32.metrics["final_train_loss"], bf16.metrics["final_train_loss"]
    assert math.isfinite(b) and a != b  # bf16 matmuls really ran
    assert b == pytest.approx(a, rel=0.05)


def test_early_stopping_counts_patience(toy_model, tmp_path) -> None:
    # lr so small the weights cannot change: validation never improves after epoch 1
    res = train(_cfg(tmp_path, "es", "optim.lr=1e-30", "optim.patience=2", "optim.epochs=10",
                     "train.noise_std=0.0"),
                train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    assert res.metrics["stopped_early"] is True
    assert res.metrics["epochs_run"] == 3 and res.metrics["best_epoch"] == 1


def test_val_split_from_train_when_missing(toy_model, tmp_path) -> None:
    res = train(_cfg(tmp_path, "split", "data.val_fraction=0.25", "optim.epochs=1"),
                train_data=make_graphs(8, 0))
    assert (res.metrics["n_train"], res.metrics["n_val"]) == (6, 2)


def test_training_logs_one_line_per_epoch_into_a_redirected_file(tmp_path) -> None:
    """Like ``nohup train.py > log 2>&1``: no terminal, still one INFO line per epoch."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from training_fixtures import ToyGNN, make_graphs\n"
        "from gnnops.models import MODELS; MODELS['toy'] = ToyGNN\n"
        "from gnnops._log import configure_logging; configure_logging()\n"
        "from gnnops.training.config import load_config\n"
        "from gnnops.training.trainer import train\n"
        "cfg = load_config(overrides=['model.name=toy', 'model.kwargs={hidden: 8}',\n"
        "    'data.generate=null', 'name=r',\n"
        "    'out_dir=' + sys.argv[2], 'optim.epochs=3', 'data.batch_size=3',\n"
        "    'train.device=cpu'])\n"
        "train(cfg, train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))\n")
    log = tmp_path / "train.log"
    with open(log, "w") as fh:
        subprocess.run([sys.executable, "-c", script, str(tests), str(tmp_path)], check=True,
                       stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    lines = [ln for ln in log.read_text().splitlines() if " epoch " in ln]
    rows = list(csv.DictReader(open(tmp_path / "r" / "metrics.csv")))
    assert len(lines) == 3 and len(rows) == 3
    for k, (ln, row) in enumerate(zip(lines, rows, strict=True)):
        assert f"INFO epoch {k + 1}/3 train_loss {float(row['train_loss']):.4g} " in ln
        assert f"val_rel_l2 {float(row['val_rel_l2']):.4g} " in ln and " eta " in ln
    assert "\r" not in log.read_text()  # no progress bar off a terminal


def test_training_logs_through_logging_not_print(toy_model, tmp_path, caplog, capsys) -> None:
    caplog.set_level("INFO", logger="gnnops")
    train(_cfg(tmp_path, "x", "optim.epochs=2", "train.log_every=2"),
          train_data=make_graphs(8, 0), val_data=make_graphs(4, 1))
    msgs = [r.getMessage() for r in caplog.records if r.name == "gnnops.training.trainer"]
    assert [m.split(" train_loss")[0] for m in msgs] == ["epoch 2/2"]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("reuse", [True, False])
def test_train_reuse_memory_sets_the_allocator_only_when_asked(toy_model, tmp_path, monkeypatch,
                                                               reuse) -> None:
    import contextlib

    import gnnops.training.trainer as T

    calls = []

    @contextlib.contextmanager
    def held():
        calls.append("on")
        yield True
        calls.append("off")

    monkeypatch.setattr(T, "freed_memory_reused", held)
    res = train(_cfg(tmp_path, "m", f"train.reuse_memory={str(reuse).lower()}",
                     "optim.epochs=1"), train_data=make_graphs(4, 0), val_data=make_graphs(2, 1))
    # held for the run and given back when train() returns
    assert res.metrics["epochs_run"] == 1 and calls == (["on", "off"] if reuse else [])
