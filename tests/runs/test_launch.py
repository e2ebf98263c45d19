"""``train.processes``: ``python train.py`` starts its own CPU ranks (gnnops.runs.launch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gnnops.errors import ConfigError
from gnnops.runs import launch
from gnnops.training.config import load_config

ROOT = Path(__file__).resolve().parents[2]

CONFIG = {
    "name": "p", "seed": 1,
    "data": {"generate": {"problem": "darcy", "problem_options": {"kind": "fno"},
                          "resolutions": [0.2, 0.1], "train_resolution": 0, "n_train": 8,
                          "n_val": 2, "n_test": 2, "seed": 0},
             "cache_dir": "datasets", "batch_size": 4, "features": ["pos"]},
    "model": {"name": "meshgraphnet", "kwargs": {"latent": 16, "depth": 2, "hidden_layers": 1}},
    "optim": {"epochs": 3, "lr": 3e-3},
    "train": {"progress": False, "device": "cpu", "threads": 1},
    "eval": {"plots": False},
}


def _train_py(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    (cwd / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK")}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", "c.yaml",
                           *overrides], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**env, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})


@pytest.mark.skipif(launch.cpu_count() < 2, reason="needs 2 CPUs")
def test_two_processes_match_one(tmp_path) -> None:
    """The same global batches and gradient: 2 ranks give one process's training, and the
    parent generated the dataset before they started (one dataset, one report)."""
    two = _train_py(tmp_path, "train.processes=2", "name=two")
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training in 2 processes x 1 thread(s)" in two.stderr
    assert two.stdout.count("report:") == 1  # only rank 0 writes and prints
    one = _train_py(tmp_path, "name=one")
    assert one.returncode == 0, one.stderr[-3000:]
    r2 = json.loads((tmp_path / "runs" / "two" / "report.json").read_text())
    r1 = json.loads((tmp_path / "runs" / "one" / "report.json").read_text())
    assert r2["training"]["world_size"] == 2 and r1["training"]["world_size"] == 1
    for k in ("best_val_rel_l2", "final_train_loss"):
        assert r2["training"][k] == pytest.approx(r1["training"][k], rel=1e-4), k
    for a, b in zip(r2["rows"], r1["rows"], strict=True):
        assert a["rel_l2"] == pytest.approx(b["rel_l2"], rel=1e-4)
    assert len(list((tmp_path / "datasets").glob("darcy-*"))) == 1


@pytest.mark.skipif(launch.cpu_count() < 2, reason="needs 2 CPUs")
def test_rank_error_is_one_line_exit_2(tmp_path) -> None:
    """A user error inside the ranks (an input field the dataset does not hold, found when
    the ranks load it) reaches the user as one stderr line and exit code 2, no traceback."""
    proc = _train_py(tmp_path, "train.processes=2", "data.inputs=[latnt]")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "training in 2 processes" in proc.stderr  # the ranks had started
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("train.py: error:")
    assert "latnt" in errors[0] and not (tmp_path / "runs" / "p" / "model.pt").exists()


def test_processes_capped_by_cpus_and_batch(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(launch, "cpu_count", lambda: 3)
    cfg = load_config(overrides=["train.processes=8", "train.device=cpu",
                                 "data.batch_size=16"])
    assert launch.effective_processes(cfg) == 3
    cfg = load_config(overrides=["train.processes=8", "train.device=cpu", "data.batch_size=2"])
    assert launch.effective_processes(cfg) == 2  # a rank needs a graph of each global batch
    cfg = load_config(overrides=["train.processes=8", "train.device=cpu", "data.batch_size=1"])
    assert launch.effective_processes(cfg) == 1  # one process, in this one


def test_not_under_torchrun_nor_for_one_process(monkeypatch) -> None:
    cfg = load_config(overrides=["train.processes=2", "train.device=cpu"])
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launch.effective_processes(cfg) == 2
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun started us: it owns the ranks
    assert launch.effective_processes(cfg) == 1
    monkeypatch.delenv("WORLD_SIZE")
    assert launch.effective_processes(load_config(overrides=["train.processes=1"])) == 1
    with pytest.raises(ConfigError, match="train.processes"):
        load_config(overrides=["train.processes=0"])
